"""The sidebar on every page: the dataset and model chosen so far, and any run in progress."""

import contextlib
from pathlib import Path
from typing import Any

import streamlit as st
from streamlit.errors import StreamlitAPIException

from tlcore.fsutil import printable
from ui import run_links, run_status

_SLOT = "_sidebar_choices"  # this script run's place of the choices, for ``refresh``


def render(page: str = "") -> None:
    """Draw the shared sidebar (called by app.py before the page runs).

    Args:
        page: the ``url_path`` of the page being shown (``train`` for the Train page).
    """
    with st.sidebar:
        slot = st.empty()
        st.session_state[_SLOT] = slot
        _choices(slot)
        _run_status(page == "train")


def refresh() -> None:
    """Draw the choices again: the page changed one after the sidebar was drawn (e.g. the
    dataset, or its scan that counts the images), and the sidebar must follow at once."""
    slot = st.session_state.get(_SLOT)
    if slot is None:
        return
    # Inside a fragment the sidebar is out of reach; its next full run draws it.
    with contextlib.suppress(StreamlitAPIException):
        _choices(slot)


def _choices(slot: Any) -> None:
    with slot.container():
        st.markdown("### Your choices so far")
        data_path = st.session_state.get("data_path")
        if data_path:
            st.markdown(f"**Dataset:** `{printable(Path(data_path).name)}`")
            report = st.session_state.get("report_summary")
            if report and report.get("path") == data_path:
                st.caption(f"{report['classes']} classes · {report['images']} images")
        else:
            st.markdown("**Dataset:** not chosen yet")
        st.markdown(f"**Model:** {_model_summary()}")


def _model_summary() -> str:
    from tlcore.models.backbones import BACKBONES

    spec = BACKBONES.get(st.session_state.get("backbone"))
    name = spec.display_name if spec else st.session_state.get("backbone")
    from tlcore.models.freezing import STRATEGIES

    key = st.session_state.get("strategy") or ""
    if st.session_state.get("frozen_layers") is not None:
        key = "custom"
    strategy = STRATEGIES[key].display_name.lower() if key in STRATEGIES else key
    return name if strategy in name.lower() else f"{name} · {strategy}"


@st.fragment(run_every=3)
def _run_status(on_train_page: bool = False) -> None:
    # Polled so a run started in another tab (or finishing) shows up without a click.
    active = run_status.active_runs()
    if not active:
        return
    # The Train page shows its run's progress every second; the sidebar's, read every 3 s,
    # would say another epoch beside it. It points to the page instead.
    shown = (
        run_status.shown_run_id(run_status.list_runs(), st.session_state.get("run_id"))
        if on_train_page
        else None
    )
    st.markdown("### Training now")
    for run in active[:3]:
        if run.run_id == shown:
            st.markdown(
                f"**{run_status.title(run)}** — {run_status.outcome(run)}: its progress is "
                "on this page."
            )
            continue
        line = run_status.short_progress(run)
        st.markdown(f"**{run_status.title(run)}** — {line}")
        # Each link opens the run it names (a page link opened the Train page's last run).
        run_links.open_on_train_page(
            run, "Follow it on the Train page", key=f"sidebar_follow_{run.run_id}"
        )
