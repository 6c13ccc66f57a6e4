"""Small-data evaluation: k-fold cross-validation instead of a tiny held-out test set.

With 5 to 50 photos a class, a 10% test split holds a handful of images and its accuracy
swings by 10-20 points with the luck of the draw. Below ``MIN_CLASS_IMAGES`` images in
the smallest class (or ``MIN_TOTAL_IMAGES`` in all), every image is predicted once by a
model that did not train on it (out-of-fold), accuracy is reported as the mean and spread
over the folds, and the final model is trained on every image.

Pure numpy: the model is a ``fit_fn`` argument, so the same code scores the head solver
(``tlcore.training.head_solver``) or a fine-tuned network.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tlcore.errors import DataError
from tlcore.training.evaluate import per_class_scores

MIN_CLASS_IMAGES = 30
"""Cross-validate below this many images in the smallest class: a 10% test split would
hold at most 2 images of it, so its recall could only read 0%, 50% or 100%."""

MIN_TOTAL_IMAGES = 300
"""...or below this many images in all: the test split would hold fewer than 30 images,
whose accuracy is uncertain by +-8 points (one standard error at 75%) by chance alone."""

DEFAULT_FOLDS = 5

FitFn = Callable[[Any, np.ndarray, Any], np.ndarray]
"""``fit_fn(train_x, train_labels, test_x) -> probabilities (len(test_x), n_classes)``."""


@dataclass(frozen=True, eq=False)
class OutOfFold:
    """Out-of-fold predictions: each image predicted by the fold model that left it out.

    Attributes:
        probs: (N, K) probabilities.
        fold_of: (N,) fold index of each image.
        fold_accuracies: accuracy of each fold's model on the images it left out.
    """

    probs: np.ndarray
    fold_of: np.ndarray
    fold_accuracies: tuple[float, ...]


def _counts(class_counts: Sequence[int] | Mapping[str, int]) -> list[int]:
    values = class_counts.values() if isinstance(class_counts, Mapping) else class_counts
    return [int(c) for c in values]


def should_cross_validate(
    class_counts: Sequence[int] | Mapping[str, int], user_gave_split: bool
) -> tuple[bool, str]:
    """Whether accuracy should be cross-validated rather than measured on a test split.

    Args:
        class_counts: images per class (a list, or ``{class: count}``).
        user_gave_split: the dataset came with its own ``train/ val/ test/`` folders or a
            saved split file; that choice is always kept.

    Returns:
        ``(decision, reason)``, the reason one plain sentence for the person.
    """
    counts = _counts(class_counts)
    if user_gave_split:
        return False, "Your dataset has its own test images, so accuracy is measured on them."
    if not counts:
        return False, "There are no images to evaluate."
    total, smallest = sum(counts), min(counts)
    if smallest < MIN_CLASS_IMAGES:
        return True, (
            f"The smallest class has {smallest} image{'s' * (smallest != 1)}: a held-out test "
            f"set would hold too few of them to measure anything, so accuracy is "
            "cross-validated and the final model trains on every image."
        )
    if total < MIN_TOTAL_IMAGES:
        return True, (
            f"{total} images are too few for a held-out test set (its accuracy would swing "
            "by several points by chance), so accuracy is cross-validated and the final "
            "model trains on every image."
        )
    return False, (
        f"With {total} images and at least {smallest} a class, a held-out test set "
        "measures accuracy well enough."
    )


def fold_count(class_counts: Sequence[int] | Mapping[str, int], wanted: int = DEFAULT_FOLDS) -> int:
    """Folds that keep every class in every training part: ``min(wanted, smallest class)``,
    at least 2."""
    counts = _counts(class_counts)
    return max(2, min(int(wanted), min(counts) if counts else 2))


def check_folds(k: int, images: int) -> None:
    """Raise ``DataError`` unless ``images`` can be dealt into ``k`` folds."""
    if k < 2:
        raise DataError(f"Cross-validation needs at least 2 folds (got {k}).")
    if images < k:
        raise DataError(f"Cannot make {k} folds from {images} images: use at most {images} folds.")


def kfold_assignments(labels: Sequence[int] | np.ndarray, k: int, seed: int) -> np.ndarray:
    """Stratified, seeded fold index (0..k-1) for each image.

    Each class is shuffled on its own (``seed`` and the class index seed it, so adding a
    class never reshuffles another), then all classes are dealt round-robin, one fold after
    the other, continuing where the previous class stopped: every class is spread as evenly
    as it can be over the folds, and fold sizes differ by at most one. The same labels in
    the same order and the same seed always give the same folds.

    Raises:
        DataError: fewer than 2 folds, or fewer images than folds.
    """
    y = np.asarray(labels, dtype=np.int64).reshape(-1)
    check_folds(k, len(y))
    fold_of = np.empty(len(y), dtype=np.int64)
    position = 0
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        np.random.default_rng([int(seed) & 0xFFFFFFFF, int(c)]).shuffle(members)
        fold_of[members] = (position + np.arange(len(members))) % k
        position += len(members)
    return fold_of


def out_of_fold_predictions(
    features: Any,
    labels: Sequence[int] | np.ndarray,
    fit_fn: FitFn,
    k: int,
    seed: int,
    progress: Callable[[dict[str, Any]], None] | None = None,
) -> OutOfFold:
    """Train ``k`` models, each leaving one fold out, and predict the images left out.

    Args:
        features: (N, ...) anything indexable by an index array (array, memmap).
        labels: (N,) class indices.
        fit_fn: ``fit_fn(train_x, train_labels, test_x) -> (len(test_x), K) probabilities``.
        k: folds (see ``fold_count``).
        seed: seeds the fold assignment.
        progress: called before each fold with ``{"stage": "cross-validate", "fold",
            "folds", "message"}``.

    Returns:
        The out-of-fold probabilities, fold of each image and per-fold accuracies.
    """
    y = np.asarray(labels, dtype=np.int64).reshape(-1)
    fold_of = kfold_assignments(y, k, seed)
    probs: np.ndarray | None = None
    accuracies = []
    for f in range(k):
        if progress is not None:
            progress(
                {
                    "stage": "cross-validate",
                    "fold": f + 1,
                    "folds": k,
                    "message": f"Cross-validating: training on {k - 1} of {k} parts of the "
                    f"images and testing on the rest (fold {f + 1}/{k}).",
                }
            )
        test = np.flatnonzero(fold_of == f)
        train = np.flatnonzero(fold_of != f)
        p = np.asarray(fit_fn(features[train], y[train], features[test]), dtype=np.float64)
        if p.ndim != 2 or len(p) != len(test):
            raise ValueError(
                f"fit_fn returned probabilities of shape {p.shape} for {len(test)} images."
            )
        if probs is None:
            probs = np.zeros((len(y), p.shape[1]))
        probs[test] = p
        accuracies.append(float((p.argmax(axis=1) == y[test]).mean()))
    assert probs is not None
    return OutOfFold(probs, fold_of, tuple(accuracies))


def describe(n_images: int, folds: int) -> str:
    """One plain sentence saying what was done, for the Results page and the CLI."""
    return (
        f"Accuracy is cross-validated ({folds} folds): {n_images} images are too few for a "
        f"held-out test set; the final model is trained on all {n_images}."
    )


def summarise(
    fold_accuracies: Sequence[float],
    oof_probs: np.ndarray,
    labels: Sequence[int] | np.ndarray,
    classes: Sequence[str],
    paths: Sequence[str] | None = None,
    max_misclassified: int = 200,
) -> dict[str, Any]:
    """The cross-validated counterpart of a held-out evaluation, JSON-ready.

    Args:
        fold_accuracies: accuracy of each fold's model on its left-out images.
        oof_probs: (N, K) out-of-fold probabilities.
        labels: (N,) true class indices.
        classes: class names in index order.
        paths: the image files, to list the misclassified ones (most confident first).
        max_misclassified: keep at most this many.

    Returns:
        ``{"evaluation": "cross-validation", "folds", "accuracy" (mean over folds),
        "accuracy_std" (spread over folds), "fold_accuracies", "pooled_accuracy" (all
        out-of-fold predictions at once), "classes", "per_class", "confusion_matrix",
        "misclassified", "sentence"}``.
    """
    y = np.asarray(labels, dtype=np.int64).reshape(-1)
    probs = np.asarray(oof_probs, dtype=np.float64).reshape(len(y), len(classes))
    accs = np.asarray(fold_accuracies, dtype=np.float64)
    pred = probs.argmax(axis=1) if len(y) else np.zeros(0, dtype=np.int64)
    matrix = np.zeros((len(classes), len(classes)), dtype=np.int64)
    np.add.at(matrix, (y, pred), 1)
    wrong = np.flatnonzero(pred != y)
    order = wrong[np.argsort(-probs[wrong, pred[wrong]], kind="stable")][:max_misclassified]
    return {
        "evaluation": "cross-validation",
        "folds": len(accs),
        "accuracy": float(accs.mean()) if len(accs) else 0.0,
        "accuracy_std": float(accs.std()) if len(accs) else 0.0,
        "fold_accuracies": [float(a) for a in accs],
        "pooled_accuracy": float((pred == y).mean()) if len(y) else 0.0,
        "classes": list(classes),
        "per_class": per_class_scores(matrix, classes),
        "confusion_matrix": matrix.tolist(),
        "misclassified": [
            {
                "path": str(paths[i]) if paths is not None else str(i),
                "true": classes[y[i]],
                "predicted": classes[pred[i]],
                "confidence": float(probs[i, pred[i]]),
            }
            for i in order
        ],
        "sentence": describe(len(y), len(accs)),
    }
