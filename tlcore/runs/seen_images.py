"""Was an image one of a run's training images? Compared by content, not by name.

A prediction on an image the model trained on says little about new images, and a
dropped file keeps none of its original path. So the dropped file's bytes are
compared with the run's training files (``run_files.read_split``): only the files of
the same size are hashed, so checking costs a ``stat`` per training file (kept per run
by the caller) and a hash of the rare same-size ones.
"""

import os
from collections import defaultdict
from pathlib import Path

from tlcore.data.checksum import file_digest
from tlcore.errors import TransferLabError
from tlcore.runs import run_files


def training_sizes(ref: str | os.PathLike) -> dict[int, tuple[str, ...]]:
    """The run's training image files by size in bytes (empty when it kept no split).

    Files moved or deleted since are left out: what is not there cannot be compared.
    """
    try:
        split = run_files.read_split(ref)
    except TransferLabError:
        return {}  # a damaged split: nothing to compare with (the run pages say why)
    if split is None:
        return {}
    by_size: dict[int, list[str]] = defaultdict(list)
    for item in split.train:
        try:
            by_size[os.stat(item.path).st_size].append(item.path)
        except OSError:
            continue
    return {size: tuple(paths) for size, paths in by_size.items()}


def seen_in_training(path: str | os.PathLike, sizes: dict[int, tuple[str, ...]]) -> bool:
    """True when the file at ``path`` has the same bytes as one of the training files."""
    try:
        candidates = sizes.get(Path(path).stat().st_size, ())
        if not candidates:
            return False
        digest = file_digest(path)
    except OSError:
        return False
    for other in candidates:
        try:
            if file_digest(other) == digest:
                return True
        except OSError:
            continue
    return False
