"""Classify images with a trained run (or a TransferLab ``.keras`` file).

Images go through ``tlcore.data.images.load_image`` with the run's own size and resize mode,
so every format the data layer accepts works and a prediction sees the image exactly as
training did. The model takes raw RGB pixels (preprocessing is inside it).
"""

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tlcore.errors import ModelFileError, RunError


@dataclass(frozen=True)
class Prediction:
    """Top-1 label and probability, plus the ``top_k`` (label, probability) pairs."""

    path: str
    label: str
    probability: float
    top_k: list[tuple[str, float]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form ``predict --json`` prints."""
        return {
            "path": self.path,
            "label": self.label,
            "probability": self.probability,
            "top_k": [{"label": lb, "probability": p} for lb, p in self.top_k],
        }


def predict_probs(model: Any, images: Any, batch_size: int = 64) -> np.ndarray:
    """Class probabilities for uint8 images (N,S,S,3) (may be a memmap), in batches."""
    from tlcore.training.features import extract

    return extract(model, images, batch_size)


class Predictor:
    """A loaded model with its class names, input size and resize mode."""

    def __init__(
        self, model: Any, classes: Sequence[str], resize_mode: str = "pad", source: str = ""
    ) -> None:
        self.model = model
        self.classes = list(classes)
        self.image_size = int(model.input_shape[1])
        # A grey (one-channel) model sees the image as PIL's "L" conversion would.
        self.grey = int(model.input_shape[-1]) == 1
        self.resize_mode = resize_mode
        self.source = source
        n_out = int(model.output_shape[-1])
        if n_out == 1:
            raise ModelFileError(
                "The model gives a single score per image (a yes/no output), not one per "
                "class; TransferLab reads classifiers whose last layer has one output per "
                "class (softmax), such as the models it trains."
            )
        if len(self.classes) != n_out:
            raise ModelFileError(
                f"The model gives {n_out} class scores but its labels name "
                f"{len(self.classes)} classes; labels.txt beside it needs one class name a "
                f"line for each of its {n_out} outputs, in order."
            )

    def load(self, path: str | os.PathLike) -> np.ndarray:
        """Decode one image the way training did (uint8 (S,S,3))."""
        from tlcore.data.images import load_image

        return load_image(path, self.image_size, self.resize_mode)

    def predict_arrays(
        self, images: Any, top_k: int = 3, paths: Sequence[str] | None = None
    ) -> list[Prediction]:
        """Predict uint8 images (N,S,S,3) or one (S,S,3)."""
        images = np.asarray(images)
        if images.ndim == 3:
            images = images[None]
        if self.grey and images.shape[-1] == 3:
            luma = images.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
            images = np.round(luma)[..., None].astype(np.uint8)
        probs = predict_probs(self.model, images)
        k = max(1, min(top_k, len(self.classes)))
        out = []
        for i, p in enumerate(probs):
            order = np.argsort(-p, kind="stable")[:k]
            pairs = [(self.classes[j], float(p[j])) for j in order]
            out.append(
                Prediction(
                    str(paths[i]) if paths is not None else str(i), pairs[0][0], pairs[0][1], pairs
                )
            )
        return out

    def predict_paths(self, paths: Sequence[str | os.PathLike], top_k: int = 3) -> list[Prediction]:
        """Predict image files (``ImageError`` names a file that cannot be read)."""
        if not paths:
            return []
        images = np.stack([self.load(p) for p in paths])
        return self.predict_arrays(images, top_k, [str(p) for p in paths])


def _labels_beside(model_path: Path) -> list[str]:
    """The class names saved next to a model: ``labels.json`` (exact), else ``labels.txt``.

    Raises:
        ModelFileError: neither is there (made-up names like ``class_0`` would pass for
            answers), or ``labels.txt`` is not UTF-8 text.
    """
    import json

    try:
        names = json.loads(model_path.with_name("labels.json").read_text(encoding="utf-8"))
        if isinstance(names, list) and all(isinstance(x, str) for x in names):
            return names
    except (OSError, ValueError):
        pass
    labels = model_path.with_name("labels.txt")
    try:
        text = labels.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ModelFileError(
            f"'{labels}' is not UTF-8 text; save it again as UTF-8 (one class name a line)."
        ) from None
    except OSError:
        raise ModelFileError(
            f"There are no class names beside '{model_path.name}': put a labels.txt next to "
            "it with one class name a line, in the order of the model's outputs."
        ) from None
    return [ln for ln in text.splitlines() if ln.strip()]


def load_predictor(ref: str | os.PathLike) -> Predictor:
    """Load a predictor from a run id, a run folder or a ``.keras`` model file.

    Raises:
        RunError: no such run, or the run has no model yet.
        ModelFileError: the file cannot be loaded safely.
    """
    from tlcore.models.model_files import load_image_model
    from tlcore.runs import run_info

    path = Path(ref)
    if path.is_file():
        model = load_image_model(path)
        return Predictor(model, _labels_beside(path), source=str(path))
    from tlcore.runs.job import require_finished_model

    model_path = require_finished_model(ref)
    info = run_info.load_run(model_path.parent)
    if info.damaged_file == "spec.json":  # its size and resize mode are unknown
        raise RunError(info.error or f"Run {info.run_id} is damaged.")
    model = load_image_model(model_path)
    return Predictor(
        model,
        _labels_beside(model_path),
        info.config.resize_mode,
        source=info.run_id,
    )
