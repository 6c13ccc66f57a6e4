"""The head, solved: multinomial logistic regression on cached features, to convergence.

With the backbone frozen, the classifier's head (``dropout -> Dense softmax``) is a
multinomial logistic regression on the pooled features: a convex problem with one best
answer. Instead of a few dozen Adam steps that stop far from it, ``solve_head`` finds it
with full-batch L-BFGS (scikit-learn's ``LogisticRegression``), its L2 strength ``C``
chosen by stratified k-fold cross-validation on the training features (lowest mean
out-of-fold log-loss; ties go to the stronger regularisation). ``write_into_dense`` puts
the answer into the Keras ``Dense`` layer, so the saved end-to-end model predicts exactly
what the solver predicts (dropout is the identity at inference).

Features are centred and divided by one overall spread while solving (``scaling``), so
one grid of ``C`` fits every backbone; the scaling is folded into the kernel and bias, so
the Dense layer takes the RAW features. On sklearn's handwritten digits (5, 10, 20 images
a class; ``bench/bench_head_solver.py``) this beat per-feature standardisation by up to
2.3 points (a tie at 20 a class on 1,280-dim features), and choosing ``C`` by log-loss
beat choosing it by accuracy by 0.05-1.5 points (accuracy on a few images per fold ties
often, and the ties then pick too strong a penalty).

Speed (2 shared cores): the search for ``C`` walks the grid from strong to weak, each
fold warm-started from its previous fit, stopping once the log-loss has risen twice; with
more than ``SEARCH_MAX_IMAGES`` images it runs on a stratified subset of that size, 3
folds. CPU seconds measured on 1,280-dim features of real digits (10 classes): 60 images
0.16 s, 200 0.33 s, 500 1.2 s, 1,500 1.6 s (Gaussian blobs, 3,000 images: 0.7 s); wall
time is up to twice that on a busy machine; sklearn's first import adds ~2 s per process.
"""

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from tlcore.errors import ConfigError, DataError
from tlcore.training.crossval import (
    OutOfFold,
    fold_count,
    kfold_assignments,
    out_of_fold_predictions,
)
from tlcore.training.head_fit import CScore, HeadFit, describe, write_into_dense
from tlcore.training.logreg import (
    MAX_ITER,
    SCALINGS,
    Basis,
    balanced_weights,
    estimator,
    quiet_fit,
    softmax_columns,
)

C_GRID: tuple[float, ...] = (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0, 1000.0)
"""Inverse L2 strengths tried, strongest regularisation first (scikit-learn's ``C``)."""

DEFAULT_C = 1.0
"""Used when cross-validation is impossible (a class with a single image): scikit-learn's
default, and the stronger of the two values the search chose most often at 5 images a
class on the digits benchmark (1 and 10)."""

CRITERIA = ("log_loss", "accuracy")
SEARCH_TOL = 1e-4
"""L-BFGS tolerance while searching for C (the final fit uses ``logreg.TOL``): on the digits
benchmark it chose the same C as 1e-6 (or one as good: test accuracy equal to 0.05
points) in about 0.6x the time."""
FLOAT32_ABOVE = 1_000_000
"""Final fits on more numbers than this run in float32: 1,500 x 1,280 digits features took
1.2 s instead of 1.8 s, probabilities within 0.001 of a 1e-9 solve (float64: 0.0003)."""
SEARCH_MAX_IMAGES = 600  # the search for C uses at most about this many (see search_subset)
PATH_PATIENCE = 2  # stop the C search after this many rises of the CV log-loss
TIE = 1e-9  # scores closer than this are a tie: the stronger regularisation wins
ABSENT_LOGIT = -1e4  # bias of a class with no training images: probability exactly 0

Progress = Callable[[dict[str, Any]], None]


