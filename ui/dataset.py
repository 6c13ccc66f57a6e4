"""The chosen dataset for the pages: scanning with progress, the report kept per session,
thumbnails, and the split counts."""

import os
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st

from tlcore import config
from tlcore.data import scan
from tlcore.errors import TransferLabError
from tlcore.fsutil import printable


def _stamp(path: str) -> float:
    # A folder's mtime changes when a class folder is added or removed; "Scan again"
    # covers images added inside a class.
    try:
        return os.stat(path).st_mtime
    except OSError:
        return 0.0


def scan_with_progress(path: str) -> Any:
    """Scan ``path`` showing a progress bar; keep the report in the session.

    Raises:
        TransferLabError: the folder or zip cannot be used (the message says why).
    """
    bar = st.progress(0.0, text="Looking at your images…")

    def progress(done: int, total: int) -> None:
        bar.progress(
            min(1.0, done / max(total, 1)), text=f"Looking at your images… {done} of {total}"
        )

    try:
        report = scan.scan(path, progress=progress)
    finally:
        bar.empty()
    st.session_state.setdefault("reports", {})[path] = (_stamp(path), report)
    _remember_summary(path, report)
    return report


def use_dataset(path: str, hint: str = "") -> bool:
    """Scan ``path`` and make it the dataset; show the error and return False if unusable.

    Args:
        path: a folder or .zip.
        hint: what to do next, added to the error message.
    """
    from ui import state

    try:
        scan_with_progress(path)
    except TransferLabError as e:
        st.error(f"{e} {hint}".strip())
        return False
    state.set_dataset(path)
    from ui import sidebar

    sidebar.refresh()  # the new dataset shows there now, not after the next click
    return True


def current_report() -> Any:
    """The report of the chosen dataset (scanned again if the folder changed), or None."""
    path = st.session_state.get("data_path")
    if not path:
        return None
    cached = st.session_state.setdefault("reports", {}).get(path)
    if cached and cached[0] == _stamp(path):
        _remember_summary(path, cached[1])
        return cached[1]
    return scan_with_progress(path)


def _remember_summary(path: str, report: Any) -> None:
    summary = {"path": path, "classes": len(report.classes), "images": sum(report.classes.values())}
    if st.session_state.get("report_summary") != summary:
        st.session_state["report_summary"] = summary
        from ui import sidebar

        sidebar.refresh()  # it was drawn before this scan


def thumbnail(path: str, mtime: float, size: int = 112) -> np.ndarray | None:
    """A small square preview of one image (None if it cannot be read)."""
    # Cached by the name's bytes: Streamlit cannot hash a name that is not UTF-8.
    return _thumbnail(os.fsencode(path), mtime, size)


@st.cache_data(max_entries=400, show_spinner=False)
def _thumbnail(path: bytes, mtime: float, size: int) -> np.ndarray | None:
    from tlcore.data import images

    try:
        return images.load_image(os.fsdecode(path), size, mode="pad")
    except TransferLabError:
        return None


def thumbnails(report: Any, per_class: int = 5) -> dict[str, list[np.ndarray]]:
    """A few previews per class, from the report's items."""
    out: dict[str, list[np.ndarray]] = {name: [] for name in report.classes}
    for item in report.items:
        shown = out.setdefault(item.label, [])
        if len(shown) >= per_class:
            continue
        try:
            mtime = os.stat(item.path).st_mtime
        except OSError:
            continue
        img = thumbnail(item.path, mtime)
        if img is not None:
            shown.append(img)
    return out


def split_counts(split: Any) -> dict[str, dict[str, int]]:
    """``{"train"|"val"|"test": {class: n}}`` for a ``tlcore.data.split.Split``."""
    out = {}
    for part in ("train", "val", "test"):
        counts = Counter(item.label for item in getattr(split, part))
        out[part] = {name: counts.get(name, 0) for name in split.classes}
    return out


def split_bound(name: str) -> dict[str, Any]:
    """Like ``ui.state.bound``, and moving the widget makes the split the person's."""
    from ui.state import bound

    return {**bound(name), "on_change": _split_moved}


def _split_moved(name: str, key: str) -> None:
    from ui.state import current

    if not current(name, key):
        return
    st.session_state[name] = st.session_state[key]
    st.session_state["split_by_hand"] = True


def split_by_data() -> None:
    """Let the data's defaults choose the split again (the sliders back to their start)."""
    from ui.state import DEFAULTS, renew_widgets

    s = st.session_state
    s["split_by_hand"] = False
    for key in ("val_percent", "test_percent"):
        s[key] = DEFAULTS[key]
    renew_widgets()


def split_config() -> config.SplitConfig:
    """The split settings chosen on the Data page."""
    s = st.session_state
    return config.SplitConfig(
        val_fraction=s["val_percent"] / 100,
        test_fraction=s["test_percent"] / 100,
        seed=int(s["split_seed"]),
    )


def relative(path: str, root: Any) -> str:
    """``path`` relative to the dataset root when possible (shorter to read), printable
    (the bytes of a name that is not UTF-8 shown as ``\\xNN``)."""
    try:
        return printable(str(Path(path).relative_to(Path(root))))
    except ValueError:
        return printable(str(path))


@st.cache_data(max_entries=16, show_spinner=False)
def _tiny(root: bytes, fingerprint: str, _paths: tuple[str, ...]) -> list[tuple[str, tuple]]:
    # Keyed by the root's bytes and the fingerprint (which covers every file); the paths
    # are not hashed (Streamlit cannot hash a name that is not UTF-8).
    from tlcore.data.sizes import tiny_images

    return tiny_images(_paths)


def tiny_images(report: Any) -> list[tuple[str, tuple]]:
    """The report's images smaller than ``sizes.MIN_SIDE`` px, with their sizes (cached per
    dataset version; only the file headers are read)."""
    return _tiny(os.fsencode(report.root), report.fingerprint, tuple(i.path for i in report.items))


def tiny_warning(tiny: list[tuple[str, tuple]], root: Any, total: int = 0) -> str:
    """One warning for the tiny images: how many, an example, and why it matters."""
    from tlcore.data.sizes import MIN_SIDE

    n = len(tiny)
    path, (w, h) = tiny[0]
    example = f"`{relative(path, root)}` is {w} × {h} px"
    count = f"All {n} images are" if n == total > 1 else f"{n} image{'s are' if n != 1 else ' is'}"
    return (
        f"{count} smaller than {MIN_SIDE} px on a side "
        f"(e.g. {example}). The network sees {'them' if n != 1 else 'it'} blown up and "
        "blurred, so there is little to learn from: use bigger photos if you have them."
    )


def unpack_zip_upload(up: Any) -> Path:
    """Unpack an uploaded .zip into ``datasets/``, named after the zip as the person knows
    it (``shapes.zip`` -> ``shapes``; ``shapes-2`` when that name is taken).

    Raises:
        DataError: not a zip, or an unsafe one (the message says which member and why).
    """
    from tlcore import workspace
    from tlcore.data import zips
    from ui import files

    zip_path = files.save_zip_upload(up)
    try:
        name = files.safe_name(Path(up.name).stem, fallback="dataset")
        return zips.extract_zip(zip_path, dest=files.unique_folder(workspace.datasets_dir(), name))
    finally:
        zip_path.unlink(missing_ok=True)
