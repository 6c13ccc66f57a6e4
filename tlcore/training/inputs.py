"""The inputs of one run: decoded pixel arrays per split, or the frozen part's cached outputs."""

from typing import Any

import numpy as np

from tlcore.config import TrainConfig
from tlcore.training import features
from tlcore.training.events import EventLog


def decode(config: TrainConfig, split: Any, size: int, log: EventLog) -> dict[str, Any]:
    """Decode every split to uint8 arrays (cached), reporting one ``decode`` progress."""
    from tlcore.data.pipeline import load_arrays

    parts = {"train": split.train, "val": split.val, "test": split.test}
    total = sum(len(v) for v in parts.values())
    report = log.progress("decode")
    out, offset = {}, 0
    for name, items in parts.items():

        def progress(done: int, _total: int, base: int = offset) -> None:
            report(base + done, total)

        if items:
            images, labels = load_arrays(
                items,
                list(split.classes),
                size,
                config.resize_mode,
                use_cache=config.use_cache,
                progress=progress,
            )
        else:
            images = np.zeros((0, size, size, 3), np.uint8)
            labels = np.zeros((0,), np.int32)
        out[name] = (images, np.asarray(labels, dtype=np.int32), [i.path for i in items])
        offset += len(items)
    report(total, total)
    return out


def cached_features(
    cut: features.Cut, data: dict, config: TrainConfig, size: int, log: EventLog
) -> dict[str, Any]:
    """The frozen part's outputs for every split, computed once and cached."""
    total = sum(len(v[1]) for v in data.values())
    report = log.progress("features")
    feats, offset = {}, 0
    for name, (images, labels, paths) in data.items():
        feats[name] = features.cached_features(
            cut,
            paths,
            images,
            size,
            config.resize_mode,
            config.use_cache,
            progress=lambda d, _t, base=offset: report(base + d, total),
        )
        offset += len(labels)
    return feats
