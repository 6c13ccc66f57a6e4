"""Short real trainings (small_cnn, 32 px, random weights) and the best-epoch keeper."""

import signal
from pathlib import Path

import numpy as np
import pytest
from conftest import write_class_images
from run_helpers import RUN_FILES, events_of, tiny_config, train_tiny

from tlcore import fsutil
from tlcore.config import FreezeConfig
from tlcore.errors import RunError
from tlcore.models.model_files import load_model_safely
from tlcore.runs import run_files, run_info, store
from tlcore.runs.job import require_finished_model, train
from tlcore.training.batches import class_weights
from tlcore.training.checkpoint import BestKeeper

HEAD_PARAMS = 128 * 3 + 3  # small_cnn's 128 pooled features -> 3 classes


@pytest.mark.parametrize(
    ("strategy", "fast_path"),
    [
        ("feature-extraction", "pool"),
        ("fine-tune", "block3_pool"),
        ("full", None),
        ("scratch", None),
    ],
)
def test_each_strategy_finishes_with_the_exact_run_folder(
    tiny_dataset: Path, strategy: str, fast_path: str | None
) -> None:
    info = train_tiny(tiny_dataset, strategy)
    assert (info.status, info.error, info.epochs_run) == ("finished", None, 2)
    assert {p.name for p in info.path.iterdir()} == RUN_FILES
    assert (info.path / "labels.txt").read_text() == "blue\ngreen\nred\n"
    spec = fsutil.read_json(info.path / "spec.json")
    assert spec["dataset"]["classes"] == ["blue", "green", "red"]
    assert spec["dataset"]["fingerprint"]
    n_test = len(spec["split"]["test"])
    events = events_of(info)
    kinds = [e["type"] for e in events]
    assert kinds[0] == "start" and events[-1] == {**events[-1], "type": "end", "status": "finished"}
    assert "error" not in events[-1]
    phases = [e for e in events if e["type"] == "phase"]
    assert [(p["phase"], p["fast_path"], p["learning_rate"]) for p in phases] == [
        ("train", fast_path, 0.001)
    ]
    epochs = [e for e in events if e["type"] == "epoch"]
    assert [e["epoch"] for e in epochs] == [1, 2]
    assert all(e["val_loss"] is not None and e["seconds"] >= 0 for e in epochs)
    last_batches = [e for e in events if e["type"] == "batch" and e["batch"] == e["batches"]]
    assert [b["epoch"] for b in last_batches] == [1, 2]
    assert ("decode", 36) in {(e["stage"], e["done"]) for e in events if e["type"] == "prepare"}
    metrics = run_files.read_metrics(info.run_id)
    assert metrics["split"] == "test" and metrics["epochs_run"] == 2
    assert sum(map(sum, metrics["confusion_matrix"])) == n_test
    # Every test image's answer, so each confusion-matrix cell can be opened.
    answers = fsutil.read_json(info.path / "predictions.json")
    assert answers["split"] == "test" and len(answers["images"]) == n_test
    classes = answers["classes"]
    for i, row in enumerate(metrics["confusion_matrix"]):
        for j, count in enumerate(row):
            cell = [
                a
                for a in answers["images"]
                if (a["true"], a["predicted"]) == (classes[i], classes[j])
            ]
            assert len(cell) == count
    assert metrics["trainable_params"] == info.trainable_params
    if strategy == "feature-extraction":
        assert info.trainable_params == HEAD_PARAMS
    else:
        assert info.trainable_params > HEAD_PARAMS
    if strategy in ("full", "scratch"):  # these learn the colours within 2 epochs
        assert metrics["test_accuracy"] == 1.0 and info.best_val_accuracy == 1.0