def _check(features: Any, labels: Any, n_classes: int | None) -> tuple[np.ndarray, np.ndarray, int]:
    x = np.asarray(features, dtype=np.float64)
    y = np.asarray(labels).reshape(-1)
    if x.ndim == 1:
        x = x.reshape(-1, 1)  # one number per image
    if x.ndim != 2:
        raise DataError(
            f"The head solver needs one feature vector per image (got an array of shape "
            f"{x.shape}); it applies only after global pooling."
        )
    if len(x) != len(y):
        raise DataError(f"{len(x)} feature vectors but {len(y)} labels: they must match.")
    if len(y) == 0:
        raise DataError("There are no training images to fit the head on.")
    if not np.issubdtype(y.dtype, np.integer):
        raise DataError("Labels must be class indices (0, 1, 2, ...).")
    k = int(n_classes) if n_classes is not None else int(y.max()) + 1
    if y.min() < 0 or y.max() >= k:
        raise DataError(f"Labels must be class indices between 0 and {k - 1}.")
    present = np.unique(y)
    if len(present) < 2:
        raise DataError(
            f"All {len(y)} training images are of one class (class {int(present[0])}): "
            "a classifier needs at least two classes with images."
        )
    if not np.isfinite(x).all():
        raise DataError(
            "The features contain NaN or infinite values: the backbone produced invalid "
            "outputs (try other weights, or check the images)."
        )
    return x, y.astype(np.int64), k


def _weighted_log_loss(probs: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    p = np.clip(probs[np.arange(len(y)), y], 1e-15, 1.0)
    return float(np.sum(-np.log(p) * w) / np.sum(w))


def _cross_validate(
    x: np.ndarray,
    y: np.ndarray,
    k: int,
    grid: Sequence[float],
    folds: int,
    seed: int,
    weights: tuple[float, ...] | None,
    scaling: str,
    stop_early: bool,
    progress: Progress | None,
) -> list[CScore]:
    """Scores of each ``C`` tried, strongest regularisation first.

    Each fold keeps its own estimator, warm-started from its fit at the previous ``C``.
    The out-of-fold log-loss of logistic regression is (near enough) unimodal in log C, so
    with ``stop_early`` the search stops once it has risen ``PATH_PATIENCE`` times in a row
    past its best: the weakest settings are the slowest to solve and would not be chosen.
    """
    fold_of = kfold_assignments(y, folds, seed)
    grid = sorted(float(c) for c in grid)
    parts = []
    for f in range(folds):
        train, test = fold_of != f, fold_of == f
        basis = Basis.of(x[train], scaling)
        w = np.asarray(weights)[y[test]] if weights else np.ones(int(test.sum()))
        est = estimator(grid[0], weights, np.unique(y[train]), SEARCH_TOL)
        parts.append((est, basis.project(x[train]), y[train], basis.project(x[test]), y[test], w))
    scores: list[CScore] = []
    rises = 0
    for i, c in enumerate(grid):
        losses, accs = [], []
        for f, (est, xt, yt, xv, yv, w) in enumerate(parts):
            if progress is not None:
                progress(
                    {
                        "stage": "choose-regularisation",
                        "C": c,
                        "setting": i + 1,
                        "settings": len(grid),
                        "fold": f + 1,
                        "folds": folds,
                        "done": i * folds + f,
                        "total": len(grid) * folds,
                        "message": "Choosing how strongly to regularise: trying "
                        f"{len(grid)} settings x {folds} folds (setting {i + 1}/{len(grid)}, "
                        f"fold {f + 1}/{folds}).",
                    }
                )
            est.set_params(C=c)
            quiet_fit(est, xt, yt)
            probs = np.zeros((len(xv), k))
            probs[:, est.classes_] = est.predict_proba(xv)
            losses.append(_weighted_log_loss(probs, yv, w))
            accs.append(float((probs.argmax(axis=1) == yv).mean()))
        scores.append(CScore(c, float(np.mean(losses)), float(np.mean(accs)), float(np.std(accs))))
        best = min(s.log_loss for s in scores)
        rises = rises + 1 if len(scores) > 1 and scores[-1].log_loss > scores[-2].log_loss else 0
        if stop_early and rises >= PATH_PATIENCE and scores[-1].log_loss > best:
            break
    return scores


def search_subset(labels: np.ndarray, limit: int, folds: int, seed: int) -> np.ndarray:
    """Sorted indices of at most about ``limit`` images, each class in proportion (and at
    least ``folds`` of it, or all it has): where the search for ``C`` runs.

    sklearn's ``C`` multiplies the *sum* of the losses, so one ``C`` means a penalty per
    image that shrinks as 1/n; the search already applies a ``C`` found on 4/5 of the
    images to all of them, and a ``C`` found on a few hundred carries over the same way.
    """
    y = np.asarray(labels)
    if len(y) <= limit:
        return np.arange(len(y))
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, len(y)])
    keep = []
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        take = max(min(len(members), folds), round(limit * len(members) / len(y)))
        keep.append(rng.permutation(members)[:take])
    return np.sort(np.concatenate(keep))


