"""``inspect_dataset``: every finding about a dataset, from one pass through the network.

The JSON form (``InspectReport.to_dict``) is the contract of ``python -m tlcore inspect
--json``: ``label_issues`` [{path, given, suggested, score}], ``near_duplicates`` [{a, b,
similarity, kind}], ``outliers`` [{path, score}], ``map`` [{path, x, y, label}], plus
what a person needs to read them (notes, the similarity threshold, the network).
"""

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tlcore.config import TrainConfig
from tlcore.results.inspect.data_map import DataMap, project
from tlcore.results.inspect.embed import Embedded, Progress, embed_dataset
from tlcore.results.inspect.label_issues import LabelCheck, check_labels
from tlcore.results.inspect.near_duplicates import SIMILARITY, near_duplicates
from tlcore.results.inspect.outliers import find_outliers


@dataclass(frozen=True)
class InspectReport:
    """What inspecting found; lists of plain dicts, ready for JSON."""

    label_issues: list[dict[str, Any]]
    near_duplicates: list[dict[str, Any]]
    outliers: list[dict[str, Any]]
    map: list[dict[str, Any]]
    map_after: list[dict[str, Any]] = field(default_factory=list)
    classes: list[str] = field(default_factory=list)
    network: str = ""
    images: int = 0
    folds: int = 0
    similarity_threshold: float = SIMILARITY
    duplicate_pairs_found: int = 0
    map_method: str = ""
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain types only (the ``--json`` line)."""
        return dict(self.__dict__)


def inspect_dataset(
    config: TrainConfig,
    report: Any,
    progress: Progress | None = None,
    similarity: float = SIMILARITY,
) -> InspectReport:
    """Look at every image of ``report`` through ``config``'s pretrained network.

    Raises:
        ConfigError / WeightsUnavailableError: see ``embed.embed_dataset``.
    """
    say = progress or (lambda _event: None)
    t0 = time.monotonic()
    emb = embed_dataset(config, report, progress)
    say({"stage": "labels", "message": "Checking the labels (cross-validation)…"})
    check = check_labels(emb.features, emb.labels, emb.classes, config.seed)
    say({"stage": "duplicates", "message": "Looking for near-duplicates…"})
    pairs, n_pairs = near_duplicates(emb.features, emb.labels, emb.parts, similarity)
    outliers = find_outliers(emb.features)
    say({"stage": "map", "message": "Drawing the map…"})
    before = project(emb.features, emb.labels, config.seed)
    after = _after_map(check, before, config.seed)
    notes = [n for n in (check.note, before.note) if n]
    if n_pairs > len(pairs):
        notes.append(
            f"{n_pairs:,} near-duplicate pairs found; the {len(pairs)} closest are listed."
        )
    cls = emb.classes
    suspects = {i.index for i in check.issues}
    return InspectReport(
        label_issues=[
            {
                "path": emb.paths[i.index],
                "given": cls[i.given],
                "suggested": cls[i.suggested],
                "score": i.score,
            }
            for i in check.issues
        ],
        near_duplicates=[
            {"a": emb.paths[p.a], "b": emb.paths[p.b], "similarity": p.similarity, "kind": p.kind}
            for p in pairs
        ],
        outliers=[{"path": emb.paths[o.index], "score": o.score} for o in outliers],
        map=_points(emb, before, suspects),
        map_after=_points(emb, after, suspects) if after is not None else [],
        classes=list(cls),
        network=emb.network,
        images=len(emb.paths),
        folds=check.folds,
        similarity_threshold=similarity,
        duplicate_pairs_found=n_pairs,
        map_method=before.method,
        notes=notes,
        seconds=round(time.monotonic() - t0, 2),
    )


def _after_map(check: LabelCheck, before: DataMap, seed: int) -> DataMap | None:
    """The same images placed by the solved head's out-of-fold log-probabilities: what
    the features look like once a classifier is trained on them."""
    rows = before.indices[~np.isnan(check.probs[before.indices]).any(axis=1)]
    if check.folds == 0 or len(rows) < 3:
        return None
    kept = np.flatnonzero(np.asarray(check.checked))
    logits = np.log(np.clip(check.probs[np.ix_(rows, kept)], 1e-6, 1.0))
    # PCA: in the space of the classifier's outputs the classes lie along a few straight
    # directions, which PCA shows at once (t-SNE would take seconds more to say the same).
    placed = project(logits, np.zeros(len(rows), np.int64), seed, len(rows), method="PCA")
    return DataMap(rows[placed.indices], placed.xy, placed.method, "")


def _points(emb: Embedded, placed: DataMap, suspects: set[int]) -> list[dict[str, Any]]:
    return [
        {
            "path": emb.paths[i],
            "x": round(float(x), 4),
            "y": round(float(y), 4),
            "label": emb.classes[emb.labels[i]],
            "suspect": int(i) in suspects,
        }
        for i, (x, y) in zip(placed.indices, placed.xy, strict=True)
    ]
