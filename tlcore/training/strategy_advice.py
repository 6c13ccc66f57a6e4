"""Which strategy for these images: the classic when-to-use table, computed from a probe.

The table every transfer-learning tutorial recites:

================  ============================  ====================================
                  like ImageNet photos          unlike them
================  ============================  ====================================
small dataset     feature extraction            fine-tune the top
large dataset     fine-tune                     retrain the whole network
================  ============================  ====================================

Here both axes are the person's own: the size is the smallest class, and "like ImageNet
photos" is measured by the probe (``tlcore.training.probe``): the last layer's features
must separate the classes clearly better than features from the middle of the network
(or well on their own: ``FITS_ANYWAY``).

One cell is changed by our own measurement: below ``FEW_SHOT`` images a class, the table's
"fine-tune the top" did not beat feature extraction (BENCHMARKS.md, "Few-shot accuracy":
Twemoji artwork, unlike photos, 5-20 images a class: fine-tuning the top -2.7 to +0.4 points
of feature extraction, at up to twice the time), so feature extraction is advised and
fine-tuning named as the thing to try once there are more images.
"""

from dataclasses import dataclass
from typing import Any

from tlcore.models.freezing import STRATEGIES

FEW_SHOT = 30
"""Below this many images in the smallest class, feature extraction is advised whatever
the images look like (measured: fine-tuning the top did not beat it at 5-20 a class)."""

LARGE = 300
"""From this many images in the smallest class a dataset counts as large."""

CLEARLY_BETTER = 0.03
"""The last layer must beat the middle by this much accuracy for the images to count as
like ImageNet photos: a smaller gap is within what the folds' luck moves."""

FITS_ANYWAY = 0.9
"""From this cross-validated accuracy on the last layer, the features fit whatever the
middle scores: there is little left for retraining layers to gain."""


@dataclass(frozen=True)
class StrategyAdvice:
    """The strategy the probe points to, and the sentences that explain it."""

    strategy: str
    like_imagenet: bool
    lines: tuple[str, ...]
    reason: str
    """Why this strategy: the last line after "Suggested: <strategy>."."""

    @property
    def text(self) -> str:
        """All sentences, one paragraph."""
        return " ".join(self.lines)

    def to_dict(self) -> dict[str, Any]:
        """Plain types only."""
        return {
            "strategy": self.strategy,
            "like_imagenet": self.like_imagenet,
            "lines": list(self.lines),
            "reason": self.reason,
        }


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def _score(accuracy: float, spread: float) -> str:
    return f"{_pct(accuracy)} ± {_pct(spread)}"


def _block(name: str) -> str:
    """``block5c`` -> ``block 5c``; other names unchanged."""
    if name.startswith("block") and name[5:6].isdigit():
        return f"block {name[5:]}"
    return name.replace("_", " ")


