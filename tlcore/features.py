"""The fast path: never run a frozen backbone twice on the same image.

When the backbone is frozen and augmentation is off, every epoch would push the same
images through the same frozen layers and get the same outputs. So we compute the
pooled backbone outputs once per (split images, model weights up to the cut, image size,
resize mode), cache them under ``workspace/cache/features/``, and train only the head
(``dropout`` -> ``predictions``, built from the full model's own layer configs and
initial weights) on them. The head's trained weights are copied back into the
end-to-end model, which is what gets saved: raw pixels in, same predictions as the head
on the cached features.

The cache key hashes the actual weights of the frozen part (not the weights' *name*), so
``weights=none`` with another seed, or a different ``run:<id>``, never reuses stale
features; a comparison of head settings on the same split pays the backbone once.
"""

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tlcore import workspace

CUT_LAYER = "pool"


def applies(config: Any, model: Any) -> bool:
    """True when the fast path gives the same training as the slow one.

    Needs: no augmentation (images must be identical every epoch) and nothing trainable
    before the cut (the whole backbone and preprocessing frozen).
    """
    if config.augment.enabled:
        return False
    names = [layer.name for layer in model.layers]
    if CUT_LAYER not in names:
        return False
    before = names[:names.index(CUT_LAYER)]
    return not any(model.get_layer(n).trainable_weights for n in before)


def feature_model(model: Any) -> Any:
    """The end-to-end model cut at the pooled features (raw pixels in, features out)."""
    import keras

    return keras.Model(model.inputs, model.get_layer(CUT_LAYER).output, name="features")


def build_head(model: Any) -> Any:
    """A model ``features -> dropout -> predictions`` with the full model's layer configs
    and current weights (so the head starts exactly where the full model would)."""
    import keras

    dims = model.get_layer(CUT_LAYER).output.shape[-1]
    dropout_cfg = model.get_layer("dropout").get_config()
    dense = model.get_layer("predictions")
    inputs = keras.Input((dims,), dtype="float32", name="features")
    x = keras.layers.Dropout.from_config(dropout_cfg)(inputs)
    outputs = keras.layers.Dense.from_config(dense.get_config())(x)
    head = keras.Model(inputs, outputs, name="head")
    head.get_layer("predictions").set_weights(dense.get_weights())
    return head


def copy_head_into(head: Any, model: Any) -> None:
    """Copy the trained head's dense weights into the end-to-end model."""
    model.get_layer("predictions").set_weights(head.get_layer("predictions").get_weights())


def weights_digest(model: Any, upto: str = CUT_LAYER) -> str:
    """Hash of every weight of the layers before ``upto`` (what the features depend on)."""
    h = hashlib.sha256()
    for layer in model.layers:
        if layer.name == upto:
            break
        h.update(layer.name.encode())
        for w in layer.weights:
            arr = np.ascontiguousarray(np.asarray(w))
            h.update(str(arr.shape).encode())
            h.update(arr.tobytes())
    return h.hexdigest()[:24]


def items_digest(paths: Sequence[str]) -> str:
    """Hash of the files (path, size, mtime) in order: a changed file changes the key."""
    h = hashlib.sha256()
    for p in paths:
        try:
            st = os.stat(p)
            h.update(f"{p}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        except OSError:
            h.update(f"{p}\0missing\n".encode())
    return h.hexdigest()[:24]


def cache_path(paths: Sequence[str], model_digest: str, size: int, mode: str) -> Path:
    """Where the features of these files under this model are cached."""
    key = hashlib.sha256(json.dumps(
        [items_digest(paths), model_digest, size, mode, CUT_LAYER]).encode()).hexdigest()[:32]
    return workspace.cache_dir("features") / f"{key}.npy"


def extract(fmodel: Any, images: Any, batch_size: int = 64,
            progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """Run ``fmodel`` over ``images`` (uint8 (N,S,S,3), may be a memmap) in batches."""
    n = len(images)
    dims = int(fmodel.output.shape[-1])
    out = np.empty((n, dims), dtype=np.float32)
    for start in range(0, n, batch_size):
        batch = np.asarray(images[start:start + batch_size], dtype=np.float32)
        out[start:start + len(batch)] = np.asarray(fmodel.predict_on_batch(batch))
        if progress is not None:
            progress(min(start + batch_size, n), n)
    return out


def cached_features(fmodel: Any, model_digest: str, paths: Sequence[str], images: Any,
                    size: int, mode: str, use_cache: bool = True, batch_size: int = 64,
                    progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """Return the features of ``images``, from the cache when it has them."""
    if len(paths) == 0:
        return np.zeros((0, int(fmodel.output.shape[-1])), dtype=np.float32)
    path = cache_path(paths, model_digest, size, mode)
    if use_cache and path.is_file():
        try:
            feats = np.load(path)
            if feats.shape[0] == len(paths):
                if progress is not None:
                    progress(len(paths), len(paths))
                return feats
        except (OSError, ValueError):
            pass  # damaged cache entry: recompute and overwrite
    feats = extract(fmodel, images, batch_size, progress)
    if use_cache:
        _atomic_save(path, feats)
    return feats


def _atomic_save(path: Path, array: np.ndarray) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".feat.", suffix=".npy")
    try:
        with os.fdopen(fd, "wb") as f:
            np.save(f, array)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
