"""Following a run while it trains: a fragment that polls the run folder once a second."""

from typing import Any

import streamlit as st

from tlcore.results import plots
from tlcore.runs import run_files, run_info, worker
from ui import run_results, run_status

NEXT = {
    "decode": "Images ready; building the network…",
    "weights": "Weights downloaded; building the network…",
    "convert": "Pretrained network ready; building the model…",
    "features": "Features ready; the training starts…",
}
"""What comes after a finished preparation step, said until its first event arrives."""


def follow(run_id: str, drawn_status: str) -> None:
    """Show the live view of ``run_id`` until it ends, then rerun the page for results.

    ``drawn_status`` is the status the page around it was drawn with (the run picker's
    label says it): when it changes (starting -> training) the page is drawn again.
    """
    st.fragment(run_every=1.0)(_live)(run_id, drawn_status)


def _live(run_id: str, drawn_status: str) -> None:
    run = run_info.load_run(run_id)
    if not run.active or run.status != drawn_status:
        st.rerun()  # the whole page: its results, or the picker's label, follow
    evts = run_status.events(run_id)
    head, stop = st.columns([4, 1])
    queued = run_status.waits(run)
    starting = run.status == "queued" and not queued
    title = ":material/rocket_launch: Starting" if starting else run_results.status_line(run)
    head.subheader(title)
    if queued:
        st.info(run_status.queue_line(run), icon=":material/hourglass_top:")
    slot = stop.empty()
    stopping = (run.path / run_files.STOP_FLAG).exists()
    if not stopping and slot.button(
        "Stop",
        icon=":material/stop_circle:",
        key="stop_run",
        help="Stop after the current batch; the best model so far is kept.",
    ):
        worker.request_stop(run_id)
        stopping = True
    if stopping:
        slot.button("Stopping…", disabled=True, key="stop_wait")
    _progress(evts, run)
    head = run_status.last_of(evts, "head")
    if head is not None and run_results.solved_only(evts):
        run_results.solved_head_view(head)  # a solved head has no curves to draw
    elif plots.epoch_points(evts) or plots.batch_points(evts):
        # No key: a keyed chart keeps its first figure; this one must redraw every second.
        st.plotly_chart(plots.training_curves_figure(evts))
        st.caption(
            "Thick lines: after each epoch. Thin line: each batch while it runs. "
            "When validation gets worse while training keeps improving, the model "
            "is memorising (overfitting)."
        )


def _progress(evts: list[dict], run: Any) -> None:
    batch = run_status.last_of(evts, "batch", "epoch", "prepare", "crossval")
    left = run_status.time_left(run, evts)
    tail = f" · {left}" if left else ""
    if batch is None:
        st.progress(0.0, text="Starting the training process (loading TensorFlow)…")
        return
    if batch["type"] == "crossval":  # a solved head, scored fold by fold
        folds = max(int(batch.get("folds") or 1), 1)
        done = max(int(batch.get("fold") or 1) - 1, 0)
        st.progress(min(done / folds, 1.0), text=f"{batch.get('message', '')}{tail}")
        return
    if batch["type"] == "prepare" and batch.get("message"):  # e.g. solving the head
        total = max(int(batch.get("total") or 1), 1)
        st.progress(min(int(batch.get("done") or 0) / total, 1.0), text=f"{batch['message']}{tail}")
        return
    if batch["type"] == "prepare":
        stage = batch.get("stage")
        what = {
            "decode": "Reading and resizing your images",
            "features": "Running the frozen network over your images once",
            "weights": "Downloading the pretrained weights",
            "convert": "Preparing the pretrained network (first time only)",
        }.get(stage, "Preparing")
        total = max(int(batch.get("total") or 1), 1)
        done = int(batch.get("done") or 0)
        amount = (
            f"{done / 1e6:.0f} of {total / 1e6:.0f} MB"
            if stage == "weights"
            else f"step {done} of {total}"
            if stage == "convert"
            else f"{done} of {total}"
        )
        if done >= total and stage in NEXT:  # no event until the next step reports
            st.progress(1.0, text=f"{NEXT[stage]}{tail}")
            return
        st.progress(min(done / total, 1.0), text=f"{what}… {amount}{tail}")
        return
    if run_status.is_solved_head(batch):
        # A solved head has no epochs to count: it is solved, then measured.
        st.progress(1.0, text=f"The head is solved; measuring its accuracy…{tail}")
        return
    # Epochs are numbered across phases; the last phase ends at the planned total.
    epochs = max(run_status.planned_epochs(run, evts), 1)
    epoch = int(batch.get("epoch") or 0)
    if batch["type"] == "batch":
        frac_in = batch["batch"] / max(batch.get("batches") or 1, 1)
        done = (epoch - 1 + frac_in) / epochs
        text = f"Epoch {epoch} of {epochs} · batch {batch['batch']} of {batch.get('batches', '?')}"
    else:
        done = epoch / epochs
        text = f"Epoch {epoch} of {epochs} done"
    phase = {
        "head": "Phase 1, the new head only",
        "fine-tune": "Phase 2, retraining the chosen layers",
    }.get(batch.get("phase"))
    if phase:
        text = f"{phase} · {text}"
    st.progress(min(max(done, 0.0), 1.0), text=text + tail)