def advise(result: Any) -> StrategyAdvice:
    """The strategy for a probe result (``probe.ProbeResult`` or its ``to_dict()``)."""
    r = result if isinstance(result, dict) else result.to_dict()
    last, middle = r["last"], r.get("middle")
    n_classes, smallest = len(r["classes"]), int(r["smallest_class"])
    chance = 1.0 / max(1, n_classes)
    total = r.get("dataset_images", r["images"])
    on = f"your {total}" if total == r["images"] else f"{r['images']} of your {total}"
    lines = [
        f"Feature extraction: {_score(last['accuracy'], last['spread'])} "
        f"({r['folds']}-fold cross-validation on {on} images; chance is {_pct(chance)})."
    ]
    if middle is None:
        like = True
        lines.append(
            f"{r['network']} is too shallow to compare its layers, so this reads your "
            "images as like the ones it learned from."
        )
    else:
        gain = last["accuracy"] - middle["accuracy"]
        like = gain >= CLEARLY_BETTER or last["accuracy"] >= FITS_ANYWAY
        mid = f"The middle of the network ({_block(middle['block'])}) scores " + _score(
            middle["accuracy"], middle["spread"]
        )
        if like and gain < CLEARLY_BETTER:
            lines.append(
                f"{mid}; the last layer already separates your classes well, so its "
                "features fit them."
            )
        elif like:
            lines.append(
                f"{mid}: the last layers add {100 * gain:.0f} points, so the features the "
                "network learned from photos fit your classes."
            )
        else:
            lines.append(
                f"{mid}, {'better than' if gain < 0 else 'as good as'} its last layer: the "
                "features most specific to the photos the network learned from do not help "
                "with your classes, so in what matters here your images are unlike those photos."
            )
        if last["accuracy"] < FITS_ANYWAY and _uncertain(last, middle):
            lines.append(
                "This reading is uncertain: fold by fold, the two layers' scores differ by "
                "less than the folds' luck; more images would settle it."
            )
    if r.get("multi"):
        lines.append(_multi_line(last, r["multi"]))
    weak = last["accuracy"] < chance + 0.5 * (1 - chance)
    strategy, why = _cell(smallest, like, weak)
    lines.append(f"Suggested: {STRATEGIES[strategy].display_name}. {why}")
    return StrategyAdvice(strategy, like, tuple(lines), why)


def _multi_line(last: dict, multi: dict) -> str:
    """What the multi-layer features (``tlcore.training.multilayer``) add to the last layer."""
    gain = multi["accuracy"] - last["accuracy"]
    text = (
        f"Features from {multi['layer']} of the network together (the ends of its stages, "
        f"its last blocks and its last layer) score {_score(multi['accuracy'], multi['spread'])}"
    )
    if gain >= CLEARLY_BETTER:
        return (
            f"{text}, {100 * gain:.0f} points above the last layer alone: the network's middle "
            "layers know your images better than its last layer, and feature extraction will "
            "use them."
        )
    return f"{text}; feature extraction uses whichever of the two cross-validates better."


def _uncertain(last: dict, middle: dict) -> bool:
    """Whether the gap between the two layers is within chance: both were scored on the
    same folds, so the fold-by-fold differences are compared with their standard error."""
    a, b = last.get("fold_accuracies") or [], middle.get("fold_accuracies") or []
    if len(a) != len(b) or len(a) < 2:
        return False
    diffs = [x - y for x, y in zip(a, b, strict=True)]
    mean = sum(diffs) / len(diffs)
    var = sum((d - mean) ** 2 for d in diffs) / (len(diffs) - 1)
    return abs(mean) < 2 * (var / len(diffs)) ** 0.5


def _cell(smallest: int, like: bool, weak: bool) -> tuple[str, str]:
    """The table's cell for the smallest class's size and the images' likeness."""
    few = f"With {smallest} image{'s' * (smallest != 1)} in the smallest class"
    if smallest < FEW_SHOT:
        if like:
            return "feature-extraction", (
                f"{few}, train only the head on these features: fast, and hard to overfit."
            )
        return "feature-extraction", (
            f"{few}, still train only the head: in our measurements on images unlike "
            "photos, fine-tuning the top did no better than this at 5 to 20 images a class "
            "and took up to twice as long. With more images it can help; compare both on the "
            "Compare page."
            + (
                " Adding images will help most: the features separate your classes only partly."
                if weak
                else ""
            )
        )
    if smallest < LARGE:
        if like:
            return "feature-extraction", (
                f"{few} and features that fit, training only the head is fast and accurate; "
                "fine-tuning the top may add a little."
            )
        return "fine-tune", (
            f"{few}, there are enough images to let the top layers adapt to your classes, "
            "while the rest stays frozen."
        )
    if like:
        return "fine-tune", (
            f"{few}, there are enough images to adapt the top layers to your classes."
        )
    return "full", (
        f"{few} and images unlike the network's, retraining every layer at a low learning "
        "rate pays off."
    )
