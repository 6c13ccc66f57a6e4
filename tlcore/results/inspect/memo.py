"""Results of inspecting, kept in ``<workspace>/cache/inspect/`` so a second look at the
same images costs seconds: the out-of-fold probabilities (about 13 s for 1,000 images on
2 busy cores) and the t-SNE map (about 7 s), keyed by a hash of exactly what they are
computed from (the features' bytes, the labels, the settings). A file that cannot be
read is computed again."""

import contextlib
import hashlib
import io
from collections.abc import Callable
from typing import Any

import numpy as np

from tlcore import fsutil, workspace

VERSION = 1


def digest(*parts: Any) -> str:
    """A hash of arrays (their dtype, shape and bytes) and plain values, in order."""
    h = hashlib.sha256(f"inspect-v{VERSION}".encode())
    for part in parts:
        if isinstance(part, np.ndarray):
            arr = np.ascontiguousarray(part)
            h.update(f"{arr.dtype}{arr.shape}".encode())
            h.update(arr.tobytes())
        else:
            h.update(repr(part).encode())
        h.update(b"\0")
    return h.hexdigest()[:32]


def cached(name: str, key: str, compute: Callable[[], np.ndarray]) -> np.ndarray:
    """The array stored under ``name-key``, or ``compute()`` stored there first."""
    path = workspace.cache_dir("inspect") / f"{name}-{key}.npy"
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError):
        pass  # missing or damaged: compute it (again)
    value = np.asarray(compute())
    buffer = io.BytesIO()
    np.save(buffer, value, allow_pickle=False)
    with contextlib.suppress(OSError):  # a full disk costs the next look seconds, no more
        fsutil.atomic_write_bytes(path, buffer.getvalue())
    return value
