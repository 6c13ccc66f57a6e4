"""Train page (AppTest): prerequisites, a real short run followed to the end, failed runs."""

import time
from pathlib import Path

from app_helpers import app, errors, finished_run, texts

from tlcore.runs import run_files, run_info, store

SMALL = {
    "backbone": "small_cnn",
    "weights": "none",
    "strategy": "scratch",
    "training": {"image_size": 32, "epochs": 2, "batch_size": 8},
}


def test_without_a_dataset_it_says_where_to_go() -> None:
    at = app("train")
    assert not at.exception
    assert "Choose your images first." in texts(at)
    assert "No training yet" in texts(at)


def test_a_failed_run_shows_its_error_and_what_to_do(tiny_dataset: Path) -> None:
    run_id = finished_run(
        tiny_dataset,
        status="failed",
        error="Out of memory while training: use a smaller batch size.",
    )
    at = app("train", data_path=str(tiny_dataset), run_id=run_id, **SMALL)
    assert not at.exception
    assert errors(at) == ["Out of memory while training: use a smaller batch size."]
    assert "What to try" in texts(at)


def test_an_impossible_setting_is_an_error_not_an_exception(tiny_dataset: Path) -> None:
    at = app(
        "train",
        data_path=str(tiny_dataset),
        backbone="small_cnn",
        weights="none",
        strategy="scratch",
        training={"image_size": 32, "epochs": 0},
    )
    assert not at.exception
    assert errors(at) == ["Train for at least 1 epoch (got 0). Fix it on the Model page."]


def test_start_a_run_and_see_it_finish(tiny_dataset: Path) -> None:
    at = app("train", data_path=str(tiny_dataset), **SMALL)
    at.button(key="start_train").click().run()
    assert not at.exception and errors(at) == []
    run_id = at.session_state["run_id"]
    deadline = time.time() + 150
    while run_info.load_run(run_id).active and time.time() < deadline:
        time.sleep(2)
    assert run_info.load_run(run_id).status == "finished"
    at.run()
    assert not at.exception
    assert next(s.value for s in at.subheader).endswith(" Finished")
    labels = [m.label for m in at.metric]
    assert labels[0] == "Accuracy on the test images"


def test_stop_button_stops_the_run(tiny_dataset: Path) -> None:
    long = {
        **SMALL,
        "training": {
            "image_size": 32,
            "epochs": 200,
            "batch_size": 4,
            "early_stopping_patience": 0,
        },
    }
    at = app("train", data_path=str(tiny_dataset), **long)
    at.button(key="start_train").click().run()
    run_id = at.session_state["run_id"]
    deadline = time.time() + 120
    while run_info.load_run(run_id).epochs_run < 1 and time.time() < deadline:
        time.sleep(1)
    at.run()
    assert at.button(key="stop_run").label == "Stop"
    at.button(key="stop_run").click().run()
    assert not at.exception
    while run_info.load_run(run_id).active and time.time() < deadline:
        time.sleep(1)
    assert run_info.load_run(run_id).status == "stopped"
    at.run()
    assert next(s.value for s in at.subheader).endswith(
        "Stopped by you (the best model so far was kept)"
    )


def test_reuse_a_runs_settings(tiny_dataset: Path) -> None:
    run_id = finished_run(tiny_dataset)
    at = app("train", run_id=run_id)
    at.button(key="reuse_run").click().run()
    assert not at.exception
    assert at.session_state["data_path"] == str(tiny_dataset)
    assert (at.session_state["backbone"], at.session_state["strategy"]) == ("small_cnn", "scratch")
    assert at.session_state["training"]["image_size"] == 32


def test_offline_start_explains_and_starts_nothing(tiny_dataset: Path, monkeypatch) -> None:
    monkeypatch.setenv("TRANSFERLAB_WEIGHTS_BASE_URL", "http://127.0.0.1:9/")
    at = app(
        "train",
        data_path=str(tiny_dataset),
        backbone="mobilenet_v2",
        weights="imagenet",
        strategy="feature-extraction",
        training={"image_size": 96},
    )
    assert "downloaded first" in texts(at)
    at.button(key="start_train").click().run()
    assert not at.exception
    assert len(errors(at)) == 1 and "could not be downloaded" in errors(at)[0]
    assert run_info.list_runs() == []


