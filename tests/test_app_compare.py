"""Compare page (AppTest): strategy ticks, a bad request, and the table of a group."""

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from app_helpers import app, errors, finished_run, texts

from tlcore import workspace
from tlcore.models.backbones import BACKBONES
from tlcore.runs import run_files, run_info, store


def test_renders_one_tick_per_preset() -> None:
    at = app("compare")
    assert not at.exception
    assert [c.label for c in at.checkbox] == [
        "Feature extraction",
        "Fine-tune the top",
        "Full fine-tune",
        "From scratch",
    ]
    assert "Nothing to compare yet" in texts(at)


def test_nothing_ticked_is_an_error(tiny_dataset: Path) -> None:
    at = app("compare", data_path=str(tiny_dataset))
    for c in at.checkbox:
        c.uncheck()
    at.button(key="start_compare").click().run()
    assert not at.exception
    assert errors(at) == ["Tick at least one strategy to compare."]


def test_without_data_it_says_where_to_go() -> None:
    at = app("compare")
    at.button(key="start_compare").click().run()
    assert errors(at) == ["Choose your images on the Data page first."]


def test_finished_runs_can_be_added_to_the_table(tiny_dataset: Path) -> None:
    run_id = finished_run(tiny_dataset)
    at = app("compare", data_path=str(tiny_dataset), compare_extra=[run_id])
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table["strategy"]) == ["earlier"]
    assert list(table["best validation accuracy"]) == ["50.0%"]


def test_a_comparison_trains_each_strategy_and_fills_the_table(tiny_dataset: Path) -> None:
    import time

    at = app(
        "compare",
        data_path=str(tiny_dataset),
        backbone="small_cnn",
        weights="none",
        training={"image_size": 32, "epochs": 1, "batch_size": 8},
    )
    at.checkbox(key="cmp_fine-tune").uncheck()
    at.checkbox(key="cmp_full").check()
    at.checkbox(key="cmp_scratch").check()
    at.button(key="start_compare").click().run()
    assert not at.exception and errors(at) == []
    group = at.session_state["compare_group"]
    deadline = time.time() + 200
    while any(r.active for r in run_info.list_runs(group=group)) and time.time() < deadline:
        time.sleep(2)
    assert [r.status for r in run_info.list_runs(group=group)] == ["finished"] * 3
    at.run()
    table = at.dataframe[0].value
    assert set(table["strategy"]) == {"Feature extraction", "Full fine-tune", "From scratch"}
    assert set(table["status"]) == {"finished"}
    # Sorted by the verdict: best accuracy first, each with its interval and images.
    # The column is named by how the accuracy was measured (36 images: cross-validated).
    (column,) = [c for c in table.columns if c.startswith("accuracy")]
    assert column == "accuracy (cross-validated: mean ± spread over folds)"
    scores = [float(a.split("%")[0]) for a in table[column]]
    assert scores == sorted(scores, reverse=True)
    assert all("–" in i for i in table["95% interval"]) and len(set(table["images"])) == 1
    assert next(s.value for s in at.success).startswith("**Verdict:** ")


def test_from_scratch_cannot_be_ticked_with_one_of_my_models_and_says_why(
    tiny_dataset: Path,
) -> None:
    run_id = finished_run(tiny_dataset)
    at = app("compare", data_path=str(tiny_dataset), backbone="my_model", weights=f"run:{run_id}")
    assert not at.exception
    boxes = {c.label: c for c in at.checkbox}
    assert boxes["From scratch"].disabled and not boxes["From scratch"].value
    assert not boxes["Feature extraction"].disabled
    assert "Not possible with One of my models: From scratch starts from random weights" in texts(
        at
    )


def test_a_failed_run_shows_its_reason_on_the_page(tiny_dataset: Path) -> None:
    run_id = finished_run(tiny_dataset, status="failed", error="The images ran out.")
    at = app("compare", data_path=str(tiny_dataset), compare_extra=[run_id])
    assert not at.exception
    assert errors(at) == ["**earlier** failed: The images ran out."]


def test_without_pretrained_weights_the_advice_names_what_works_here(tiny_dataset: Path) -> None:
    at = app("compare", data_path=str(tiny_dataset), backbone="small_cnn", weights="none")
    warning = " ".join(w.value for w in at.warning)
    assert "has no pretrained weights" in warning
    ready = [b for b in BACKBONES.values() if getattr(b, "bundled_weights", False)]
    if ready:  # a network installed with its weights: named, as working offline
        assert f"**{ready[0].display_name}**" in warning and "offline" in warning
    else:
        assert "(e.g. **MobileNetV2**)" in warning and "needs internet" in warning
    assert "One of my models" not in warning  # there is none yet
    (run_files.run_path(finished_run(tiny_dataset)) / "model.keras").write_bytes(b"")
    at.run()
    assert "Or choose **One of my models**" in " ".join(w.value for w in at.warning)


