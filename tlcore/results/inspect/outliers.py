"""Outliers: images far from all others in feature space (a screenshot among cat photos).

``cleanlab``'s out-of-distribution score on the unit-length features: the mean cosine
distance to an image's ``K`` nearest neighbours, whatever their class, mapped to (0, 1]
(1: in a crowd). An image is an outlier when its distance is unusually large for this
dataset: ``ROBUST_Z`` or more median absolute deviations above the median. Measured by
``bench/bench_inspect.py``: among 80 Twemoji images of 4 categories with two photos put
in (an astronaut, a coffee cup), the outliers were the two photos and a dark cockroach
emoji; among 80 LFW crops, 5 photos with 15 copies and those emoji, none (the two
photos then have photo neighbours: misfiled, which the label check is for).
"""

import contextlib
import io
import warnings
from dataclasses import dataclass

import numpy as np

from tlcore.results.inspect.near_duplicates import unit_rows

K = 5
ROBUST_Z = 2.5
MIN_IMAGES = 4  # fewer images: every one is as far from the rest as any other


@dataclass(frozen=True)
class Outlier:
    """One image unlike the rest: ``score`` = 1 - cleanlab's score (higher: more unusual)."""

    index: int
    score: float


def find_outliers(features: np.ndarray, z_limit: float = ROBUST_Z) -> list[Outlier]:
    """Images whose neighbours are unusually far, most unusual first."""
    from cleanlab.outlier import OutOfDistribution

    n = len(features)
    if n < MIN_IMAGES:
        return []
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        ood = OutOfDistribution(params={"k": min(K, n - 1)})
        scores = np.asarray(ood.fit_score(features=unit_rows(features)), dtype=np.float64)
    far = 1.0 - scores
    median = np.median(far)
    mad = 1.4826 * np.median(np.abs(far - median))  # a normal spread's standard deviation
    if mad <= 1e-12:
        return []
    z = (far - median) / mad
    picked = np.flatnonzero(z >= z_limit)
    picked = picked[np.argsort(-far[picked], kind="stable")]
    return [Outlier(int(i), round(float(far[i]), 4)) for i in picked]
