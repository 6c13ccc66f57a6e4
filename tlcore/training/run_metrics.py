"""The final evaluation of a run: metrics of its best model on held-out images.

``metrics.json`` holds the scores; ``predictions.json`` every evaluated image's answer,
kept apart because it grows with the test set while the metrics are read every second.
"""

from typing import Any

import numpy as np

from tlcore import fsutil
from tlcore.training import features
from tlcore.training.diagnose import diagnose
from tlcore.training.evaluate import evaluate, image_predictions
from tlcore.training.phases import plan_phases

PREDICTIONS_FILE = "predictions.json"  # every held-out image's answer (confusion matrix cells)


def _predict(model: Any, cut: Any, feats: dict | None, images: Any, name: str) -> np.ndarray:
    # After a fast final phase the trained part on the cached tensors gives the model's
    # predictions (equal to 1e-5, see tests) without running the frozen part again.
    if cut is not None and feats is not None:
        return features.extract(cut.trainable, feats[name], batch_size=256)
    return features.extract(model, images)


def write_metrics(s: Any) -> None:
    """Evaluate the saved model on the test split (else validation, else training) and
    write ``metrics.json``; ``s`` is the loop's ``Session``."""
    import time

    model, cut, feats, data, classes = s.model, s.cut, s.feats, s.data, s.classes
    keeper, counts, t0 = s.keeper, s.counts, s.log.t0

    name = "test" if len(data["test"][1]) else ("val" if len(data["val"][1]) else "train")
    images, labels, paths = data[name]
    if s.config.cross_validate and getattr(s, "oof", None) is not None:
        from tlcore.training.fold_training import scored  # fold models trained by gradient

        name = "cross-validation"
        result, probs = scored(s)
    elif s.config.cross_validate and s.head_fit is not None:
        name = "cross-validation"
        result, probs = cross_validated(s)
    else:
        probs = _predict(model, cut, feats, images, name)
        result = evaluate(labels, probs, classes, paths)
    # Before metrics.json: a reader that sees the metrics finds the images of each cell.
    fsutil.atomic_write_json(
        s.run_dir / PREDICTIONS_FILE,
        {
            "split": name,
            "classes": list(classes),
            "images": image_predictions(labels, probs, classes, paths),
        },
        make_parent=False,  # a run folder deleted meanwhile stays deleted
    )
    val_accuracy = result["accuracy"] if name == "val" else None
    if name == "test" and len(data["val"][1]):
        val_probs = _predict(model, cut, feats, data["val"][0], "val")
        val_accuracy = evaluate(data["val"][1], val_probs, classes)["accuracy"]
    metrics = {
        "split": name,
        **result,
        "diagnosis": diagnose(
            keeper.history,
            result["confusion_matrix"],
            classes,
            all_layers_train=s.config.freeze.strategy in ("full", "scratch"),
            evaluated_on=name,
            solved=all(p.solve for p in plan_phases(s.config)),
        ),
        "best_epoch": keeper.best_epoch,
        "epochs_run": len(keeper.history),
        "seconds": round(time.time() - t0, 2),
        "trainable_params": counts[0],
        "non_trainable_params": counts[1],
        "val_accuracy": val_accuracy,
        "test_accuracy": result["accuracy"] if name in ("test", "cross-validation") else None,
        "evaluation": result.get("sentence") or _sentence(name, len(labels)),
        "head_solver": _head_summary(s.head_fit, getattr(s, "head_choice", None)),
        "history": keeper.history,
    }
    fsutil.atomic_write_json(s.run_dir / "metrics.json", metrics, make_parent=False)
    s.status(
        test_accuracy=metrics["test_accuracy"], epochs_run=len(keeper.history), evaluation=name
    )


def cross_validated(s: Any) -> tuple[dict[str, Any], np.ndarray]:
    """k-fold accuracy of the solved head: each image predicted by a head that never saw it.

    The frozen backbone never learns from the images, so re-solving the head per fold
    (its regularisation chosen again inside each fold) scores the whole model honestly.
    """
    from tlcore.training.crossval import summarise
    from tlcore.training.head_solver import out_of_fold

    _images, labels, paths = s.data["train"]

    def progress(event: dict) -> None:
        s.log.emit("crossval", **{a: b for a, b in event.items() if _plain(b)})

    oof = getattr(s, "head_oof", None) or out_of_fold(
        s.head_features["train"],
        labels,
        len(s.classes),
        s.config.cv_folds,
        class_weight=s.class_weight,
        seed=s.config.seed,
        progress=progress,
    )  # fmt: skip  (head_oof: the same computation, done when the features were chosen)
    summary = summarise(oof.fold_accuracies, oof.probs, labels, s.classes, paths)
    result = evaluate(labels, oof.probs, s.classes, paths)
    result["accuracy"] = summary["accuracy"]  # the mean over folds, with its spread
    for key in ("folds", "accuracy_std", "fold_accuracies", "pooled_accuracy", "sentence"):
        result[key] = summary[key]
    return result, oof.probs


def _head_summary(fit: Any, choice: Any = None) -> dict[str, Any] | None:
    if fit is None:
        return None
    from tlcore.training.head_fit import describe

    if choice is None:
        return {**fit.summary(), "message": describe(fit)}
    message = f"{describe(fit)} {choice.reason}"
    return {**fit.summary(), "message": message, "feature_set": choice.to_dict()}


def _plain(value: Any) -> bool:
    return isinstance(value, str | int | float | bool) or value is None


def _sentence(split: str, n: int) -> str:
    if split == "test":
        return f"Accuracy on {n} held-out test images the model never trained on."
    if split == "val":
        return f"Accuracy on {n} validation images (there is no test split)."
    return (
        f"Accuracy on the {n} training images themselves (no image was held out), so it "
        "says little about new images."
    )
