"""Session state: every key the pages share, initialised in one place.

Each browser tab has its own session, so per-person choices live here and never in
module globals (two tabs can use the app at once). The choices are also saved in the
workspace (``last_choices.json``) after every script run, and a new session starts from
them: a reload, a new tab or the next day finds the dataset, model and settings as left.
Streamlit forgets a widget's value when its page is not shown; ``bind`` keeps the value
in a plain key instead, so choices survive switching pages.
"""

import json
from pathlib import Path
from typing import Any

import streamlit as st

from tlcore import fsutil, workspace
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
    # Set by a recipe (or a run used again); the pages' own widgets leave them as they are.
    "optimizer": "adam",
    "fine_tune_optimizer": None,
    "pooling": "avg",
    "head_units": [],
    "class_weighting": "auto",
    "schedule": "constant",
    "warmup_epochs": 0,
    "solve_head": False,
    "cross_validate": False,
    "cv_folds": 5,
    "head_features": "last",
    "try_mirror": False,  # a solved head may average each image with its mirror image
}

DEFAULTS: dict[str, Any] = {
    # Data page
    "data_path": None,  # str: the folder or .zip being used
    "browse_dir": None,  # str: where the in-app folder browser is
    "val_percent": 20,
    "test_percent": 10,
    "split_seed": 42,
    "split_by_hand": False,  # the person set the split (else the data's defaults choose it)
    "builder_name": "my-dataset",
    # Model page
    "backbone": DEFAULT_BACKBONE,
    "weights": "imagenet",  # imagenet | none | <path> | run:<id>
    "recipe": None,
    "strategy": "feature-extraction",
    "unfreeze_top": None,
    "unfreeze_from": None,
    "frozen_layers": None,  # list[str] when the person edited the layer table (custom)
    "train_batchnorm": False,
    "batchnorm_scale_trains": False,
    "augment": {},  # name -> strength
    "training": dict(DEFAULT_TRAINING),
    # Train / Compare / Predict
    "run_id": None,  # the run the Train page follows
    "compare_group": None,
    "compare_extra": [],  # run ids added to the comparison by hand
    "predict_run": None,
}


# Everything above but the folder browser's position is a choice worth keeping.
PERSISTED = tuple(k for k in DEFAULTS if k != "browse_dir")
CHOICES_FILE = "last_choices.json"
_VERSION = 1


def init() -> None:
    """Give every shared key its default (called once per script run, from app.py).

    A new session (a new tab, a reload) first takes the choices last saved in the
    workspace, so it starts where the person left off.
    """
    if "_choices_restored" not in st.session_state:
        st.session_state["_choices_restored"] = True
        for key, value in restored_choices().items():
            if key not in st.session_state:  # what a caller set explicitly wins
                st.session_state[key] = (
                    {**DEFAULT_TRAINING, **value} if key == "training" else value
                )
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


def wkey(base: str) -> str:
    """A widget's key in the current generation of widgets (see ``renew_widgets``)."""
    gen = st.session_state.get("_widget_gen", 0)
    return base + (f"_{gen}" if gen else "")


def widget_key(name: str) -> str:
    """The key of the widget that shows choice ``name`` (see ``renew_widgets``)."""
    return wkey(f"_w_{name}")


def renew_widgets() -> None:
    """Give the choices' widgets new keys, after code (not the widget) changed a choice.

    The browser still holds the old widget's value and sends it back with the next click;
    for the same key Streamlit would take that stale value as a change and run the
    widget's ``on_change`` (a recipe's strategy undone by the radio it replaced). A new
    key is a new widget, which starts from the choice as it is now.
    """
    st.session_state["_widget_gen"] = st.session_state.get("_widget_gen", 0) + 1


def bound(name: str) -> dict[str, Any]:
    """Widget keyword arguments that restore the widget from, and save it to, ``name``.

    Use as ``st.slider("...", **bound("val_fraction"))``: the widget starts from the
    stored value even after a page switch, and a change is copied back (in the
    ``on_change`` callback, which runs before the script, so the new value wins). The
    callback gets ``(name, widget key)``.
    """
    key = widget_key(name)
    st.session_state[key] = st.session_state[name]
    return {"key": key, "on_change": _sync, "args": (name, key)}


