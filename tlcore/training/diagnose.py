"""Plain-language diagnosis of a training run from its curves and its predictions.

Rules of thumb a teacher would apply when looking at the curves, each with a message a
beginner can act on:

- ``overfitting``: validation loss rose again for several epochs after its best while the
  training loss kept falling, or training accuracy ends far above validation accuracy.
- ``underfitting``: even on the training images the accuracy stays low (reported instead
  of overfitting, whose advice is the opposite).
- ``one_class``: the model answers (almost) the same class for every image. When it is
  also underfitting, the two are one finding: one cause, one piece of advice.
- ``good``: none of the above.

The advice is one consistent answer: the learning rate is either to be lowered (the loss
jumped up between epochs) or raised a little (it fell, but too slowly), never both; and
"unfreeze more layers" is not offered when every layer already trains.
"""

from collections.abc import Sequence
from itertools import pairwise
from typing import Any

OVERFIT_GAP = 0.15  # train accuracy minus val accuracy at the end
OVERFIT_RISE = 0.10  # val loss above its best by this fraction ...
OVERFIT_EPOCHS = 2  # ... for at least this many epochs after the best
ONE_CLASS_SHARE = 0.9  # share of predictions going to one class ...
OTHERS_FOUND = 0.1  # ... while at most this share of the other classes' images is right
JUMP = 0.10  # a training loss this much above the epoch before it "jumped around"


def _values(history: Sequence[dict[str, Any]], key: str) -> list[float]:
    return [float(h[key]) for h in history if h.get(key) is not None]


def loss_jumped(loss: Sequence[float]) -> bool:
    """True when the training loss rose between epochs, or ended above where it started:
    the sign of a learning rate that is too high."""
    rose = any(b > a * (1 + JUMP) for a, b in pairwise(loss))
    return rose or (len(loss) >= 2 and loss[-1] > loss[0])


def diagnose(
    history: Sequence[dict[str, Any]],
    confusion: Sequence[Sequence[int]] | None = None,
    classes: Sequence[str] | None = None,
    all_layers_train: bool = False,
    evaluated_on: str | None = None,
    solved: bool = False,
) -> list[dict[str, str]]:
    """Return findings ``[{"kind", "message"}]`` (``good`` alone when nothing is wrong).

    Args:
        history: epoch records with ``loss``, ``accuracy``, ``val_loss``, ``val_accuracy``.
        confusion: the evaluation's confusion matrix (rows true, columns predicted).
        classes: class names in index order.
        all_layers_train: every layer already trains (full fine-tune, from scratch), so
            "unfreeze more layers" is no advice.
        evaluated_on: what ``confusion`` was measured on (``test``, ``val``, ``train``,
            ``cross-validation``), said in the message.
        solved: the head was solved at once (no epochs): no curves to speak of, and
            "train for more epochs" or a learning rate is no advice.
    """
    loss, val_loss = _values(history, "loss"), _values(history, "val_loss")
    acc, val_acc = _values(history, "accuracy"), _values(history, "val_accuracy")
    n_classes = len(classes) if classes else 2
    one = _one_class(confusion, classes)
    underfit = bool(acc) and acc[-1] < max(0.6, 1.0 / n_classes + 0.25)
    if one or underfit:
        # Underfitting comes before overfitting: its cure (train more, unfreeze more) is
        # the opposite, and a gap to validation means little before the model has
        # learned its own training images. So we report one, never both.
        return [_not_learned(one, acc, val_acc, loss, underfit, all_layers_train, solved)]
    overfit = _overfitting(loss, val_loss, acc, val_acc)
    if overfit:
        return [overfit]
    held = _held_out(confusion, acc, n_classes, evaluated_on, solved)
    if held:
        return [held]
    return [{"kind": "good", "message": _healthy(val_loss, confusion, classes, evaluated_on)}]


_ON = {
    "test": " on the test images",
    "val": " on the validation images",
    "train": " on its own training images",
    "cross-validation": " in the cross-validation (each image predicted by a model that "
    "did not train on it)",
}


def _healthy(
    val_loss: list[float],
    confusion: Sequence[Sequence[int]] | None,
    classes: Sequence[str] | None,
    evaluated_on: str | None,
) -> str:
    """ "Looks healthy", naming only what was seen: curves only when there are two of them
    (a solved head or a run without validation images has none to compare)."""
    curves = len(val_loss) >= 2
    seen = ["training and validation curves agree"] if curves else []
    if confusion and classes:
        every = all(sum(row[j] for row in confusion) > 0 for j in range(len(classes)))
        on = _ON.get(evaluated_on or "", "")
        seen.append(
            f"the model answers every class{on}"
            if every
            else f"the model does not answer one class for everything{on}"
        )
    what = " and ".join(seen) if seen else "no warning sign"
    more = "More data or augmentation" if curves else "More images"
    return f"Looks healthy: {what}. {more} may still raise the accuracy."


