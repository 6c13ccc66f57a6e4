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
        ),
        "best_epoch": keeper.best_epoch,
        "epochs_run": len(keeper.history),
        "seconds": round(time.time() - t0, 2),
        "trainable_params": counts[0],
        "non_trainable_params": counts[1],
        "val_accuracy": val_accuracy,
        "test_accuracy": result["accuracy"] if name == "test" else None,
        "history": keeper.history,
    }
    fsutil.atomic_write_json(s.run_dir / "metrics.json", metrics)
    s.status(test_accuracy=metrics["test_accuracy"], epochs_run=len(keeper.history))
