"""Which features the solved head reads: the last layer alone, or several layers.

With ``head_features`` ``auto`` (what the defaults choose for a feature-extraction run),
one forward pass computes the pooled features of the last layer and of the layers
``tlcore.training.multilayer`` taps; the solved head (``head_solver``) is
cross-validated on each candidate, on the same folds, with the same solver, its
regularisation chosen again inside each fold. The multi-layer features are kept unless
the last layer alone beats them by more than the folds' luck: the mean of the fold-by-fold
differences more than twice its standard error (``pick``), or, when the two score exactly
the same on every fold (cross-validation then says nothing), the last layer as the
smaller model (on LFW photos the two tied on every fold in all 30 splits of
``bench_multilayer.py``, and keeping the multi-layer features there left 2 of 1,900 test
images at 5 a class below the last-layer probe, 1 above; on Twemoji no split tied). So is
every later candidate
(``tlcore.training.head_candidates``: the mirror image's features averaged in, a
nearest-class-mean head for tiny sets) against the one kept before it. Why not simply the higher
mean: at 5 images a class, 5-fold accuracies move in steps of 1/6 of a class and tie
often; on Twemoji (``bench/bench_multilayer.py``) the higher mean kept the last layer in
3 of 5 seeds at 5 a class although multi-layer features were better on the test images
in 4 of them. The choice and its reason are recorded in the ``head`` event and
``metrics.json``. ``last`` skips the comparison (the head before issue 20); ``multi``
takes the multi-layer features without it.

A multi-layer head is wired into the saved model (``tlcore.models.multilayer_head``), so
it still takes raw pixels, and it predicts exactly what the solved head predicts on the
cached features. The cross-validated accuracy a run then reports is the chosen head's
own out-of-fold score, computed once (reused by ``run_metrics``).
"""

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from tlcore.training.crossval import OutOfFold

TIE = 1e-9


@dataclass(frozen=True)
class CandidateScore:
    """Cross-validated scores of the solved head on one feature set."""

    features: str
    layers: int
    width: int
    accuracy: float
    accuracy_std: float
    log_loss: float
    fold_accuracies: tuple[float, ...] = ()
    head: str = "logistic"  # or "nearest-mean" (tlcore.training.nearest_mean)
    views: bool = False  # features averaged over the image and its mirror image

    def describe(self) -> str:
        """What this candidate is, in a few plain words."""
        return describe_candidate(self.features, self.layers, self.head, self.views)


def describe_candidate(
    features: str, layers: int, head: str = "logistic", views: bool = False
) -> str:
    """A candidate of the head's cross-validation in a few plain words (for the reason,
    the progress line and the Train page alike)."""
    where = "the last layer alone" if features == "last" else f"{layers} layers"
    text = f"features from {where}"
    if views:
        text += ", averaged with the mirror image's"
    if head == "nearest-mean":
        text = f"a nearest-class-mean head on {text}"
    return text


@dataclass(frozen=True)
class FeatureChoice:
    """What the head reads and why (JSON-ready with ``to_dict``)."""

    features: str  # "last" or "multi"
    layers: tuple[str, ...]  # the backbone layers pooled (the last layer first)
    reason: str
    scores: tuple[CandidateScore, ...] = field(default=())
    head: str = "logistic"  # or "nearest-mean"
    views: bool = False  # the model averages the image's and its mirror image's features

    def to_dict(self) -> dict[str, Any]:
        """Plain types only."""
        return asdict(self)


def log_loss(probs: np.ndarray, labels: np.ndarray) -> float:
    """Mean negative log-probability of the true class."""
    p = np.clip(probs[np.arange(len(labels)), labels], 1e-15, 1.0)
    return float(-np.log(p).mean())