def test_live_view_of_a_two_phase_run(tiny_dataset: Path) -> None:
    import subprocess
    import sys

    from tlcore import fsutil
    from tlcore.config import FreezeConfig, TrainConfig

    # A stand-in worker: any live process whose command line mentions tlcore.
    fake = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "tlcore"])
    try:
        info = store.create_run(
            TrainConfig(
                data=str(tiny_dataset),
                backbone="small_cnn",
                weights="none",
                freeze=FreezeConfig(strategy="fine-tune"),  # two phases need layers to retrain
                two_phase=True,
                head_epochs=2,
                epochs=10,
                image_size=32,
            )
        )
        run_files.update_status(info.path, status="running", pid=fake.pid)
        now = time.time()  # a minute an epoch so far; the third is half done
        batch = {"type": "batch", "phase": "fine-tune", "epoch": 3, "epochs": 10, "batches": 4}
        for event in (
            {"type": "start", "time": now - 210},
            {"type": "phase", "phase": "head", "epochs": 2, "first_epoch": 1, "time": now - 200},
            *(
                {
                    "type": "epoch",
                    "phase": "head",
                    "epoch": e,
                    "epochs": 2,
                    "loss": 1.0,
                    "accuracy": 0.5,
                    "val_loss": 1.1,
                    "val_accuracy": 0.4,
                    "time": now - 200 + 60 * e,
                }
                for e in (1, 2)
            ),
            {
                "type": "phase",
                "phase": "fine-tune",
                "epochs": 10,
                "first_epoch": 3,
                "time": now - 70,
            },
            {**batch, "batch": 1, "loss": 0.9, "accuracy": 0.6, "eta_seconds": 9, "time": now - 40},
            {**batch, "batch": 2, "loss": 0.9, "accuracy": 0.6, "eta_seconds": 9, "time": now - 10},
        ):
            fsutil.append_jsonl(info.path / "events.jsonl", event)
        at = app("train", run_id=info.run_id)
        assert not at.exception
        assert next(s.value for s in at.subheader).endswith(" Training")
        bar = at.get("progress")[0]
        # 30 s a batch: 50 s to the end of this epoch, then 2 to 7 more epochs of 2 to 3 min
        # (early stopping may end it 3 epochs after the best): not the 9 s the worker said.
        assert bar.proto.text == (
            "Phase 2, retraining the chosen layers · Epoch 3 of 10 · batch 2 of 4 · 4-26 min left"
        )
        # The sidebar says the very same (AppTest keeps the sidebar of a first run only).
        sidebar = "\n".join(m.value for m in app(run_id=info.run_id).sidebar.markdown)
        assert "— epoch 3 of 10, 4-26 min left" in sidebar
        assert bar.proto.value == 25  # (2 + 2/4) of 10 epochs
        assert at.button(key="stop_run").label == "Stop"
    finally:
        fake.kill()
        fake.wait()


def test_metrics_measured_on_the_training_images_say_so(tiny_dataset: Path) -> None:
    from tlcore import fsutil

    run_id = finished_run(tiny_dataset)
    fsutil.atomic_write_json(
        run_files.run_path(run_id) / "metrics.json",
        {
            "split": "train",
            "accuracy": 1.0,
            "classes": ["a", "b"],
            "confusion_matrix": [[1, 0], [0, 1]],
        },
    )
    at = app("train", run_id=run_id)
    assert not at.exception
    assert "this accuracy is measured on the images the model trained on" in texts(at)
    assert next(m.label for m in at.metric) == "Accuracy on the training images"


def test_starting_while_a_run_trains_queues_it_and_says_so(tiny_dataset: Path) -> None:
    import fcntl
    import subprocess
    import sys

    from run_helpers import tiny_config

    from tlcore.runs import queue

    busy = store.create_run(tiny_config(tiny_dataset, name="the current one"))
    fake = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "tlcore"])
    slot = open(queue._dir("slots") / "slot-0.lock", "a")  # noqa: SIM115
    try:
        fcntl.flock(slot, fcntl.LOCK_EX)  # the worker of the current run holds the slot
        run_files.update_status(busy.path, status="running", pid=fake.pid)
        at = app("train", data_path=str(tiny_dataset), **SMALL)
        assert "a new one waits in the queue and starts when it ends" in texts(at)
        assert at.button(key="start_train").label == "▶️ Queue another run"
        at.button(key="start_train").click().run()
        assert not at.exception and errors(at) == []
        run_id = at.session_state["run_id"]
        assert run_id != busy.run_id and run_info.load_run(run_id).status == "queued"
        assert (
            "Queued: starts when the current run ends ('the current one' first); one run "
            "trains at a time." in texts(at)
        )
        assert queue.waiting_run_ids() == [run_id]
    finally:
        slot.close()
        fake.kill()
        fake.wait()


