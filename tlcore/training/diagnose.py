"""Plain-language diagnosis of a training run from its curves and its predictions.

Rules of thumb a teacher would apply when looking at the curves, each with a message a
beginner can act on:

- ``overfitting``: validation loss rose again for several epochs after its best while the
  training loss kept falling, or training accuracy ends far above validation accuracy.
- ``underfitting``: even on the training images the accuracy stays low (reported instead
  of overfitting, whose advice is the opposite).
- ``one_class``: the model answers (almost) the same class for every image.
- ``good``: none of the above.
"""

from collections.abc import Sequence
from typing import Any

OVERFIT_GAP = 0.15  # train accuracy minus val accuracy at the end
OVERFIT_RISE = 0.10  # val loss above its best by this fraction ...
OVERFIT_EPOCHS = 2  # ... for at least this many epochs after the best
ONE_CLASS_SHARE = 0.9  # share of predictions going to one class


def _values(history: Sequence[dict[str, Any]], key: str) -> list[float]:
    return [float(h[key]) for h in history if h.get(key) is not None]


def diagnose(
    history: Sequence[dict[str, Any]],
    confusion: Sequence[Sequence[int]] | None = None,
    classes: Sequence[str] | None = None,
) -> list[dict[str, str]]:
    """Return findings ``[{"kind", "message"}]`` (``good`` alone when nothing is wrong).

    Args:
        history: epoch records with ``loss``, ``accuracy``, ``val_loss``, ``val_accuracy``.
        confusion: the evaluation's confusion matrix (rows true, columns predicted).
        classes: class names in index order.
    """
    findings = []
    one = _one_class(confusion, classes)
    if one:
        findings.append(one)
    loss, val_loss = _values(history, "loss"), _values(history, "val_loss")
    acc, val_acc = _values(history, "accuracy"), _values(history, "val_accuracy")
    n_classes = len(classes) if classes else 2
    if acc and acc[-1] < max(0.6, 1.0 / n_classes + 0.25):
        # Underfitting comes first: its cure (train more, unfreeze more) is the opposite
        # of overfitting's, and a gap to validation means little before the model has
        # learned its own training images. So we report one, never both.
        gap = (
            f" Validation is lower still ({val_acc[-1]:.0%}), but fix this first."
            if val_acc and acc[-1] - val_acc[-1] > OVERFIT_GAP
            else ""
        )
        findings.append(
            {
                "kind": "underfitting",
                "message": (
                    "Underfitting: even on the training images the accuracy is only "
                    f"{acc[-1]:.0%}. "
                    "Train for more epochs, raise the learning rate a little, or unfreeze more "
                    f"layers so the model can learn more.{gap}"
                ),
            }
        )
    else:
        overfit = _overfitting(loss, val_loss, acc, val_acc)
        if overfit:
            findings.append(overfit)
    if not findings:
        findings.append(
            {
                "kind": "good",
                "message": (
                    "Looks healthy: training and validation curves agree and the model uses every "
                    "class. More data or augmentation may still raise the accuracy."
                ),
            }
        )
    return findings


def _overfitting(
    loss: list[float], val_loss: list[float], acc: list[float], val_acc: list[float]
) -> dict[str, str] | None:
    if len(val_loss) >= OVERFIT_EPOCHS + 1 and len(loss) == len(val_loss):
        best = min(range(len(val_loss)), key=val_loss.__getitem__)
        after = val_loss[best + 1 :]
        rising = [v for v in after if v > val_loss[best] * (1 + OVERFIT_RISE)]
        if len(rising) >= OVERFIT_EPOCHS and loss[-1] < loss[best]:
            return {
                "kind": "overfitting",
                "message": (
                    f"Overfitting: validation loss was best at epoch {best + 1} and rose after "
                    "it while the training loss kept falling: the model is memorising the "
                    "training images. The best epoch was kept; more data, augmentation or "
                    "fewer trainable layers would help."
                ),
            }
    if acc and val_acc and acc[-1] - val_acc[-1] > OVERFIT_GAP:
        return {
            "kind": "overfitting",
            "message": (
                f"Overfitting: {acc[-1]:.0%} accuracy on training images but {val_acc[-1]:.0%} "
                "on validation images. Add augmentation or more data, or freeze more layers."
            ),
        }
    return None


def _one_class(
    confusion: Sequence[Sequence[int]] | None, classes: Sequence[str] | None
) -> dict[str, str] | None:
    if not confusion or not classes or len(classes) < 2:
        return None
    predicted = [sum(row[j] for row in confusion) for j in range(len(classes))]
    total = sum(predicted)
    if total < 5:
        return None
    top = max(range(len(classes)), key=predicted.__getitem__)
    true_share = sum(confusion[top]) / total
    if predicted[top] / total >= ONE_CLASS_SHARE and true_share < ONE_CLASS_SHARE - 0.2:
        return {
            "kind": "one_class",
            "message": (
                f"The model answers '{classes[top]}' for {predicted[top] / total:.0%} of the "
                "images: "
                "it has not learned to tell the classes apart. Check the class balance, train "
                "longer, or lower the learning rate if the loss jumped around."
            ),
        }
    return None
