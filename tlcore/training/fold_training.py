"""Cross-validation of a network trained by gradient (fine-tune the top, full, scratch).

With few photos a held-out test split holds a handful of images, so a comparison scores
every strategy the way the solved head is scored: k fold models, each trained on the
other folds and asked about the images it left out (``crossval.kfold_assignments``, the
same seed and the same image order, hence the same folds, for every strategy of the
comparison: the strategies are compared image by image). The final model is the run's
own, trained on every image. Each fold model is an ordinary training (the loop hands in
how it trains) in a scratch folder, its events kept in memory, and the fold models share
the run's time budget with the final model (``trainings``).
"""

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from tlcore.config import TrainConfig


def wanted(config: TrainConfig) -> bool:
    """Cross-validation asked for, and something trains by gradient (not only a solved head)."""
    from tlcore.training.phases import plan_phases

    return config.cross_validate and not all(p.solve for p in plan_phases(config))


def trainings(config: TrainConfig) -> int:
    """How many models the run trains: the final one, plus one per fold when cross-validated."""
    return config.cv_folds + 1 if wanted(config) else 1


def out_of_fold(s: Any, train_fold: Callable[[dict[str, Any], Path], Any]) -> tuple[Any, bool]:
    """Train one model per fold and predict the images it left out.

    Args:
        s: the loop's ``Session`` after the final model trained (its config and data).
        train_fold: ``train_fold(data, folder)`` trains a model on ``data`` (the loop's way, its
            files in ``folder``) and returns it, or None when a stop was asked for.

    Returns:
        ``(OutOfFold or None, stopped)``: None when a stop was asked for meanwhile.
    """
    from tlcore.training import features
    from tlcore.training.crossval import OutOfFold, kfold_assignments

    images, labels, paths = s.data["train"]
    y = np.asarray(labels, dtype=np.int64)
    k = s.config.cv_folds
    fold_of = kfold_assignments(y, k, s.config.seed)
    probs = np.zeros((len(y), len(s.classes)))
    accuracies = []
    empty = (images[:0], y[:0], [])
    for f in range(k):
        if s.should_stop():
            return None, True
        s.log.emit(
            "crossval",
            stage="cross-validate",
            fold=f + 1,
            folds=k,
            message=f"Cross-validating: training on {k - 1} of {k} parts of the images and "
            f"testing on the rest (fold {f + 1}/{k}).",
        )
        test, kept = np.flatnonzero(fold_of == f), np.flatnonzero(fold_of != f)
        data = {
            "train": (images[kept], y[kept], [paths[i] for i in kept]),
            "val": empty,
            "test": empty,
        }
        with tempfile.TemporaryDirectory(prefix=".fold-", dir=s.run_dir) as scratch:
            model = train_fold(data, Path(scratch))
            if model is None:
                return None, True
            p = np.asarray(features.extract(model, images[test]), dtype=np.float64)
        probs[test] = p
        accuracies.append(float((p.argmax(axis=1) == y[test]).mean()))
    return OutOfFold(probs, fold_of, tuple(accuracies)), False


def scored(s: Any) -> tuple[dict[str, Any], np.ndarray]:
    """The cross-validated evaluation of the fold models (``s.oof``), and its probabilities."""
    from tlcore.training.crossval import summarise
    from tlcore.training.evaluate import evaluate

    _images, labels, paths = s.data["train"]
    oof = s.oof
    summary = summarise(oof.fold_accuracies, oof.probs, labels, s.classes, paths)
    result = evaluate(labels, oof.probs, s.classes, paths)
    result["accuracy"] = summary["accuracy"]
    for key in ("folds", "accuracy_std", "fold_accuracies", "pooled_accuracy"):
        result[key] = summary[key]
    epochs = s.config.epochs
    result["sentence"] = (
        f"Accuracy is cross-validated ({summary['folds']} folds, the same for every strategy "
        f"compared): each fold model trained up to {epochs} epochs"
        + (" within its share of the time budget" if s.config.budget_seconds else "")
        + f"; the final model is trained on all {len(labels)} images."
    )
    return result, oof.probs