def _pick(scores: Sequence[CScore], criterion: str) -> CScore:
    """Best score; a tie goes to the smallest ``C`` (the stronger regularisation)."""
    if criterion == "log_loss":
        best = min(s.log_loss for s in scores)
        tied = [s for s in scores if s.log_loss <= best + TIE]
    else:
        best = max(s.accuracy for s in scores)
        tied = [s for s in scores if s.accuracy >= best - TIE]
    return min(tied, key=lambda s: s.C)


def solve_head(
    features: Any,
    labels: Sequence[int] | np.ndarray,
    n_classes: int | None = None,
    *,
    class_weight: str | Sequence[float] | Mapping[int, float] | None = None,
    grid: Sequence[float] = C_GRID,
    folds: int = 5,
    seed: int = 42,
    criterion: str = "log_loss",
    scaling: str = "global",
    C: float | None = None,
    progress: Progress | None = None,
) -> HeadFit:
    """Fit the softmax head on cached features, its regularisation cross-validated.

    Args:
        features: (N, F) pooled backbone outputs (an array or memmap; (N,) is one feature).
        labels: (N,) class indices.
        n_classes: K, the width of the Dense layer (default: largest label + 1). A class
            with no training image gets probability 0.
        class_weight: ``"balanced"`` (``n / (k * count)``), per-class weights, or None.
        grid: the ``C`` values to try.
        folds: wanted folds; fewer when a class has fewer images (at least 2), at most 3
            with more than ``SEARCH_MAX_IMAGES`` images (the search then uses a subset).
        seed: seeds the fold assignment.
        criterion: ``log_loss`` (default) or ``accuracy``, the mean out-of-fold score that
            picks ``C``.
        scaling: how features are standardised while solving (``logreg.standardiser``;
            folded back into the weights): ``global`` (default), ``feature``, ``none``.
        C: skip the search and use this ``C``.
        progress: called with a plain-language event dict per (fold, C) and per stage.

    Returns:
        The solved head (see ``HeadFit``).

    Raises:
        DataError: the features or labels cannot make a classifier (one class, NaN, ...).
    """
    from threadpoolctl import threadpool_limits

    # One thread: the products are small, and BLAS + OpenMP pools competing for two shared
    # cores made the same fits 10-20x slower (measured: 5.4 s vs 0.28 s for one C path).
    with threadpool_limits(limits=1):
        return _solve(
            features,
            labels,
            n_classes,
            class_weight,
            grid,
            folds,
            seed,
            criterion,
            scaling,
            C,
            progress,
        )


def out_of_fold(
    features: Any,
    labels: Sequence[int] | np.ndarray,
    n_classes: int,
    folds: int,
    *,
    class_weight: str | Sequence[float] | Mapping[int, float] | None = None,
    seed: int = 42,
    progress: Callable[[dict[str, Any]], None] | None = None,
) -> OutOfFold:
    """k-fold cross-validation of the solved head: each fold's head solved (its
    regularisation chosen again inside the fold) and scored on the images it left out.

    What a cross-validated feature-extraction run reports, and what the strategy probe
    measures, so the two numbers are the same computation.
    """
    x = np.asarray(features)

    def fit_fn(xt: np.ndarray, yt: np.ndarray, xv: np.ndarray) -> np.ndarray:
        fit = solve_head(xt, yt, n_classes, class_weight=class_weight, seed=seed)
        return fit.predict_proba(xv)

    return out_of_fold_predictions(x, labels, fit_fn, folds, seed, progress)


