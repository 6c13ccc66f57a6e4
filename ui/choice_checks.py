"""Checks for choices read back from ``last_choices.json``: every field, its type and range.

The file is the app's own, but it outlives versions and can be edited or damaged by hand;
a value a widget cannot take (``val_percent`` 95, a learning rate of "fast", a list where
a dict belongs) would break its page on every load. Each check returns why a value cannot
be used, or None; the caller drops what fails and says so once.
"""

import math
from typing import Any

from tlcore.config import HEAD_FEATURES, OPTIMIZERS, POOLINGS, RESIZE_MODES, SCHEDULES

_INT_RANGES = {
    "val_percent": (0, 40),
    "test_percent": (0, 40),
    "split_seed": (0, 1_000_000),
    "unfreeze_top": (0, 10_000),
}
_TRAINING_INTS = {
    "epochs": (1, 500),
    "batch_size": (1, 1024),
    "head_epochs": (1, 100),
    "early_stopping_patience": (0, 50),
    "warmup_epochs": (0, 499),
    "cv_folds": (2, 20),
}
_TRAINING_FLOATS = {
    "learning_rate": (1e-7, 1.0),
    "fine_tune_learning_rate": (1e-7, 1.0),
    "dropout": (0.0, 0.7),
}
_TRAINING_CHOICES = {
    "resize_mode": RESIZE_MODES,
    "optimizer": OPTIMIZERS,
    "pooling": POOLINGS,
    "schedule": SCHEDULES,
    "class_weighting": ("auto", "on", "off"),
    "head_features": HEAD_FEATURES,
}
_TRAINING_BOOLS = ("auto", "two_phase", "solve_head", "cross_validate", "try_mirror")


def _int_in(value: Any, low: int, high: int) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return f"{value!r} is not a whole number"
    return None if low <= value <= high else f"{value} is outside {low}-{high}"


def _float_in(value: Any, low: float, high: float) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return f"{value!r} is not a number"
    return None if low <= value <= high else f"{value:g} is outside {low:g}-{high:g}"


def training_problem(name: str, value: Any) -> str | None:
    """Why one training setting cannot be used (None: it can)."""
    if name in _TRAINING_INTS:
        return _int_in(value, *_TRAINING_INTS[name])
    if name in _TRAINING_FLOATS:
        return _float_in(value, *_TRAINING_FLOATS[name])
    if name in _TRAINING_CHOICES:
        options = _TRAINING_CHOICES[name]
        return None if value in options else f"{value!r} is not one of {', '.join(options)}"
    if name in _TRAINING_BOOLS:
        return None if isinstance(value, bool) else f"{value!r} is not on/off"
    if name == "image_size":
        return None if value is None else _int_in(value, 16, 1024)
    if name == "fine_tune_optimizer":
        return None if value is None or value in OPTIMIZERS else f"{value!r} is not an optimizer"
    if name == "head_units":
        ok = isinstance(value, list) and all(_int_in(u, 1, 4096) is None for u in value)
        return None if ok else f"{value!r} is not a list of layer sizes"
    return "not a setting of this version"


def problem(key: str, value: Any) -> str | None:
    """Why a saved top-level choice cannot be used (None: it can, as far as its form goes)."""
    if key in _INT_RANGES:
        if value is None and key == "unfreeze_top":
            return None
        return _int_in(value, *_INT_RANGES[key])
    if key == "augment":
        from tlcore.models.augment import AUGMENTATIONS

        if not isinstance(value, dict):
            return "not a list of augmentations"
        bad = [k for k, v in value.items() if k not in AUGMENTATIONS or _float_in(v, 0, 1)]
        if bad:
            return f"unknown or out-of-range augmentation(s): {', '.join(map(str, bad))}"
        return None
    if key in ("frozen_layers", "compare_extra"):
        if value is None and key == "frozen_layers":
            return None
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        return None if ok else "not a list of names"
    if key == "training":
        return None if isinstance(value, dict) else "not a set of training settings"
    return None


def clean_training(value: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The training settings that pass their check, and ``name (why)`` for the others."""
    kept: dict[str, Any] = {}
    dropped: list[str] = []
    for name, v in value.items():
        why = training_problem(str(name), v)
        if why is None:
            kept[name] = v
        else:
            dropped.append(f"{name} ({why})")
    return kept, dropped
