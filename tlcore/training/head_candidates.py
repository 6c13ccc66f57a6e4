"""The heads a run's solved head is chosen from, each cross-validated on the same folds.

A candidate is a feature set and a head on it. In order of preference (the first is kept
unless a later one beats the one kept so far by more than the folds' luck,
``head_choice.pick``):

1. features from several layers, a logistic regression (``head_solver``);
2. the last layer alone, a logistic regression (the linear probe);
3. features from several layers averaged over the image and its mirror image, a logistic
   regression — only when the person asked for mirror images (``head_views`` ``auto``;
   never by default: the extra pass over the images costs more than the 1.3x the issue
   allows, and on Twemoji and LFW it never won); the saved model then averages the two
   views too (``tlcore.models.mirrored_views``), so the head sees what it was solved on;
4. a nearest-class-mean head on centred, length-normalised features from several layers
   (``nearest_mean``) — only for tiny sets, at most ``TINY`` training images in the
   smallest class, where SimpleShot finds it as strong as a trained classifier.

Every candidate is scored by k-fold cross-validation on the training images only, with
its own settings (C, temperature) chosen again inside each fold.
"""

from dataclasses import dataclass
from typing import Any

import numpy as np

from tlcore.training import nearest_mean
from tlcore.training.crossval import OutOfFold
from tlcore.training.head_choice import CandidateScore, describe_candidate, score

TINY = 5
"""At most this many training images in the smallest class: the nearest-class-mean head
is a candidate (SimpleShot's 1-5 images a class)."""


@dataclass(frozen=True)
class Candidate:
    """A feature set and the head on it."""

    features: str  # "multi" or "last"
    layers: int
    head: str = "logistic"  # or "nearest-mean"
    views: bool = False  # features averaged over the image and its mirror image

    def describe(self) -> str:
        """In a few plain words (``head_choice.describe_candidate``)."""
        return describe_candidate(self.features, self.layers, self.head, self.views)

    @property
    def key(self) -> str:
        """A short name: ``multi``, ``last``, ``multi+mirror``, ``multi/nearest-mean``."""
        return self.features + ("+mirror" if self.views else "") + (
            "/nearest-mean" if self.head == "nearest-mean" else ""
        )  # fmt: skip


def candidates(layers: int, smallest_class: int, mirror: bool) -> list[Candidate]:
    """The candidates for a run, the preferred first."""
    out = [Candidate("multi", layers), Candidate("last", 1)]
    if mirror:
        out.append(Candidate("multi", layers, views=True))
    if smallest_class <= TINY:
        out.append(Candidate("multi", layers, head="nearest-mean"))
    return out


@dataclass(frozen=True)
class Scored:
    """A candidate's cross-validated score, its out-of-fold predictions and, for the
    nearest-class-mean head, the temperature chosen on them."""

    candidate: Candidate
    score: CandidateScore
    oof: OutOfFold
    temperature: float | None = None


def cross_validate(
    candidate: Candidate,
    features: np.ndarray,
    labels: np.ndarray,
    n_classes: int,
    folds: int,
    *,
    class_weight: Any = None,
    seed: int = 42,
) -> Scored:
    """Score ``candidate`` on its training ``features`` with ``folds``-fold CV."""
    from tlcore.training.head_solver import out_of_fold

    temperature = None
    if candidate.head == "nearest-mean":
        oof, temperature = nearest_mean.out_of_fold(features, labels, n_classes, folds, seed)
    else:
        oof = out_of_fold(
            features, labels, n_classes, folds, class_weight=class_weight, seed=seed
        )  # fmt: skip
    c = candidate
    s = score(c.features, c.layers, features, labels, oof, c.head, c.views)
    return Scored(candidate, s, oof, temperature)
