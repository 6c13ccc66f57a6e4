"""Near-duplicates by content: pairs of images whose features point the same way.

Byte-identical files are found by the scan; these are the same picture resized,
recompressed, brightened or slightly cropped, which the network sees as (almost) one.
Cosine similarity of the pooled EfficientNet-Lite0 features (224 px), measured by
``bench/bench_inspect.py`` on scikit-image's photos: a copy at half size (JPEG 75),
cropped by 5% a side or 15% brighter scored 0.889-0.997 against its original (median
0.963; 11 of 15 copies at 0.95 or more, the strong crops below). Distinct images mostly
score 0.2-0.7; the closest distinct pair among 182 images was two near-identical 25 px
grey non-face crops of LFW at 0.966. ``SIMILARITY`` (0.95) keeps most such look-alikes
out at the cost of some crops; the CLI's ``--similarity`` moves it.
"""

from dataclasses import dataclass

import numpy as np

SIMILARITY = 0.95
KINDS = {
    "across_classes": "the same picture in two classes (a label conflict)",
    "across_splits": "the same picture in training and test images (leakage)",
    "within_class": "the same picture twice in one class",
}
LIMIT = 500  # pairs kept, most similar first (a folder of burst shots could give thousands)
_BLOCK = 1024  # rows of the similarity matrix at a time: memory stays ~N x 1024 floats


@dataclass(frozen=True)
class Pair:
    """Two images (indices) whose features' cosine similarity is at least the threshold."""

    a: int
    b: int
    similarity: float
    kind: str


def unit_rows(features: np.ndarray) -> np.ndarray:
    """Each feature vector scaled to length 1 (a zero vector stays zero)."""
    x = np.asarray(features, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


def near_duplicates(
    features: np.ndarray,
    labels: np.ndarray,
    parts: list[str] | tuple[str, ...],
    threshold: float = SIMILARITY,
    limit: int = LIMIT,
) -> tuple[list[Pair], int]:
    """Pairs at or above ``threshold``, most similar first, and how many there were.

    Args:
        features: (N, F) pooled features.
        labels: (N,) class indices.
        parts: the split of each image (``train``, ``val``, ``test``).
        threshold: cosine similarity from which two images count as one picture.
        limit: at most this many pairs are returned (the count says how many were found).
    """
    z = unit_rows(features)
    y = np.asarray(labels)
    part = np.asarray(parts)
    found: list[tuple[float, int, int]] = []
    for start in range(0, len(z), _BLOCK):
        sims = z[start : start + _BLOCK] @ z.T
        rows, cols = np.nonzero(sims >= threshold)
        rows_abs = rows + start
        upper = cols > rows_abs  # each pair once, never an image with itself
        for r, c in zip(rows_abs[upper], cols[upper], strict=True):
            found.append((float(sims[r - start, c]), int(r), int(c)))
    found.sort(key=lambda t: (-t[0], t[1], t[2]))
    pairs = [Pair(a, b, round(min(s, 1.0), 4), _kind(y, part, a, b)) for s, a, b in found[:limit]]
    return pairs, len(found)


def _kind(y: np.ndarray, part: np.ndarray, a: int, b: int) -> str:
    if y[a] != y[b]:
        return "across_classes"
    if part[a] != part[b]:
        return "across_splits"
    return "within_class"