def current(name: str, key: str) -> bool:
    """True when ``key`` is the widget of ``name`` now, not one of an earlier generation
    whose callback the browser's stale value still triggers."""
    return key == widget_key(name)


def _sync(name: str, key: str) -> None:
    if current(name, key):
        st.session_state[name] = st.session_state[key]


def training_setting(name: str) -> Any:
    """Return one of the training settings (epochs, batch size, ...)."""
    return st.session_state["training"].get(name, DEFAULT_TRAINING.get(name))


def set_dataset(path: str | None) -> None:
    """Use a new dataset: forget choices that belonged to the old one."""
    if st.session_state.get("data_path") != path:
        st.session_state["data_path"] = path
        st.session_state["frozen_layers"] = None


def choices_path() -> Path:
    """Where the last choices are kept: ``<workspace>/last_choices.json``."""
    return workspace.home() / CHOICES_FILE


def save() -> None:
    """Write the choices to the workspace when they changed (atomically: a reader in
    another tab sees the old file or the new one, never half)."""
    choices = {k: st.session_state.get(k) for k in PERSISTED}
    text = json.dumps({"version": _VERSION, "choices": choices}, sort_keys=True, default=str)
    if st.session_state.get("_choices_saved") == text:
        return
    try:
        fsutil.atomic_write_text(choices_path(), text + "\n")
    except OSError:
        return  # a read-only workspace: the choices just are not kept
    st.session_state["_choices_saved"] = text


def restored_choices() -> dict[str, Any]:
    """The saved choices that still make sense (dataset, runs and network still there).

    Without a saved file, a run still training gives its dataset, so the app never says
    "Dataset: not chosen yet" while it trains on one.
    """
    try:
        saved = fsutil.read_json(choices_path())
        choices = saved["choices"] if saved.get("version") == _VERSION else {}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        choices = _from_active_run()
    except RecursionError:  # nested too deep to read: nothing in it can be used
        choices, st.session_state[DROPPED] = {}, ["the whole file (nested too deep)"]
    if not isinstance(choices, dict):
        return {}
    from ui.choice_checks import clean_training, problem

    out: dict[str, Any] = {}
    dropped: list[str] = []
    for key, value in choices.items():
        if key not in PERSISTED:
            continue
        why = problem(key, value)
        if why is not None:
            dropped.append(f"{key} ({why})")
        elif key == "training":
            out[key], bad = clean_training(value)
            dropped += bad
        elif _still_valid(key, value):
            out[key] = value
    if dropped:
        st.session_state[DROPPED] = dropped
    if "weights" in choices and "weights" not in out:
        out.pop("backbone", None)  # its weights are gone: start that choice over
    return out


DROPPED = "_choices_dropped"
"""Session key: saved choices that could not be used (said once, then the file is rewritten)."""


def say_dropped() -> None:
    """Tell the person which saved choices were reset, and why: in the session that found
    them (the file is then rewritten, so the next session has nothing to say)."""
    dropped = st.session_state.get(DROPPED)
    if dropped:
        st.warning(
            "Some of your saved choices could not be used and were reset to the defaults: "
            + "; ".join(dropped)
            + ". Everything else is as you left it.",
            icon=":material/restart_alt:",
        )


def _from_active_run() -> dict[str, Any]:
    from tlcore.runs import run_info

    active = [r for r in run_info.list_runs() if r.active]
    if not active:
        return {}
    run = active[0]
    return {"data_path": run.config.data, "run_id": run.run_id}


def _run_exists(run_id: Any) -> bool:
    return isinstance(run_id, str) and (workspace.runs_dir() / run_id / "spec.json").is_file()


def _still_valid(key: str, value: Any) -> bool:
    from tlcore.models.backbones import BACKBONES

    default = DEFAULTS[key]
    if default is not None and value is not None and type(value) is not type(default):
        return False  # written by another version of the app: take the default
    if key == "data_path":
        return isinstance(value, str) and Path(value).exists()
    if key == "backbone":
        return value in BACKBONES
    if key == "strategy":
        from tlcore.models.freezing import STRATEGIES

        return value in STRATEGIES
    if key == "weights":
        return isinstance(value, str) and (not value.startswith("run:") or _run_exists(value[4:]))
    if key in ("run_id", "predict_run"):
        return value is None or _run_exists(value)
    if key == "compare_extra":
        return all(_run_exists(v) for v in value)
    return True
