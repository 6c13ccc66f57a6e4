"""Choices kept in the workspace (AppTest): a new session starts where the last one ended."""

import json
import shutil
from pathlib import Path

from app_helpers import app, finished_run

from ui import state


def test_a_new_session_gets_the_last_dataset_model_and_settings(tiny_dataset: Path) -> None:
    at = app("model", data_path=str(tiny_dataset), training={"image_size": 32})
    at.selectbox(key="_w_backbone").set_value("small_cnn").run()
    at.number_input(key="set_epochs").set_value(3).run()
    at.switch_page("pages/data.py").run()
    at.slider(key="_w_val_percent").set_value(30).run()
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
    assert again.number_input(key="set_epochs").value == 3
    assert again.selectbox(key="_w_backbone").value == "small_cnn"
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
    from tlcore.runs import store

    run_id = finished_run(tiny_dataset, status="queued")
    assert store.load_run(run_id).active
    at = app("train")
    assert not at.exception
    assert at.session_state["data_path"] == str(tiny_dataset)
    assert at.session_state["run_id"] == run_id
