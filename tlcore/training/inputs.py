"""The inputs of one run: decoded pixel arrays per split, or the frozen part's cached outputs.

Both can take minutes on a large dataset, so a stop request is checked after every
decoded image and every batch of features: ``StopRequested`` ends the preparation (the
images decoded so far stay cached for the next run; half-computed features do not).
"""

from collections.abc import Callable
from typing import Any

import numpy as np

from tlcore.config import TrainConfig
from tlcore.training import features
from tlcore.training.events import EventLog

StopCheck = Callable[[], bool] | None


class StopRequested(Exception):
    """A stop was asked for while the inputs were being prepared."""


def _checked(report: Callable[[int, int], None], should_stop: StopCheck) -> Any:
    """``report`` that also raises ``StopRequested`` once ``should_stop()`` says so."""
    if should_stop is None:
        return report

    def progress(done: int, total: int) -> None:
        report(done, total)
        if should_stop():
            raise StopRequested

    return progress


def decode(
    config: TrainConfig, split: Any, size: int, log: EventLog, should_stop: StopCheck = None
) -> dict[str, Any]:
    """Decode every split to uint8 arrays (cached), reporting one ``decode`` progress.

    Raises:
        StopRequested: ``should_stop()`` became true (checked after every decoded image).
    """
    from tlcore.data.pipeline import load_arrays

    parts = {"train": split.train, "val": split.val, "test": split.test}
    total = sum(len(v) for v in parts.values())
    report = _checked(log.progress("decode"), should_stop)
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
    cut: features.Cut,
    data: dict,
    config: TrainConfig,
    size: int,
    log: EventLog,
    should_stop: StopCheck = None,
) -> dict[str, Any]:
    """The frozen part's outputs for every split, computed once and cached.

    Raises:
        StopRequested: ``should_stop()`` became true (checked after every batch).
    """
    total = sum(len(v[1]) for v in data.values())
    report = _checked(log.progress("features"), should_stop)
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
