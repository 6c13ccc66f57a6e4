"""Train page while a run trains (AppTest): one progress, a label that follows the run's
status, and a Start button that says what it does while the slot is taken."""

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from app_helpers import ROOT, TIMEOUT, app, texts
from streamlit.testing.v1 import AppTest

from tlcore import fsutil
from tlcore.runs import run_files, store

SMALL = {
    "backbone": "small_cnn",
    "weights": "none",
    "strategy": "scratch",
    "training": {"image_size": 32, "epochs": 12, "batch_size": 8},
}


@pytest.fixture
def training(tiny_dataset: Path) -> Iterator[str]:
    """A run in epoch 6 of 12, its worker a live stand-in process."""
    from run_helpers import tiny_config

    fake = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", "tlcore"])
    info = store.create_run(tiny_config(tiny_dataset, name="first try", epochs=12))
    run_files.update_status(info.path, status="running", pid=fake.pid)
    now = time.time()
    for event in (
        {"type": "start", "time": now - 60, "elapsed": 0.0},
        {"type": "batch", "phase": "train", "epoch": 6, "batch": 2, "batches": 5, "time": now},
    ):
        fsutil.append_jsonl(info.path / "events.jsonl", event)
    yield info.run_id
    fake.kill()
    fake.wait()


def test_start_says_it_queues_while_a_run_trains(tiny_dataset: Path, training: str) -> None:
    at = app("train", data_path=str(tiny_dataset), run_id=training, **SMALL)
    assert not at.exception
    assert at.button(key="start_train").label == "▶️ Queue another run"
    assert "a new one waits in the queue and starts when it ends" in texts(at)


def test_the_sidebar_leaves_the_shown_runs_progress_to_the_page(
    tiny_dataset: Path, training: str
) -> None:
    # Page and sidebar polled the events 1 s and 3 s apart: "Epoch 8 of 12" on the page
    # beside "epoch 6 of 12" in the sidebar. On the Train page the sidebar points to it.
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.session_state["data_path"] = str(tiny_dataset)
    at.session_state["run_id"] = training
    at.switch_page("pages/train.py").run()  # the first run: AppTest keeps its sidebar
    assert not at.exception
    assert "Epoch 6 of 12" in at.get("progress")[0].proto.text
    sidebar = "\n".join(m.value for m in at.sidebar.markdown)
    assert "training now: its progress is on this page." in sidebar
    assert "epoch 6" not in sidebar
    # Elsewhere the sidebar is the only place that says it.
    other = "\n".join(m.value for m in app(run_id=training).sidebar.markdown)
    assert "epoch 6 of 12" in other


def _live_drawn_while_starting(run_id: str) -> None:
    import streamlit as st

    from ui import live_training

    draws = st.session_state["draws"] = st.session_state.get("draws", 0) + 1
    if draws == 1:  # the page was drawn while the run was starting
        live_training._live(run_id, "queued")


def test_the_live_view_redraws_the_page_when_the_run_starts_training(training: str) -> None:
    # The run picker (outside the live fragment) said "— starting" all through training.
    at = AppTest.from_function(_live_drawn_while_starting, args=(training,))
    at.run(timeout=TIMEOUT)
    assert not at.exception
    assert at.session_state["draws"] == 2  # the whole page ran again, its label fresh
