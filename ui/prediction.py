"""Prediction helpers for the Predict page: cached models, saved uploads, CSV and exports."""

import csv
import hashlib
import io
import threading
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st

from tlcore import workspace
from tlcore.data.images import IMAGE_EXTENSIONS
from tlcore.runs import store
from ui import files

IMAGE_TYPES = sorted(e.lstrip(".") for e in IMAGE_EXTENSIONS)


def model_stamp(run_id: str) -> float:
    """The model file's mtime, so a retrained or re-saved model is loaded again."""
    path = store.run_path(run_id) / "model.keras"
    return path.stat().st_mtime if path.is_file() else 0.0


@st.cache_resource(max_entries=3, show_spinner=False)
def predictor(run_id: str, stamp: float) -> tuple[Any, threading.Lock]:
    """Load a run's predictor once (shared by all sessions) with a lock for its model."""
    from tlcore.results.predict import load_predictor

    return load_predictor(run_id), threading.Lock()


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


def predict(pred: Any, lock: threading.Lock, paths: list[str]) -> list[Any]:
    """Top-3 predictions for image files."""
    with lock:
        return pred.predict_paths(paths, top_k=min(3, len(pred.classes)))


def gradcam_overlay(pred: Any, lock: threading.Lock, image: np.ndarray) -> np.ndarray:
    """The image with the Grad-CAM heatmap of the predicted class blended over it."""
    from tlcore.results import gradcam

    with lock:
        heat = gradcam.gradcam(pred.model, image)
    return gradcam.overlay(image, heat)


def predictions_csv(items: list[Any], preds: list[Any]) -> bytes:
    """One row per image: file, predicted class, probability, then the top classes."""
    out = io.StringIO()
    writer = csv.writer(out)
    k = max((len(p.top_k) for p in preds), default=0)
    writer.writerow(
        ["file", "predicted", "probability"]
        + [c for i in range(1, k + 1) for c in (f"top{i}", f"top{i}_probability")]
    )
    for item, p in zip(items, preds, strict=True):
        row = [item.name, p.label, f"{p.probability:.4f}"]
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
        labels = store.run_path(run_id) / "labels.txt"
        if labels.is_file():
            z.write(labels, "labels.txt")
    name = f"{run_id}-{fmt}.zip"
    return buf.getvalue(), name, info.get("agreement")