def test_a_clicked_confusion_matrix_cell_gives_its_images(tiny_dataset: Path) -> None:
    from tlcore import fsutil
    from ui import run_results

    run_id = finished_run(tiny_dataset)
    classes = ["blue", "green", "red"]
    # A click on the marker of row "green", column "red" (index 1 * 3 + 2).
    event = {"selection": {"points": [{"curve_number": 1, "point_index": 5}]}}
    assert run_results.clicked_cell(event, classes) == ("green", "red")
    assert run_results.clicked_cell({"selection": {"points": []}}, classes) is None
    assert run_results.clicked_cell(None, classes) is None
    metrics = {"misclassified": [{"path": "g1.png", "true": "green", "predicted": "red",
                                  "confidence": 0.6}]}  # fmt: skip
    # An older run keeps only its mistakes: those cells still open, the diagonal cannot.
    assert [im["path"] for im in run_results.cell_images(run_id, metrics, "green", "red")] == [
        "g1.png"
    ]
    assert run_results.cell_images(run_id, metrics, "green", "green") is None
    answer = {"true": "green", "predicted": "green", "top": [["green", 0.9], ["red", 0.1]]}
    fsutil.atomic_write_json(
        run_files.run_path(run_id) / "predictions.json",
        {
            "split": "test",
            "classes": classes,
            "images": [
                {**answer, "path": "g2.png", "probability": 0.7},
                {**answer, "path": "g3.png", "probability": 0.9},
                {"path": "r1.png", "true": "red", "predicted": "green", "probability": 0.5},
            ],
        },
    )
    got = run_results.cell_images(run_id, metrics, "green", "green")
    assert [im["path"] for im in got] == ["g3.png", "g2.png"]  # most confident first
    assert run_results.cell_images(run_id, metrics, "blue", "blue") == []


def test_a_solved_head_shows_what_was_measured_not_curves(tiny_dataset: Path) -> None:
    from run_helpers import tiny_config

    from tlcore.config import SplitConfig
    from tlcore.runs.job import train

    config = tiny_config(
        tiny_dataset, "feature-extraction", solve_head=True, cross_validate=True, cv_folds=3
    ).replace(
        split=SplitConfig(val_fraction=0.0, test_fraction=0.0), epochs=10, head_features="auto"
    )
    info = train(config, store.create_run(config).path)
    assert info.status == "finished", info.error
    metrics = run_files.read_metrics(info.path)
    at = app("train", run_id=info.run_id)
    assert not at.exception and errors(at) == []
    assert [c for c in at.get("plotly_chart") if "curves" in str(c.proto.id)] == []
    folds = " · ".join(f"{a:.0%}" for a in metrics["fold_accuracies"])
    assert (
        f"**Accuracy per fold** (3 folds, each scored on images its model never saw): {folds}"
        in (texts(at))
    )
    chosen = metrics["head_solver"]["C"]
    assert f"**Regularisation chosen:** C = {chosen:g}" in texts(at)
    # The C / log-loss table is the honest detail, folded away under plain words.
    (details,) = [e for e in at.expander if e.label.startswith("How the head's regular")]
    assert details.label == "How the head's regularisation was chosen (details)"
    assert not details.proto.expanded
    assert len(details.dataframe) == 1
    assert "was chosen by trying" in texts(at)
    # No curves, so the diagnosis does not speak of them; it says what was measured.
    diagnosis = [str(m.value) for m in [*at.success, *at.warning]]
    assert diagnosis and not any("curve" in m for m in diagnosis)
    if metrics["diagnosis"][0]["kind"] == "good":
        assert "in the cross-validation" in metrics["diagnosis"][0]["message"]
    table = at.dataframe[0].value
    assert list(table["chosen"]).count("✓") == 1
    assert len(table) == len(metrics["head_solver"]["scores"])
    reason = metrics["head_solver"]["feature_set"]["reason"]
    assert f"**What the head reads:** {reason} Cross-validated on the training images: " in texts(
        at
    )
    assert texts(at).count(reason) == 1  # said once, not again in the caption below
    assert "Epoch" not in texts(at)


