"""A status box whose label and bar follow the engine's progress events."""

from collections.abc import Callable
from typing import Any

import streamlit as st


def follower(box: Any) -> Callable[[dict], None]:
    """Inside ``st.status(...) as box``: draw a bar; return the callback that moves it and
    shows each event's ``message`` as the box's label."""
    bar = st.progress(0.0)

    def progress(event: dict) -> None:
        done, total = event.get("done"), event.get("total")
        box.update(label=event["message"])
        if done is not None and total:
            bar.progress(min(1.0, done / total))

    return progress
