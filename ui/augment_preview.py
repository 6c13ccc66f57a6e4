"""Augmentation toggles with strengths, and a preview grid of what they do."""

from typing import Any

import numpy as np
import streamlit as st

from tlcore.config import AugmentConfig
from tlcore.errors import TransferLabError
from tlcore.models.augment import AUGMENTATIONS
from ui import warmup
from ui.state import wkey

PREVIEW_SIZE = 128
PER_ROW = 4


def render(report: Any) -> None:
    """Draw one toggle (+ strength) per augmentation and the live preview."""
    st.caption(
        "Small random changes to the training images (a mirrored or slightly turned "
        "cat is still a cat) teach the model what does *not* matter, so it overfits "
        "less. They are used only while training."
    )
    chosen: dict[str, float] = {}
    current = st.session_state["augment"]
    items = list(AUGMENTATIONS.items())
    for start in range(0, len(items), PER_ROW):
        # A row of columns each: a strength slider under one toggle never pushes the
        # toggles of the next row out of line.
        for col, (key, aug) in zip(
            st.columns(PER_ROW), items[start : start + PER_ROW], strict=False
        ):
            with col:
                on = st.toggle(
                    aug.display_name,
                    value=key in current,
                    key=wkey(f"aug_on_{key}"),
                    help=aug.description,
                )
                if on and aug.uses_strength:
                    chosen[key] = _strength(key, float(current.get(key, aug.default_strength)))
                elif on:
                    chosen[key] = 1.0
    st.session_state["augment"] = chosen
    if chosen:
        _preview(report, AugmentConfig.of(**chosen))


def _strength(key: str, value: float) -> float:
    """A strength slider in the unit a person thinks in: degrees for a turn, else percent."""
    if key == "rotation":  # the strength is a fraction of a full turn
        degrees = st.slider(
            "up to",
            1,
            180,
            value=min(max(round(value * 360), 1), 180),
            format="± %d°",
            key=wkey("aug_deg_rotation"),
            help="The largest turn, either way.",
        )
        return round(degrees / 360, 4)
    percent = st.slider(
        "up to",
        5,
        50,
        step=5,
        value=min(max(round(value * 100 / 5) * 5, 5), 50),
        format="± %d%%",
        key=wkey(f"aug_pct_{key}"),
        help="The largest change, either way.",
    )
    return percent / 100


def _preview(report: Any, cfg: AugmentConfig) -> None:
    paths = _sample_paths(report)
    try:
        with st.spinner("Drawing examples…"):
            grid = preview_grid(tuple(paths), cfg.ops)
    except TransferLabError as e:
        st.error(str(e))
        return
    st.markdown("**What training will see** (first column: the original)")
    for path, versions in zip(paths, grid, strict=True):
        st.image([_original(path), *versions], width=96)


def _sample_paths(report: Any, n: int = 3) -> list[str]:
    # One image from each of the first classes: different content shows more.
    seen, paths = set(), []
    for item in report.items:
        if item.label not in seen:
            seen.add(item.label)
            paths.append(item.path)
        if len(paths) == n:
            break
    return paths


@st.cache_data(max_entries=64, show_spinner=False)
def _original(path: str) -> np.ndarray:
    from tlcore.data.images import load_image

    return load_image(path, PREVIEW_SIZE)


@st.cache_data(max_entries=32, show_spinner=False)
def preview_grid(paths: tuple[str, ...], ops: tuple[tuple[str, float], ...]) -> np.ndarray:
    """``(N, 5, S, S, 3)`` augmented versions of the images at ``paths``."""
    from tlcore.models.augment import preview_augmentation

    warmup.wait()
    images = np.stack([_original(p) for p in paths])
    return preview_augmentation(images, AugmentConfig(ops), n=5, seed=0)
