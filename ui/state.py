"""Session state: every key the pages share, initialised in one place.

Each browser tab has its own session, so per-person choices live here and never in
module globals (two tabs can use the app at once). Streamlit forgets a widget's value
when its page is not shown; ``bind`` keeps the value in a plain key instead, so choices
survive switching pages.
"""

from typing import Any

import streamlit as st

from tlcore.config import DEFAULT_BACKBONE

DEFAULT_TRAINING = {
    "auto": True,  # choose epochs, batch size, rates, split and evaluation from the data
    "epochs": 10,
    "batch_size": 32,
    "learning_rate": 1e-3,
    "two_phase": False,
    "head_epochs": 2,
    "fine_tune_learning_rate": 1e-5,
    "early_stopping_patience": 3,
    "dropout": 0.2,
    "image_size": None,
    "resize_mode": "pad",
}

DEFAULTS: dict[str, Any] = {
    # Data page
    "data_path": None,  # str: the folder or .zip being used
    "browse_dir": None,  # str: where the in-app folder browser is
    "val_percent": 20,
    "test_percent": 10,
    "split_seed": 42,
    "builder_name": "my-dataset",
    # Model page
    "backbone": DEFAULT_BACKBONE,
    "weights": "imagenet",  # imagenet | none | <path> | run:<id>
    "recipe": None,
    "everyday": True,  # photos like everyday ones (drives the strategy suggestion)
    "strategy": "feature-extraction",
    "unfreeze_top": None,
    "unfreeze_from": None,
    "frozen_layers": None,  # list[str] when the person edited the layer table (custom)
    "train_batchnorm": False,
    "augment": {},  # name -> strength
    "training": dict(DEFAULT_TRAINING),
    # Train / Compare / Predict
    "run_id": None,  # the run the Train page follows
    "compare_group": None,
    "compare_extra": [],  # run ids added to the comparison by hand
    "predict_run": None,
}


def init() -> None:
    """Give every shared key its default (called once per script run, from app.py)."""
    for key, value in DEFAULTS.items():
        if key not in st.session_state:
            # Copy containers so sessions never share one mutable default.
            st.session_state[key] = (
                dict(value)
                if isinstance(value, dict)
                else list(value)
                if isinstance(value, list)
                else value
            )


def bound(name: str) -> dict[str, Any]:
    """Widget keyword arguments that restore the widget from, and save it to, ``name``.

    Use as ``st.slider("...", **bound("val_fraction"))``: the widget starts from the
    stored value even after a page switch, and a change is copied back (in the
    ``on_change`` callback, which runs before the script, so the new value wins).
    """
    widget_key = f"_w_{name}"
    st.session_state[widget_key] = st.session_state[name]
    return {"key": widget_key, "on_change": _sync, "args": (name,)}


def _sync(name: str) -> None:
    st.session_state[name] = st.session_state[f"_w_{name}"]


def training_setting(name: str) -> Any:
    """Return one of the training settings (epochs, batch size, ...)."""
    return st.session_state["training"].get(name, DEFAULT_TRAINING.get(name))


def set_dataset(path: str | None) -> None:
    """Use a new dataset: forget choices that belonged to the old one."""
    if st.session_state.get("data_path") != path:
        st.session_state["data_path"] = path
        st.session_state["frozen_layers"] = None
