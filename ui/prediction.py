"""Prediction helpers for the Predict page: cached models, saved uploads, CSV and exports."""

import csv
import hashlib
import io
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st

from tlcore import workspace
from tlcore.data import sizes
from tlcore.data.images import IMAGE_EXTENSIONS
from tlcore.errors import ImageError
from tlcore.runs import run_files, run_info
from ui import files, run_status, warmup

IMAGE_TYPES = sorted(e.lstrip(".") for e in IMAGE_EXTENSIONS)


def model_stamp(run_id: str) -> float:
    """The model file's mtime, so a retrained or re-saved model is loaded again."""
    path = run_files.run_path(run_id) / "model.keras"
    return path.stat().st_mtime if path.is_file() else 0.0


@st.cache_resource(max_entries=3, show_spinner=False)
def predictor(run_id: str, stamp: float) -> tuple[Any, threading.Lock]:
    """Load a run's predictor once (shared by all sessions) with a lock for its model."""
    from tlcore.results.predict import load_predictor

    warmup.wait()
    return load_predictor(run_id), threading.Lock()


SEEN_NOTE = (
    "This image was one of the model's training images, so this prediction says little "
    "about new images."
)


@st.cache_data(max_entries=8, show_spinner=False)
def training_sizes(run_id: str, stamp: float) -> dict[int, tuple[str, ...]]:
    """The run's training files by size, kept per run (``stamp``: its model file's mtime)."""
    from tlcore.runs.seen_images import training_sizes as sizes_of

    return sizes_of(run_id)


def seen_note(path: str, run_id: str) -> str | None:
    """``SEEN_NOTE`` when the saved upload at ``path`` has a training image's bytes."""
    from tlcore.runs.seen_images import seen_in_training

    sizes = training_sizes(run_id, model_stamp(run_id))
    return SEEN_NOTE if seen_in_training(path, sizes) else None


def preselect(runs: list[Any], data_path: str | None) -> Any:
    """The model to offer first: the best finished one of the current dataset.

    Best is ``weights_choice.best_run``'s order: finished before stopped, then the
    highest measured accuracy (test or cross-validated, else validation), then the newest.
    Runs of other datasets are offered only when the current one has none.
    """
    from ui.weights_choice import best_run

    mine = [r for r in runs if same_data(r, data_path)]
    return best_run(mine or runs)


def same_data(run: Any, data_path: str | None) -> bool:
    """True when ``run`` trained on the dataset at ``data_path``."""
    if not data_path:
        return False
    try:
        return Path(run.config.data).resolve() == Path(data_path).resolve()
    except (OSError, ValueError):
        return False


MAX_KEPT_BYTES = 50 * 1024 * 1024
"""Dropped images kept in the session (so they are still there after visiting another
page) up to this many bytes; a browser tab must not hold a whole photo library."""
KEPT = "predict_kept"


@dataclass(frozen=True)
class Kept:
    """A dropped image kept across pages: its name and bytes (read like an upload)."""

    name: str
    data: bytes

    def getvalue(self) -> bytes:
        """The file's bytes."""
        return self.data


def keep_uploads(key: str = "predict_upload") -> None:
    """Remember what the uploader holds now (``on_change``: removing them all forgets)."""
    kept, total = [], 0
    for item in st.session_state.get(key) or []:
        data = item.getvalue()
        if total + len(data) > MAX_KEPT_BYTES:
            break  # the rest is shown now but not kept for later
        kept.append(Kept(item.name, data))
        total += len(data)
    st.session_state[KEPT] = kept


def kept_uploads() -> list[Kept]:
    """The images dropped earlier in this session (empty when none)."""
    return list(st.session_state.get(KEPT) or [])


def save_uploads(items: list[Any]) -> list[str]:
    """Write uploaded images under the workspace, named by content (same image, same file)."""
    folder = workspace.cache_dir("uploads")
    paths = []
    for item in items:
        data = item.getvalue()
        # Keep the extension (readers go by it); a camera photo has none and is a JPEG.
        suffix = Path(item.name).suffix.lower().lstrip(".")
        suffix = files.safe_name(suffix, fallback="jpg") if suffix else "jpg"
        path = folder / f"{hashlib.sha256(data).hexdigest()[:20]}.{suffix}"
        if not path.exists():
            path.write_bytes(data)
        paths.append(str(path))
    return paths


@dataclass(frozen=True)
class Checked:
    """One dropped file: its own name, where it was saved, and the image or the problem."""

    name: str
    path: str
    image: np.ndarray | None = None
    size: tuple[int, int] | None = None  # the original width and height
    problem: str | None = None  # one sentence when the file cannot be used


def read_uploads(pred: Any, items: list[Any]) -> list[Checked]:
    """Save and decode each upload on its own, so one bad file does not stop the others."""
    out = []
    for item, path in zip(items, save_uploads(items), strict=True):
        try:
            image = pred.load(path)
        except ImageError as e:
            # The saved copy has a made-up name: say the person's own file name.
            out.append(Checked(item.name, path, problem=f"{item.name}: {e.reason}."))
            continue
        out.append(Checked(item.name, path, image, sizes.image_size(path)))
    return out


def predict(pred: Any, lock: threading.Lock, images: list[np.ndarray]) -> list[Any]:
    """Top-3 predictions for decoded images (uint8, the model's size)."""
    if not images:
        return []
    with lock:
        return pred.predict_arrays(np.stack(images), top_k=min(3, len(pred.classes)))


def tiny_note(size: tuple[int, int] | None, model_size: int) -> str | None:
    """A warning for an image too small to say much about, else None."""
    if not sizes.is_tiny(size):
        return None
    w, h = size
    return (
        f"This image is only {w} × {h} px: the model sees it blown up to {model_size} px, "
        f"so this answer means little. Use a photo at least {sizes.MIN_SIDE} px on each side."
    )


def gradcam_overlay(pred: Any, lock: threading.Lock, image: np.ndarray) -> np.ndarray:
    """The image with the Grad-CAM heatmap of the predicted class blended over it."""
    from tlcore.results import gradcam

    with lock:
        heat = gradcam.gradcam(pred.model, image)
    return gradcam.overlay(image, heat)


def predictions_csv(names: list[str], preds: list[Any]) -> bytes:
    """One row per image: file, predicted class, probability, then the top classes."""
    out = io.StringIO()
    writer = csv.writer(out)
    k = max((len(p.top_k) for p in preds), default=0)
    writer.writerow(
        ["file", "predicted", "probability"]
        + [c for i in range(1, k + 1) for c in (f"top{i}", f"top{i}_probability")]
    )
    for name, p in zip(names, preds, strict=True):
        row = [name, p.label, f"{p.probability:.4f}"]
        for label, prob in p.top_k:
            row += [label, f"{prob:.4f}"]
        writer.writerow(row)
    return out.getvalue().encode("utf-8")


def export_zip(run_id: str, fmt: str) -> tuple[bytes, str, float | None]:
    """Export a run's model and zip it with labels.txt; return (bytes, file name, agreement)."""
    from tlcore.results import export

    result = export.export_run(run_id, fmt)
    info = result.to_dict()
    path = Path(info["path"])
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        if path.is_dir():
            for f in sorted(path.rglob("*")):
                if f.is_file():
                    z.write(f, f"{path.name}/{f.relative_to(path)}")
        else:
            z.write(path, path.name)
        labels = run_files.run_path(run_id) / "labels.txt"
        if labels.is_file():
            z.write(labels, "labels.txt")
    name = f"{run_status.file_stem(run_info.load_run(run_id))}-{fmt}.zip"
    return buf.getvalue(), name, info.get("agreement")
