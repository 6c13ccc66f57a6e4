"""Evaluation metrics from predicted probabilities (pure numpy, no TensorFlow).

``evaluate(y_true, probs, classes, paths)`` returns the parts of ``metrics.json`` that
describe predictions: accuracy, per-class precision / recall / F1 / support, the confusion
matrix (rows = true class, columns = predicted) and the misclassified files, most
confident mistakes first (those are the ones worth looking at: often a wrong label).
``image_predictions`` lists every image's answer (``predictions.json``), the contents of
each confusion-matrix cell.
"""

from collections.abc import Sequence
from typing import Any

import numpy as np


def confusion_matrix(y_true: Sequence[int], y_pred: Sequence[int], n: int) -> np.ndarray:
    """Return the ``n x n`` int matrix: rows true class, columns predicted class."""
    m = np.zeros((n, n), dtype=np.int64)
    np.add.at(m, (np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)), 1)
    return m


def per_class_scores(matrix: np.ndarray, classes: Sequence[str]) -> dict[str, dict[str, float]]:
    """Return ``{class: {precision, recall, f1, support}}``; 0 where undefined (no division)."""
    tp = np.diag(matrix).astype(float)
    predicted = matrix.sum(axis=0).astype(float)
    support = matrix.sum(axis=1)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    return {
        c: {
            "precision": float(precision[i]),
            "recall": float(recall[i]),
            "f1": float(f1[i]),
            "support": int(support[i]),
        }
        for i, c in enumerate(classes)
    }


def evaluate(
    y_true: Sequence[int],
    probs: np.ndarray,
    classes: Sequence[str],
    paths: Sequence[str] | None = None,
    max_misclassified: int = 200,
) -> dict[str, Any]:
    """Score predictions against true labels.

    Args:
        y_true: true class indices (N,).
        probs: predicted probabilities (N, C).
        classes: class names in index order.
        paths: the image files, to list the misclassified ones.
        max_misclassified: keep at most this many (most confident first).

    Returns:
        ``{"classes", "accuracy", "per_class", "confusion_matrix", "misclassified"}``.
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    probs = np.asarray(probs, dtype=np.float64).reshape(len(y_true), len(classes))
    y_pred = probs.argmax(axis=1) if len(y_true) else np.zeros(0, dtype=np.int64)
    matrix = confusion_matrix(y_true, y_pred, len(classes))
    wrong = np.flatnonzero(y_pred != y_true)
    confidence = probs[wrong, y_pred[wrong]] if len(wrong) else np.zeros(0)
    order = wrong[np.argsort(-confidence, kind="stable")][:max_misclassified]
    misclassified = [
        {
            "path": str(paths[i]) if paths is not None else str(i),
            "true": classes[y_true[i]],
            "predicted": classes[y_pred[i]],
            "confidence": float(probs[i, y_pred[i]]),
        }
        for i in order
    ]
    return {
        "classes": list(classes),
        "accuracy": float((y_pred == y_true).mean()) if len(y_true) else 0.0,
        "per_class": per_class_scores(matrix, classes),
        "confusion_matrix": matrix.tolist(),
        "misclassified": misclassified,
    }


def image_predictions(
    y_true: Sequence[int],
    probs: np.ndarray,
    classes: Sequence[str],
    paths: Sequence[str],
    top_k: int = 3,
) -> list[dict[str, Any]]:
    """Every image's answer: ``{"path", "true", "predicted", "probability", "top"}``.

    ``top`` is ``[[class, probability], ...]``, the ``top_k`` most likely first. This is
    what each cell of the confusion matrix is made of, so a person can open a cell and
    see its images.
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    probs = np.asarray(probs, dtype=np.float64).reshape(len(y_true), len(classes))
    k = max(1, min(top_k, len(classes)))
    out = []
    for i, p in enumerate(probs):
        order = np.argsort(-p, kind="stable")[:k]
        out.append(
            {
                "path": str(paths[i]),
                "true": classes[y_true[i]],
                "predicted": classes[order[0]],
                "probability": round(float(p[order[0]]), 4),
                "top": [[classes[j], round(float(p[j]), 4)] for j in order],
            }
        )
    return out