def _solve(
    features: Any,
    labels: Sequence[int] | np.ndarray,
    n_classes: int | None,
    class_weight: str | Sequence[float] | Mapping[int, float] | None,
    grid: Sequence[float],
    folds: int,
    seed: int,
    criterion: str,
    scaling: str,
    C: float | None,
    progress: Progress | None,
) -> HeadFit:
    t0 = time.perf_counter()
    if criterion not in CRITERIA:
        raise ConfigError(f"criterion must be one of {', '.join(CRITERIA)} (got '{criterion}').")
    if scaling not in SCALINGS:
        raise ConfigError(f"scaling must be one of {', '.join(SCALINGS)} (got '{scaling}').")
    x, y, k = _check(features, labels, n_classes)
    counts = np.bincount(y, minlength=k)
    present = np.flatnonzero(counts)
    weights = _class_weights(class_weight, y, k)
    notes = []
    if len(present) < k:
        notes.append(
            f"{k - len(present)} class(es) have no training images and are never predicted."
        )
    if np.ptp(x, axis=0).max(initial=0.0) == 0.0:
        notes.append("Every image has the same features: the head can only learn class sizes.")
    n_folds, scores, chosen = 0, [], None
    smallest = int(counts[present].min())
    if C is None and smallest < 2:
        C = DEFAULT_C
        notes.append(
            "A class has a single training image, too few to cross-validate the "
            f"regularisation; using C = {DEFAULT_C:g}, the usual choice for few images."
        )
    search = np.arange(len(y))
    if C is None:
        if len(y) > SEARCH_MAX_IMAGES:  # plenty of images: 3 folds rank C well enough
            folds = min(folds, 3)
        n_folds = fold_count(counts[present], folds)
        search = search_subset(y, SEARCH_MAX_IMAGES, n_folds, seed)
        scores = _cross_validate(
            x[search],
            y[search],
            k,
            grid,
            n_folds,
            seed,
            weights,
            scaling,
            criterion == "log_loss",
            progress,
        )
        chosen = _pick(scores, criterion)
        C = chosen.C
    if progress is not None:
        progress(
            {
                "stage": "fit-head",
                "C": float(C),
                "images": len(y),
                "message": f"Fitting the head on all {len(y)} training images (C = {C:g}).",
            }
        )
    basis = Basis.of(x, scaling)
    z = basis.project(x)
    if z.size > FLOAT32_ABOVE:  # memory-bound products: float32 halves the bytes moved
        z = z.astype(np.float32)
    est = quiet_fit(estimator(float(C), weights, present), z, y)
    kernel_p, bias_p = basis.raw_weights(*softmax_columns(est))
    kernel = np.zeros((x.shape[1], k))
    bias = np.full(k, ABSENT_LOGIT)
    kernel[:, est.classes_] = kernel_p
    bias[est.classes_] = bias_p
    fit = HeadFit(
        kernel=kernel.astype(np.float32),
        bias=bias.astype(np.float32),
        C=float(C),
        cv_accuracy=chosen.accuracy if chosen else None,
        cv_accuracy_std=chosen.accuracy_std if chosen else None,
        folds=n_folds,
        search_images=len(search) if n_folds else 0,
        seconds=round(time.perf_counter() - t0, 4),
        scores=tuple(scores),
        criterion=criterion,
        class_weights=weights,
        converged=int(np.max(est.n_iter_)) < MAX_ITER,
        note=" ".join(notes),
    )
    if progress is not None:
        progress({"stage": "head-solved", **fit.summary(), "message": describe(fit)})
    return fit


def _class_weights(
    class_weight: str | Sequence[float] | Mapping[int, float] | None, y: np.ndarray, k: int
) -> tuple[float, ...] | None:
    if class_weight is None:
        return None
    if isinstance(class_weight, str):
        if class_weight != "balanced":
            raise ConfigError(f"class_weight must be 'balanced' or weights (got '{class_weight}').")
        return balanced_weights(y, k)
    if isinstance(class_weight, Mapping):
        return tuple(float(class_weight.get(i, 1.0)) for i in range(k))
    weights = tuple(float(w) for w in class_weight)
    if len(weights) != k:
        raise ConfigError(f"Give one class weight per class ({k}), not {len(weights)}.")
    return weights


__all__ = ["C_GRID", "CScore", "HeadFit", "describe", "solve_head", "write_into_dense"]
