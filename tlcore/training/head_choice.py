"""Which features the solved head reads: the last layer alone, or several layers.

With ``head_features`` ``auto`` (what the defaults choose for a feature-extraction run),
one forward pass computes the pooled features of the last layer and of the layers
``tlcore.training.multilayer`` taps; the solved head (``head_solver``) is
cross-validated on each candidate, the same folds, the same solver, its regularisation
chosen again inside each fold; the higher mean fold accuracy wins (a tie: the lower
log-loss, then the last layer alone). The choice and its reason are recorded in the
``head`` event and ``metrics.json``. ``last`` skips the comparison (today's head);
``multi`` takes the multi-layer features without it.

A multi-layer head is wired into the saved model (``tlcore.models.multilayer_head``), so
it still takes raw pixels, and it predicts exactly what the solved head predicts on the
cached features. The cross-validated accuracy a run then reports is the winner's own
out-of-fold score, computed once (reused by ``run_metrics``); being the better of two,
it can read a little high (the test split, when there is one, does not).
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


@dataclass(frozen=True)
class FeatureChoice:
    """What the head reads and why (JSON-ready with ``to_dict``)."""

    features: str  # "last" or "multi"
    layers: tuple[str, ...]  # the backbone layers pooled (the last layer first)
    reason: str
    scores: tuple[CandidateScore, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """Plain types only."""
        return asdict(self)


def log_loss(probs: np.ndarray, labels: np.ndarray) -> float:
    """Mean negative log-probability of the true class."""
    p = np.clip(probs[np.arange(len(labels)), labels], 1e-15, 1.0)
    return float(-np.log(p).mean())


def score(name: str, layers: int, feats: np.ndarray, labels: np.ndarray, oof: OutOfFold):
    """A ``CandidateScore`` from out-of-fold predictions."""
    accs = np.asarray(oof.fold_accuracies, dtype=np.float64)
    return CandidateScore(
        name, layers, int(feats.shape[1]), float(accs.mean()), float(accs.std()),
        log_loss(oof.probs, labels),
    )  # fmt: skip


def pick(scores: list[CandidateScore]) -> CandidateScore:
    """Higher accuracy; a tie goes to the lower log-loss, then to the earlier candidate."""
    best = scores[0]
    for s in scores[1:]:
        if s.accuracy > best.accuracy + TIE or (
            abs(s.accuracy - best.accuracy) <= TIE and s.log_loss < best.log_loss - TIE
        ):
            best = s
    return best


def reason(chosen: CandidateScore, scores: list[CandidateScore]) -> str:
    """One plain sentence: which features, and by how much cross-validation preferred them."""
    last = next(s for s in scores if s.features == "last")
    multi = next((s for s in scores if s.features == "multi"), None)
    if multi is None:
        return "Features from the last layer alone."
    gain = 100 * (multi.accuracy - last.accuracy)
    if chosen.features == "multi":
        return (
            f"Features from {multi.layers} layers: {gain:+.0f} points in cross-validation over "
            f"the last layer alone ({multi.accuracy:.0%} vs {last.accuracy:.0%})."
        )
    return (
        f"Features from the last layer alone: features from {multi.layers} layers did not do "
        f"better in cross-validation ({multi.accuracy:.0%} vs {last.accuracy:.0%})."
    )