def test_a_solved_head_being_cross_validated_never_says_epoch_1_of_10(tiny_dataset: Path) -> None:
    import subprocess
    import sys

    from run_helpers import tiny_config

    from tlcore import fsutil

    fake = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "tlcore"])
    try:
        config = tiny_config(
            tiny_dataset, "feature-extraction", solve_head=True, cross_validate=True, epochs=10
        )
        info = store.create_run(config)
        run_files.update_status(info.path, status="running", pid=fake.pid)
        now = time.time()
        message = "Cross-validating: training on 4 of 5 parts of the images (fold 2/5)."
        for event in (
            {"type": "start", "time": now - 100, "elapsed": 0.0},
            {"type": "phase", "phase": "head", "epochs": 1, "first_epoch": 1, "head_solver": True,
             "learning_rate": None, "time": now - 90},
            {"type": "head", "C": 1.0, "folds": 3, "cv_accuracy": 0.9, "cv_accuracy_std": 0.05,
             "scores": [{"C": 1.0, "log_loss": 0.3, "accuracy": 0.9, "accuracy_std": 0.05}],
             "seconds": 2.0, "time": now - 76},
            {"type": "epoch", "phase": "head", "epoch": 1, "epochs": 1, "loss": 0.2,
             "accuracy": 1.0, "val_loss": None, "learning_rate": None, "seconds": 2.0,
             "time": now - 75},
            {"type": "crossval", "stage": "cross-validate", "fold": 1, "folds": 5,
             "message": message.replace("2/5", "1/5"), "time": now - 70},
            {"type": "crossval", "stage": "cross-validate", "fold": 2, "folds": 5,
             "message": message, "time": now - 10},
        ):  # fmt: skip
            fsutil.append_jsonl(info.path / "events.jsonl", event)
        at = app("train", run_id=info.run_id)
        assert not at.exception
        bar = at.get("progress")[0]
        # A minute a fold: 50 s of this one and three more to go.
        assert bar.proto.text == f"{message} · about 4 min left"
        assert "Epoch" not in bar.proto.text and at.get("plotly_chart") == []
        assert "**Regularisation chosen:** C = 1" in texts(at)
        sidebar = "\n".join(m.value for m in app(run_id=info.run_id).sidebar.markdown)
        assert "measuring the accuracy (fold 2 of 5), about 4 min left" in sidebar
    finally:
        fake.kill()
        fake.wait()


def test_a_run_being_started_says_what_happens_and_is_named(tiny_dataset: Path) -> None:
    from run_helpers import tiny_config

    from tlcore import fsutil

    info = store.create_run(tiny_config(tiny_dataset, name="first try"))
    assert info.status == "queued"  # nothing before it: its training process is starting
    at = app("train", data_path=str(tiny_dataset), run_id=info.run_id, **SMALL)
    assert not at.exception
    assert next(s.value for s in at.subheader) == ":material/rocket_launch: Starting"
    picker = at.selectbox(key=f"train_run_pick_{info.run_id}_queued")
    label = picker.format_func(picker.value)
    assert label.startswith("first try · Small CNN (from scratch), full fine-tune · ")
    assert label.endswith(" — starting")
    bar = at.get("progress")[0]
    assert bar.proto.text == "Starting the training process (loading TensorFlow)…"
    assert "No training yet" not in texts(at) and "aiting to start" not in texts(at) + label
    # The images are decoded; the network is being built (no event says so yet).
    import subprocess
    import sys

    fake = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "tlcore"])
    try:
        run_files.update_status(info.path, status="running", pid=fake.pid)
        fsutil.append_jsonl(
            info.path / "events.jsonl",
            {"type": "prepare", "stage": "decode", "done": 36, "total": 36, "time": time.time()},
        )
        at = app("train", data_path=str(tiny_dataset), run_id=info.run_id, **SMALL)
        assert at.get("progress")[0].proto.text == "Images ready; building the network…"
    finally:
        fake.kill()
        fake.wait()


def test_no_training_yet_stands_above_the_slow_part_so_start_clears_it_at_once(
    tiny_dataset: Path,
) -> None:
    # A browser shows an element until the script draws its place again: pressing Start
    # left 'No training yet' on screen for 1.1 s below the settings (measured with
    # Chromium); drawn above them, it went within 0.06 s.
    at = app("train", data_path=str(tiny_dataset), **SMALL)
    order = list(at.main.children.values())
    notice = next(
        i for i, e in enumerate(order) if "No training yet" in str(getattr(e, "value", ""))
    )
    settings = next(i for i, e in enumerate(order) if type(e).__name__ == "Block")
    assert notice < settings