@pytest.fixture
def stand_in() -> Iterator[int]:
    """A live process that looks like a worker (its command line names tlcore)."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)", "tlcore"])
    yield proc.pid
    proc.kill()
    proc.wait()


def _comparison_in_progress(data: Path, pid: int) -> tuple[str, str]:
    """A comparison group with one run training (``pid`` stands in) and one waiting."""
    from app_helpers import ended_config

    group = "cmp-test"
    running = store.create_run(ended_config(data, name="Full fine-tune"), group=group)
    waiting = store.create_run(ended_config(data, name="From scratch"), group=group)
    run_files.update_status(running.path, status="running", pid=pid, started=run_files.now_iso())
    return running.run_id, waiting.run_id


def test_the_page_shows_who_trains_and_who_waits_and_stops_them(
    tiny_dataset: Path, stand_in: int
) -> None:
    running, waiting = _comparison_in_progress(tiny_dataset, stand_in)
    at = app("compare", data_path=str(tiny_dataset), compare_group="cmp-test")
    assert not at.exception
    assert "Training: **Full fine-tune** · waiting: From scratch" in texts(at)
    table = at.dataframe[0].value
    statuses = dict(zip(table["strategy"], table["status"], strict=True))
    assert statuses["From scratch"] == "waiting"
    assert statuses["Full fine-tune"].startswith("training")
    at.button(key="cmp_stop_all").click().run()
    assert all(run_files.stop_requested(run_files.run_path(i)) for i in (running, waiting))


def test_one_run_can_be_stopped_and_its_link_opens_it(tiny_dataset: Path, stand_in: int) -> None:
    running, waiting = _comparison_in_progress(tiny_dataset, stand_in)
    at = app("compare", data_path=str(tiny_dataset), compare_group="cmp-test")
    at.button(key=f"cmp_stop_{waiting}").click().run()
    assert run_files.stop_requested(run_files.run_path(waiting))
    assert not run_files.stop_requested(run_files.run_path(running))
    at.session_state["run_id"] = running  # the Train page showed another run before
    at.button(key=f"cmp_open_{waiting}").click().run()
    assert not at.exception and at.session_state["run_id"] == waiting


def test_the_sidebar_link_names_the_run_it_opens(tiny_dataset: Path, stand_in: int) -> None:
    # The sidebar's "Follow it on the Train page" was a plain page link: it opened the
    # run the Train page showed last (a finished one), not the one training. Now each
    # training run has its own button (the same helper as the Compare page's "Open ...",
    # whose click is tested above; AppTest drops the sidebar after the first run).
    earlier = finished_run(tiny_dataset)
    running, _ = _comparison_in_progress(tiny_dataset, stand_in)
    at = app(data_path=str(tiny_dataset), run_id=earlier)
    follow = at.sidebar.button(key=f"sidebar_follow_{running}")
    assert follow.label == "Follow it on the Train page"


def test_the_budget_and_its_total_show_before_start(tiny_dataset: Path) -> None:
    at = app("compare", data_path=str(tiny_dataset), backbone="small_cnn", weights="none")
    assert "Budget 3 min per strategy: at most 6 min for 2 strategies." in texts(at)
    assert not at.button(key="start_compare").disabled


def test_a_budget_that_fits_no_epoch_is_refused_before_start(tiny_dataset: Path) -> None:
    from tlcore.training import budget

    at = app("compare", data_path=str(tiny_dataset), backbone="small_cnn", weights="none")
    keys = {  # every phase of every strategy: 100 s an image
        f"small_cnn|{size}|{s}|{p}|plain": 100.0
        for size in ("default", 224, 32)
        for s in ("feature-extraction", "fine-tune", "full", "scratch")
        for p in ("train", "fine-tune")
    }
    (workspace.cache_dir() / budget.COSTS_FILE).write_text(json.dumps(keys))
    at.run()
    assert any("cannot fit one epoch" in e and "give at least" in e for e in errors(at))
    assert at.button(key="start_compare").disabled


def _cross_validated_run(data: Path) -> str:
    """A finished run scored by 3-fold cross-validation: no validation images."""
    run_id = finished_run(data)
    path = run_files.run_path(run_id)
    run_files.update_status(path, best_val_accuracy=None)
    metrics = {
        "evaluation": "3-fold cross-validation",
        "folds": 3,
        "accuracy": 0.75,
        "accuracy_std": 0.05,
        "pooled_accuracy": 0.75,
        "confusion_matrix": [[3, 1], [1, 3]],
        "classes": ["a", "b"],
    }
    (path / "metrics.json").write_text(json.dumps(metrics))
    return run_id


def test_a_cross_validated_run_shows_its_accuracy_with_spread_and_no_empty_column(
    tiny_dataset: Path,
) -> None:
    # The "best validation accuracy" column was empty for cross-validated runs.
    run_id = _cross_validated_run(tiny_dataset)
    at = app("compare", data_path=str(tiny_dataset), compare_extra=[run_id])
    assert not at.exception
    table = at.dataframe[0].value
    assert "best validation accuracy" not in table.columns
    column = "accuracy (cross-validated: mean ± spread over folds)"
    assert list(table[column]) == ["75.0% ± 5.0%"]


def test_one_ticked_strategy_is_trained_not_compared(tiny_dataset: Path) -> None:
    at = app("compare", data_path=str(tiny_dataset), backbone="small_cnn", weights="none")
    assert at.button(key="start_compare").label == "▶️ Train and compare 2 strategies"
    at.checkbox(key="cmp_fine-tune").uncheck().run()
    assert at.button(key="start_compare").label == "▶️ Train 1 strategy"
    assert "Tick at least two to see them side by side." in texts(at)
