"""A 2-D map of the images: each a dot, placed so that similar features sit close.

PCA (the two directions of most spread) for a few dozen images; t-SNE (scikit-learn,
van der Maaten & Hinton 2008) above ``TSNE_FROM`` images, where it keeps neighbourhoods
that PCA squashes together. Above ``MAX_POINTS`` images a stratified sample is mapped
(t-SNE's time grows faster than the count) and the note says so.
"""

from dataclasses import dataclass

import numpy as np

TSNE_FROM = 40
MAX_POINTS = 2500
PCA_BEFORE_TSNE = 50  # t-SNE on 50 principal components: the usual speed-up, same picture


@dataclass(frozen=True, eq=False)
class DataMap:
    """Where each mapped image sits: ``indices`` into the features, (M, 2) ``xy``."""

    indices: np.ndarray
    xy: np.ndarray
    method: str
    note: str


def project(
    features: np.ndarray, labels: np.ndarray, seed: int = 42, max_points: int = MAX_POINTS
) -> DataMap:
    """Place every image (or a stratified sample of ``max_points``) on a plane."""
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

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
    if len(x) < TSNE_FROM:
        xy = PCA(n_components=2, random_state=seed).fit_transform(x)
        return DataMap(indices, xy, "PCA", note)
    dims = min(PCA_BEFORE_TSNE, len(x) - 1, x.shape[1])
    reduced = PCA(n_components=dims, random_state=seed).fit_transform(x)
    perplexity = float(min(30.0, (len(x) - 1) / 3))
    tsne = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed)
    return DataMap(indices, tsne.fit_transform(reduced), "t-SNE", note)