def _held_out(
    confusion: Sequence[Sequence[int]] | None,
    acc: list[float],
    n_classes: int,
    evaluated_on: str | None,
    solved: bool,
) -> dict[str, str] | None:
    """A finding from the evaluation itself, for runs whose curves cannot tell (a solved
    head, no validation images): far below the training accuracy, or close to guessing."""
    if not confusion or evaluated_on in (None, "train"):
        return None
    total = sum(sum(row) for row in confusion)
    if total == 0:
        return None
    held = sum(confusion[i][i] for i in range(len(confusion))) / total
    on = _ON.get(evaluated_on, "")
    fix = (
        "Add images of each class, or try another network or starting point on the Model page."
        if solved
        else "Add augmentation or more data, or freeze more layers."
    )
    if acc and acc[-1] - held > OVERFIT_GAP:
        return {
            "kind": "overfitting",
            "message": (
                f"Overfitting: {acc[-1]:.0%} accuracy on the training images but {held:.0%}"
                f"{on}: the model fits its own images but does not generalise. {fix}"
            ),
        }
    chance = 1.0 / max(n_classes, 2)
    if held < chance + 0.1:
        return {
            "kind": "underfitting",
            "message": (
                f"Close to guessing: {held:.0%}{on}, where answering at random would get "
                f"about {chance:.0%}. {fix}"
            ),
        }
    return None


def _advice(loss: list[float], underfit: bool, all_layers_train: bool, solved: bool) -> str:
    """What to try, as one sentence with one direction for the learning rate."""
    if solved:  # no epochs, no learning rate: only the features or the images can change
        return (
            "Add images of each class, or fine-tune the top of the network so its features "
            "fit your images."
            if underfit and not all_layers_train
            else "Add images of each class."
        )
    steps = ["train for more epochs"]
    if loss_jumped(loss):
        steps.append("lower the learning rate (the loss jumped up between epochs)")
    elif underfit:
        steps.append("raise the learning rate a little")
    if underfit and not all_layers_train:
        steps.append("unfreeze more layers")
    text = ", ".join(steps[:-1]) + (" or " if len(steps) > 1 else "") + steps[-1]
    return text[0].upper() + text[1:] + "."


def _not_learned(
    one: tuple[str, float] | None,
    acc: list[float],
    val_acc: list[float],
    loss: list[float],
    underfit: bool,
    all_layers_train: bool,
    solved: bool = False,
) -> dict[str, str]:
    advice = _advice(loss, underfit, all_layers_train, solved)
    if one is None:
        gap = (
            f" Validation is lower still ({val_acc[-1]:.0%}), but fix this first."
            if val_acc and acc[-1] - val_acc[-1] > OVERFIT_GAP
            else ""
        )
        return {
            "kind": "underfitting",
            "message": (
                "Underfitting: even on the training images the accuracy is only "
                f"{acc[-1]:.0%}, so the model has not learned enough yet. {advice}{gap}"
            ),
        }
    name, share, others = one
    if underfit:
        train = f" and gets only {acc[-1]:.0%} of the training images right"
        why = f"it has not learned to tell the classes apart yet. {advice}"
    else:
        # It knows its training images: more epochs would not help, other images would.
        train = f", recognising none of the {others} others" if share == 1 else ""
        train += f", though it gets {acc[-1]:.0%} of its training images right" if acc else ""
        why = (
            "it has not learned what tells the classes apart on images it has not seen. "
            "Add images of the other classes or augmentation."
        )
    return {
        "kind": "one_class",
        "message": (
            f"The model answers '{name}' for {share:.0%} of the images{train}: {why} If one "
            "class has far more images than the others, balance them."
        ),
    }


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
) -> tuple[str, float, int] | None:
    """The class the model gives (almost) every image, that share, and how many images of
    the other classes there were; None if it tells the classes apart.

    A class that really makes up most of the images may get most answers; what gives a
    one-class model away is that it (almost) never recognises an image of another class.
    """
    if not confusion or not classes or len(classes) < 2:
        return None
    predicted = [sum(row[j] for row in confusion) for j in range(len(classes))]
    total = sum(predicted)
    top = max(range(len(classes)), key=predicted.__getitem__)
    others = total - sum(confusion[top])
    found = sum(confusion[i][i] for i in range(len(classes)) if i != top)
    if others < 2 or total < 4:
        return None  # too few images of other classes to tell
    if predicted[top] / total >= ONE_CLASS_SHARE and found <= OTHERS_FOUND * others:
        return classes[top], predicted[top] / total, others
    return None