def test_custom_plan_trains_above_the_frozen_layers_on_cached_outputs(tiny_dataset: Path) -> None:
    frozen = (
        "block1_conv",
        "block1_norm",
        "block2_conv",
        "block2_norm",
        "block3_conv",
        "block3_norm",
    )
    info = train_tiny(tiny_dataset, freeze=FreezeConfig("custom", frozen_layers=frozen))
    assert info.status == "finished"
    phase = next(e for e in events_of(info) if e["type"] == "phase")
    assert phase["fast_path"] == "block3_pool"  # right below block4_conv, the first to train
    model = load_model_safely(info.path / "model.keras")
    trainable = {w.path.split("/")[0] for w in model.get_layer("backbone").trainable_weights}
    assert trainable == {"block4_conv", "block4_norm"}  # GroupNorm has no BatchNorm rule


def test_two_phase_trains_the_head_then_fine_tunes_at_the_lower_rate(tiny_dataset: Path) -> None:
    info = train_tiny(tiny_dataset, "fine-tune", two_phase=True, head_epochs=1, epochs=3)
    assert info.status == "finished" and info.epochs_run == 3
    events = events_of(info)
    phases = [
        (e["phase"], e["first_epoch"], e["epochs"], e["learning_rate"], e["fast_path"])
        for e in events
        if e["type"] == "phase"
    ]
    assert phases == [("head", 1, 1, 0.001, "pool"), ("fine-tune", 2, 3, 1e-05, "block3_pool")]
    assert [(e["phase"], e["epoch"]) for e in events if e["type"] == "epoch"] == [
        ("head", 1),
        ("fine-tune", 2),
        ("fine-tune", 3),
    ]


def test_missing_dataset_ends_failed_with_the_message(tmp_path: Path) -> None:
    info = train_tiny(tmp_path / "nowhere")
    assert info.status == "failed"
    assert "nowhere" in info.error
    assert {p.name for p in info.path.iterdir()} == {"spec.json", "status.json", "events.jsonl"}
    assert events_of(info)[-1]["status"] == "failed"
    assert run_files.read_status(info.run_id)["ended"] is not None


def test_nan_loss_ends_failed_with_the_message(tiny_dataset: Path) -> None:
    # VGG16 has no normalisation layers, so this rate blows it up; the small CNN's
    # GroupNorm rescales every block and stays finite.
    info = train_tiny(
        tiny_dataset,
        optimizer="sgd",
        learning_rate=9.9,
        dropout=0.0,
        backbone="vgg16",
        batch_size=32,
        epochs=3,
    )
    assert info.status == "failed"
    assert info.error == (
        "The loss became NaN (not a number) at epoch 3, batch 1: the "
        "learning rate is probably too high; try 10x lower."
    )
    assert info.epochs_run == 2
    epochs = [e for e in events_of(info) if e["type"] == "epoch"]
    assert epochs[0]["val_loss"] > 1e6  # already diverging
    assert epochs[1]["val_loss"] is None  # NaN already on validation: not an epoch to keep
    # epoch 1 (finite) was kept as the best so far; no test evaluation after a failure
    assert {p.name for p in info.path.iterdir()} == RUN_FILES - {"metrics.json", "predictions.json"}


def test_stop_flag_mid_training_keeps_best_model_and_ends_stopped(tiny_dataset: Path) -> None:
    config = tiny_config(tiny_dataset, epochs=50)
    info = store.create_run(config)

    def stop_after_first_epoch(event: dict) -> None:
        if event["type"] == "epoch":
            (info.path / run_files.STOP_FLAG).touch()

    handler = signal.getsignal(signal.SIGINT)
    final = train(config, info.path, echo=stop_after_first_epoch)
    assert signal.getsignal(signal.SIGINT) is handler  # restored after training
    assert (final.status, final.error) == ("stopped", None)
    assert 1 <= final.epochs_run <= 2  # stops after the batch under way
    assert {p.name for p in final.path.iterdir()} == RUN_FILES | {run_files.STOP_FLAG}
    assert run_files.read_metrics(final.run_id)["epochs_run"] == final.epochs_run
    assert events_of(final)[-1]["status"] == "stopped"