def score(
    name: str,
    layers: int,
    feats: np.ndarray,
    labels: np.ndarray,
    oof: OutOfFold,
    head: str = "logistic",
    views: bool = False,
) -> CandidateScore:
    """A ``CandidateScore`` from out-of-fold predictions."""
    accs = np.asarray(oof.fold_accuracies, dtype=np.float64)
    return CandidateScore(
        name, layers, int(feats.shape[1]), float(accs.mean()), float(accs.std()),
        log_loss(oof.probs, labels), tuple(map(float, accs)), head, views,
    )  # fmt: skip


def clearly_better(a: CandidateScore, b: CandidateScore) -> bool:
    """``a`` beats ``b`` on the same folds by more than the folds' luck: the mean of the
    fold-by-fold accuracy differences is positive and at least twice its standard error."""
    diffs = np.subtract(a.fold_accuracies, b.fold_accuracies)
    if len(diffs) < 2:
        return a.accuracy > b.accuracy + TIE
    mean = float(diffs.mean())
    return mean > TIE and mean >= 2 * float(diffs.std(ddof=1)) / np.sqrt(len(diffs))


def ties_every_fold(a: CandidateScore, b: CandidateScore) -> bool:
    """``a`` and ``b`` scored exactly the same on every fold: cross-validation cannot tell
    them apart at all."""
    return len(a.fold_accuracies) > 0 and a.fold_accuracies == b.fold_accuracies


def replaces(s: CandidateScore, best: CandidateScore) -> bool:
    """``s`` takes the place of ``best``: clearly better, or tied on every fold and reading
    fewer features (when cross-validation says nothing, the smaller model)."""
    return clearly_better(s, best) or (ties_every_fold(s, best) and s.width < best.width)


def pick(scores: list[CandidateScore]) -> CandidateScore:
    """The first candidate (the preferred one), unless a later one replaces it."""
    best = scores[0]
    for s in scores[1:]:
        if replaces(s, best):
            best = s
    return best


def reason(chosen: CandidateScore, scores: list[CandidateScore]) -> str:
    """Plain sentences: which features and head, what cross-validation said of them, and
    what else was tried."""
    last = next(s for s in scores if s.features == "last" and s.head == "logistic")
    multi = next(
        (s for s in scores if s.features == "multi" and s.head == "logistic" and not s.views),
        None,
    )
    if multi is None:
        return "Features from the last layer alone."
    both = f"{multi.accuracy:.0%} vs {last.accuracy:.0%} for the last layer alone"
    if chosen is last and ties_every_fold(last, multi):
        text = (
            f"Features from the last layer alone: in cross-validation features from "
            f"{multi.layers} layers scored exactly the same on every fold ({both}), so the "
            "smaller set is kept."
        )
    elif chosen is last:
        text = (
            f"Features from the last layer alone: in cross-validation they beat features from "
            f"{multi.layers} layers by more than the folds' luck ({last.accuracy:.0%} vs "
            f"{multi.accuracy:.0%})."
        )
    elif chosen is multi:
        gain = round(100 * (multi.accuracy - last.accuracy))
        text = (
            f"Features from {multi.layers} layers: {gain:+d} points in cross-validation over "
            f"the last layer alone ({both})."
            if gain > 0
            else f"Features from {multi.layers} layers: in cross-validation the last layer "
            f"alone did not beat them by more than the folds' luck ({both})."
        )
    else:
        runner = _displaced(chosen, scores)
        text = (
            f"{chosen.describe().capitalize()}: in cross-validation clearly ahead of "
            f"{runner.describe()} ({chosen.accuracy:.0%} vs {runner.accuracy:.0%})."
        )
    others = [s for s in scores if s is not chosen and s is not multi and s is not last]
    if others:
        tried = "; ".join(f"{s.describe()} ({s.accuracy:.0%})" for s in others)
        text += f" Also tried: {tried} — not clearly better."
    return text


def _displaced(chosen: CandidateScore, scores: list[CandidateScore]) -> CandidateScore:
    """The candidate ``pick`` held before it took ``chosen`` (what ``chosen`` beat)."""
    best, before = scores[0], scores[0]
    for s in scores[1:]:
        if replaces(s, best):
            before, best = best, s
        if best is chosen:
            break
    return before
