"""Choices kept in the workspace (AppTest): a new session starts where the last one ended."""

import json
import shutil
from pathlib import Path

from app_helpers import app, finished_run, wk

from ui import state


def test_a_new_session_gets_the_last_dataset_model_and_settings(tiny_dataset: Path) -> None:
    at = app("model", data_path=str(tiny_dataset), training={"image_size": 32})
    at.selectbox(key=wk(at, "_w_backbone")).set_value("small_cnn").run()
    at.number_input(key=wk(at, "set_epochs")).set_value(3).run()
    at.switch_page("pages/data.py").run()
    at.slider(key=wk(at, "_w_val_percent")).set_value(30).run()
    assert not at.exception
    saved = json.loads(state.choices_path().read_text())["choices"]
    assert (saved["data_path"], saved["backbone"], saved["val_percent"]) == (
        str(tiny_dataset),
        "small_cnn",
        30,
    )
    assert [p.name for p in state.choices_path().parent.glob(".last_choices*")] == []

    again = app("model")  # a reload: a new session, nothing set
    assert not again.exception
    s = again.session_state
    assert (s["data_path"], s["backbone"], s["val_percent"]) == (str(tiny_dataset), "small_cnn", 30)
    assert s["training"]["epochs"] == 3
    assert again.number_input(key=wk(again, "set_epochs")).value == 3
    assert again.selectbox(key=wk(again, "_w_backbone")).value == "small_cnn"
    first = app()  # the sidebar of the first page says so too
    sidebar = " ".join(m.value for m in first.sidebar.markdown)
    assert "**Dataset:** `tiny`" in sidebar and "Small CNN (from scratch)" in sidebar


def test_choices_that_no_longer_exist_are_not_restored(tiny_dataset: Path, tmp_path) -> None:
    copy = shutil.copytree(tiny_dataset, tmp_path / "gone")
    run_id = finished_run(tiny_dataset)
    app("model", data_path=str(copy), backbone="my_model", weights=f"run:{run_id}")
    shutil.rmtree(copy)
    shutil.rmtree(Path(state.choices_path().parent / "runs" / run_id))
    again = app("model")
    assert not again.exception
    s = again.session_state
    assert s["data_path"] is None and s["backbone"] == "efficientnet_lite0"  # the default
    assert s["weights"] == "imagenet"


def test_without_saved_choices_a_run_in_progress_gives_its_dataset(tiny_dataset: Path) -> None:
    from tlcore.runs import run_info

    run_id = finished_run(tiny_dataset, status="queued")
    assert run_info.load_run(run_id).active
    at = app("train")
    assert not at.exception
    assert at.session_state["data_path"] == str(tiny_dataset)
    assert at.session_state["run_id"] == run_id


def test_damaged_saved_choices_are_dropped_and_said_once(tiny_dataset: Path) -> None:
    """Wrong inner types, out-of-range values and deep nesting in last_choices.json
    (issue 18): every page still loads, the rest is kept, the reset is said once."""
    path = state.choices_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    choices = {
        "data_path": str(tiny_dataset),
        "backbone": "small_cnn",
        "val_percent": 95,
        "split_seed": "abc",
        "augment": {"zoom": 7, "teleport": 0.1},
        "frozen_layers": {"a": 1},
        "training": {"epochs": "many", "learning_rate": -1, "batch_size": 16, "new": [1]},
    }
    path.write_text(json.dumps({"version": 1, "choices": choices}))
    at = app("data")
    assert not at.exception
    s = at.session_state
    assert (s["data_path"], s["backbone"], s["val_percent"]) == (str(tiny_dataset), "small_cnn", 20)
    assert s["training"]["batch_size"] == 16 and s["training"]["epochs"] == 10
    assert s["augment"] == {} and s["frozen_layers"] is None
    warning = " ".join(w.value for w in at.warning)
    assert "val_percent (95 is outside 0-40)" in warning
    assert "epochs ('many' is not a whole number)" in warning
    assert "learning_rate (-1 is outside 1e-07-1)" in warning
    # The file was rewritten with what could be used: later sessions say nothing more.
    for page in ("model", "train", "compare", "predict"):
        again = app(page)
        assert not again.exception, (page, again.exception)
        assert "could not be used" not in " ".join(w.value for w in again.warning)


def test_saved_choices_nested_too_deep_do_not_break_the_app() -> None:
    path = state.choices_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('{"version": 1, "choices": ' + "[" * 100_000 + "]" * 100_000 + "}")
    at = app("model")
    assert not at.exception
    assert "nested too deep" in " ".join(w.value for w in at.warning)
