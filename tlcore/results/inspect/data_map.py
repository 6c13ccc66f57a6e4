"""A 2-D map of the images: each a dot, placed so that similar features sit close.

PCA (the two directions of most spread) for a few dozen images; t-SNE (scikit-learn,
van der Maaten & Hinton 2008) above ``TSNE_FROM`` images, where it keeps neighbourhoods
that PCA squashes together. Above ``MAX_POINTS`` images a stratified sample is mapped
(t-SNE's time grows faster than the count) and the note says so. The map is cached
(``memo``): a second look at the same images draws it at once.

Speed: t-SNE runs on one thread. On 1,000 points with 8 agents sharing 2 cores,
scikit-learn's default thread pools took 113 s for 1,000 iterations; one thread took
11 s, and 6.7 s for ``TSNE_ITERATIONS`` (500), which already shows the clusters.
"""

from dataclasses import dataclass

import numpy as np

from tlcore.results.inspect import memo

TSNE_FROM = 40
MAX_POINTS = 2500
PCA_BEFORE_TSNE = 50  # t-SNE on 50 principal components: the usual speed-up, same picture
TSNE_ITERATIONS = 500


@dataclass(frozen=True, eq=False)
class DataMap:
    """Where each mapped image sits: ``indices`` into the features, (M, 2) ``xy``."""

    indices: np.ndarray
    xy: np.ndarray
    method: str
    note: str


def project(
    features: np.ndarray,
    labels: np.ndarray,
    seed: int = 42,
    max_points: int = MAX_POINTS,
    method: str = "auto",
) -> DataMap:
    """Place every image (or a stratified sample of ``max_points``) on a plane.

    Args:
        features: (N, F) vectors to place.
        labels: (N,) class indices (keep each class's share when sampling).
        seed: seeds the sample, PCA's solver and t-SNE.
        max_points: sample above this many.
        method: ``auto`` (PCA below ``TSNE_FROM`` points, else t-SNE) or ``PCA``.
    """
    from sklearn.decomposition import PCA

    from tlcore.training.head_solver import search_subset

    x = np.asarray(features, dtype=np.float32)
    n = len(x)
    note = ""
    indices = np.arange(n)
    if n > max_points:
        indices = search_subset(np.asarray(labels), max_points, 1, seed)
        note = (
            f"The map shows {len(indices):,} of the {n:,} images (a sample that keeps each "
            "class's share): t-SNE on all of them would take minutes."
        )
    x = x[indices]
    if len(x) < 3:
        xy = np.zeros((len(x), 2))
        xy[:, 0] = np.arange(len(x))
        return DataMap(indices, xy, "none", note)
    if len(x) < TSNE_FROM or method == "PCA":
        xy = PCA(n_components=2, random_state=seed).fit_transform(x)
        return DataMap(indices, xy, "PCA", note)
    xy = memo.cached("tsne", memo.digest(x, seed, TSNE_ITERATIONS), lambda: _tsne(x, seed))
    return DataMap(indices, xy, "t-SNE", note)


def _tsne(x: np.ndarray, seed: int) -> np.ndarray:
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):  # see the module docstring: 10x faster when shared
        dims = min(PCA_BEFORE_TSNE, len(x) - 1, x.shape[1])
        reduced = PCA(n_components=dims, random_state=seed).fit_transform(x)
        perplexity = float(min(30.0, (len(x) - 1) / 3))
        tsne = TSNE(
            perplexity=perplexity,
            init="pca",
            max_iter=TSNE_ITERATIONS,
            random_state=seed,
            n_jobs=1,
        )
        return tsne.fit_transform(reduced)