def test_a_queued_run_stopped_before_its_turn_never_trains(tiny_dataset: Path) -> None:
    config = tiny_config(tiny_dataset)
    info = store.create_run(config)
    (info.path / run_files.STOP_FLAG).touch()
    final = train(config, info.path)
    assert (final.status, final.epochs_run) == ("stopped", 0)
    assert [e["type"] for e in events_of(final)] == ["start", "end"]


def _stop_when(stage: str, run_dir: Path, seen: list[dict]):
    """An ``echo`` that presses Stop at the first progress event of ``stage``."""

    def echo(event: dict) -> None:
        if event["type"] == "prepare" and event.get("stage") == stage:
            seen.append(event)
            (run_dir / run_files.STOP_FLAG).touch()

    return echo


@pytest.mark.parametrize("cache", [True, False])
def test_stop_while_images_decode_ends_stopped_before_decoding_them_all(
    tmp_path: Path, cache: bool
) -> None:
    data = write_class_images(tmp_path / "many", per_class=100)  # 300 images
    config = tiny_config(data, use_cache=cache)
    info = store.create_run(config)
    seen: list[dict] = []
    final = train(config, info.path, echo=_stop_when("decode", info.path, seen))
    assert (final.status, final.error, final.epochs_run) == ("stopped", None, 0)
    assert seen[-1]["done"] < seen[-1]["total"] == 300  # stopped at the first progress
    cached = list(store.workspace.cache_dir("images").rglob("*.rgb"))
    assert len(cached) < 100 if cache else cached == []  # not all 300: decoding stopped
    assert [e["type"] for e in events_of(final)][-1] == "end"
    assert not (info.path / "model.keras").exists()


def test_stop_while_features_are_computed_ends_stopped_without_computing_them_all(
    tmp_path: Path,
) -> None:
    data = write_class_images(tmp_path / "many", per_class=100)
    config = tiny_config(data, "feature-extraction", batch_size=8)
    info = store.create_run(config)
    seen: list[dict] = []
    final = train(config, info.path, echo=_stop_when("features", info.path, seen))
    assert (final.status, final.error, final.epochs_run) == ("stopped", None, 0)
    assert seen[-1]["done"] < seen[-1]["total"] == 300  # one batch of 64, then the stop
    assert list(store.workspace.cache_dir("features").iterdir()) == []  # no half a file
    assert "epoch" not in [e["type"] for e in events_of(final)]
    assert run_info.load_run(final.run_id).status == "stopped"  # a readable run folder


class FakeModel:
    def __init__(self) -> None:
        self.w = [np.zeros(1)]
        self.stop_training = False

    def get_weights(self) -> list:
        return [a.copy() for a in self.w]

    def set_weights(self, w: list) -> None:
        self.w = [a.copy() for a in w]


def test_best_keeper_restores_lowest_val_loss_and_stops_when_out_of_patience() -> None:
    saved = []
    model = FakeModel()
    keeper = BestKeeper(lambda: saved.append(model.w[0][0]), patience=2, min_save_gap=0)
    keeper.model = model
    keeper.on_train_begin()
    for epoch, val_loss in enumerate([0.9, 0.5, 0.7, 0.8]):
        model.w = [np.array([float(epoch)])]
        keeper.on_epoch_end(epoch, {"loss": 1.0, "val_loss": val_loss})
    assert model.stop_training
    assert (keeper.best_epoch, saved) == (2, [0.0, 1.0])
    assert keeper.restore() and model.w[0][0] == 1.0
    assert [h["epoch"] for h in keeper.history] == [1, 2, 3, 4]


def test_class_weights_are_on_only_when_imbalanced_in_auto_mode() -> None:
    assert class_weights(np.array([0, 0, 1, 1]), 2, "auto") is None
    assert class_weights(np.array([0, 0, 0, 0, 1, 1]), 2, "auto") == {0: 0.75, 1: 1.5}
    assert class_weights(np.array([0, 1]), 2, "on") == {0: 1.0, 1: 1.0}
    assert class_weights(np.array([0, 0, 0, 1]), 2, "off") is None


