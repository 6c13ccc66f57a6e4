"""Likely label mistakes: confident learning on the solved head's out-of-fold probabilities.

Each image is predicted by a head (``head_solver.out_of_fold``, the computation a
cross-validated feature-extraction run reports) that never saw it, so its own label
cannot vouch for it. ``cleanlab`` (Northcutt et al., "Confident Learning", JAIR 2021)
then estimates how often each class is mislabelled as each other class and flags the
images whose given label is least believable, ranked by self-confidence: the
probability the head gives the folder's class. ``score`` is one minus that: how sure
the network is that the folder is wrong.

A class with a single image cannot be cross-validated (no fold would train on it), so
it is left out of the check (and said so); its image still appears in the other findings.
The probabilities are cached (``memo``): a second look at unchanged images skips the
cross-validation.
"""

import contextlib
import io
import warnings
from dataclasses import dataclass

import numpy as np

from tlcore.results.inspect import memo

MIN_IMAGES = 2
"""A class needs this many images for its labels to be checked (one to train on, one to
test in every fold split)."""


@dataclass(frozen=True)
class LabelIssue:
    """One image whose folder's class the network doubts.

    Attributes:
        index: position of the image in the features given.
        given: its folder's class index.
        suggested: the class the out-of-fold head gives most probability.
        score: 1 - probability of the given class (higher: more likely a mistake).
    """

    index: int
    given: int
    suggested: int
    score: float


@dataclass(frozen=True, eq=False)
class LabelCheck:
    """What the check found.

    Attributes:
        issues: flagged images, most likely mistakes first.
        ranking: every checked image, least believable label first (for precision at k).
        probs: (N, K) out-of-fold probabilities (rows of unchecked images are NaN).
        checked: per class index, whether its labels were checked.
        folds: folds of the cross-validation (0 when nothing was checked).
        note: what could not be checked and why ("" when everything was).
    """

    issues: tuple[LabelIssue, ...]
    ranking: tuple[int, ...]
    probs: np.ndarray
    checked: tuple[bool, ...]
    folds: int
    note: str


def check_labels(
    features: np.ndarray,
    labels: np.ndarray,
    classes: list[str] | tuple[str, ...],
    seed: int = 42,
    class_weighting: str = "auto",
) -> LabelCheck:
    """Find images whose label the frozen network's features contradict.

    Args:
        features: (N, F) pooled features.
        labels: (N,) class indices into ``classes``.
        classes: class names (only for the note).
        seed: seeds the folds.
        class_weighting: as in a run (``auto``: balanced when the classes are uneven).
    """
    from cleanlab.filter import find_label_issues

    from tlcore.training.batches import class_weights
    from tlcore.training.crossval import fold_count
    from tlcore.training.head_solver import out_of_fold

    y = np.asarray(labels, dtype=np.int64)
    k = len(classes)
    counts = np.bincount(y, minlength=k)
    checked = counts >= MIN_IMAGES
    probs = np.full((len(y), k), np.nan)
    small = [f"'{classes[c]}'" for c in np.flatnonzero(~checked)]
    note = ""
    if small:
        note = (
            f"{', '.join(small)} {'has' if len(small) == 1 else 'have'} fewer than "
            f"{MIN_IMAGES} images, too few to check {'its' if len(small) == 1 else 'their'} "
            "label by cross-validation; duplicates, outliers and the map still include them."
        )
    if checked.sum() < 2:
        note = (
            "Label mistakes cannot be checked: that needs at least 2 classes with "
            f"{MIN_IMAGES} images each. Duplicates, outliers and the map are still shown."
        )
        return LabelCheck((), (), probs, tuple(map(bool, checked)), 0, note)
    keep = np.flatnonzero(checked[y])
    kept_classes = np.flatnonzero(checked)
    new_index = np.full(k, -1)
    new_index[kept_classes] = np.arange(len(kept_classes))
    yk = new_index[y[keep]]
    kk = len(kept_classes)
    folds = fold_count(np.bincount(yk, minlength=kk))
    weights = class_weights(yk, kk, class_weighting)
    x = np.asarray(features[keep], dtype=np.float32)
    key = memo.digest(x, yk, kk, folds, weights, seed)
    p = memo.cached(
        "oof",
        key,
        lambda: out_of_fold(x, yk, kk, folds, class_weight=weights, seed=seed).probs,
    )
    probs[np.ix_(keep, kept_classes)] = p
    quality = p[np.arange(len(yk)), yk]
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")  # cleanlab warns about tiny classes; we said so above
        flagged = find_label_issues(yk, p, return_indices_ranked_by="self_confidence")
    issues = tuple(
        LabelIssue(
            index=int(keep[i]),
            given=int(y[keep[i]]),
            suggested=int(kept_classes[int(np.argmax(p[i]))]),
            score=round(float(1.0 - quality[i]), 4),
        )
        for i in flagged
    )
    ranking = tuple(int(keep[i]) for i in np.argsort(quality, kind="stable"))
    return LabelCheck(issues, ranking, probs, tuple(map(bool, checked)), folds, note)