def test_imbalanced_dataset_trains_with_class_weights(tmp_path: Path) -> None:
    data = write_class_images(tmp_path / "imb", per_class=6)
    write_class_images(tmp_path / "imb", per_class=20, classes={"red": (210, 40, 40)})
    info = train_tiny(data, epochs=1)
    assert info.status == "finished"


def test_best_keeper_keeps_the_whole_models_weights_while_a_part_is_fitted() -> None:
    whole, part = FakeModel(), FakeModel()
    keeper = BestKeeper(lambda: None, patience=1, min_save_gap=0)
    keeper.model, keeper.source = part, whole
    whole.w = [np.array([7.0])]
    keeper.on_epoch_end(0, {"loss": 1.0, "val_loss": 0.5})
    whole.w = [np.array([8.0])]
    keeper.on_epoch_end(1, {"loss": 1.0, "val_loss": 0.6})
    assert part.stop_training and not whole.stop_training
    assert keeper.restore() and whole.w[0][0] == 7.0 and part.w[0][0] == 0.0


def test_a_file_broken_after_the_scan_ends_the_run_failed_naming_it(tiny_dataset: Path) -> None:
    from tlcore.data.scan import scan
    from tlcore.data.split import make_split

    config = tiny_config(tiny_dataset)
    split = make_split(scan(tiny_dataset), config.split)
    broken = Path(split.train[0].path)
    broken.write_bytes(b"not an image any more")
    info = store.create_run(config, split=split)
    final = train(config, info.path, split=split)
    assert final.status == "failed"
    assert final.error.startswith(str(broken)) and final.epochs_run == 0
    assert events_of(final)[-1] == {
        **events_of(final)[-1],
        "status": "failed",
        "error": final.error,
    }


def test_tensorboard_logs_are_written_into_the_run_folder(tiny_dataset: Path) -> None:
    info = train_tiny(tiny_dataset, tensorboard=True)
    assert info.status == "finished"
    logs = sorted(
        p.relative_to(info.path / "tensorboard").parts[0]
        for p in (info.path / "tensorboard").rglob("events.out.tfevents.*")
    )
    assert logs == ["train", "validation"]
    assert not [e for e in events_of(info) if e["type"] == "warning"]


def test_out_of_memory_ends_failed_with_advice_a_person_can_act_on(
    tiny_dataset: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tensorflow as tf

    import tlcore.training.loop

    def out_of_memory(*args: object, **kwargs: object) -> str:
        # What TensorFlow raises when an allocation fails (cannot be provoked safely here).
        raise tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor")

    monkeypatch.setattr(tlcore.training.loop, "fit_phases", out_of_memory)
    info = train_tiny(tiny_dataset)
    assert info.status == "failed"
    assert info.error.startswith("Out of memory while training: use a smaller batch size")
    status = fsutil.read_json(info.path / "status.json")
    assert (status["status"], status["error"]) == ("failed", info.error)
    assert events_of(info)[-1] == {**events_of(info)[-1], "type": "end", "error": info.error}
    assert run_info.load_run(info.run_id).status == "failed"  # not left 'running'


def test_a_failed_run_offers_no_model_to_predict_or_export(tiny_dataset: Path) -> None:
    from tlcore.results.predict import load_predictor

    info = train_tiny(tiny_dataset, epochs=1, name="two phases")
    assert (info.path / "model.keras").is_file()
    # What a two-phase run that failed in fine-tuning leaves: phase 1's model.keras.
    run_files.update_status(info.path, status="failed", error="Training failed (NaN loss).")
    with pytest.raises(RunError, match=r"Run 'two phases' failed \(Training failed \(NaN loss\)\)"):
        load_predictor(info.run_id)
    with pytest.raises(RunError, match="train it again"):
        require_finished_model(info.path)
