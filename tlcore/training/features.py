"""The fast path: never run frozen layers twice on the same image.

When augmentation is off, every epoch pushes the same images through the same frozen
layers and gets the same outputs. So we cut the model where the frozen part ends, run the
frozen part once per (split images, frozen weights, image size, resize mode, cut), cache
its outputs under ``workspace/cache/features/``, and train only the part after the cut
on them. Two cuts:

- ``pool`` (feature extraction: the whole backbone frozen): cache the pooled backbone
  outputs, train ``dropout -> predictions``.
- a backbone layer (fine-tune with the bottom layers frozen): the deepest layer before
  the first trainable one whose output is the *only* tensor flowing from the frozen part
  to the rest (no skip connection jumps over it). Chains (VGG16, the small CNN) can be cut
  right below the first trainable layer; networks with residual connections (ResNet,
  MobileNetV2) only between blocks. Used only if the cached tensor is not larger than
  the image itself (else reading it back would cost more than recomputing).

The part after the cut is a model built from the classifier's OWN layer objects, so
training it trains the end-to-end model in place: the saved ``model.keras`` takes raw
pixels and predicts exactly what the trained part predicted on the cached features.
The cache key hashes the actual frozen weights (not their *name*), so ``weights=none``
with another seed or another ``run:<id>`` never reuses stale features. Each cached file
ends with a CRC-32 trailer (``tlcore.data.checksum``) checked before it is reused; a
damaged one (zeroed, random bytes) is computed again.
"""

import hashlib
import json
import os
import tempfile
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tlcore import workspace
from tlcore.data import checksum

POOL = "pool"
FEATURES_VERSION = 2  # 2: files end with a CRC trailer
_PRE_BACKBONE = ("augmentation", "preprocess")


@dataclass
class Cut:
    """Where the model is cut: ``extractor`` (pixels -> cached tensor) and ``trainable``
    (cached tensor -> probabilities, sharing the classifier's layers)."""

    name: str
    extractor: Any
    trainable: Any
    digest: str


def _frozen(layer: Any) -> bool:
    return not layer.trainable_weights


def _has_trainable_bn(layer: Any) -> bool:
    subs = layer._flatten_layers(include_self=True, recursive=True)
    return any(type(s).__name__ == "BatchNormalization" and s.trainable for s in subs)


def skips_over(backbone: Any) -> np.ndarray:
    """For each layer index, how many connections jump over it (from a layer below it to
    one above): 0 means everything above depends on the layers below only through it."""
    layers = backbone.layers
    position = {id(layer): i for i, layer in enumerate(layers)}
    blocked = np.zeros(len(layers) + 1, dtype=np.int64)
    for c, layer in enumerate(layers):
        for node in layer._inbound_nodes:
            for tensor in node.input_tensors:
                p = position.get(id(tensor._keras_history.operation))
                if p is not None and c - p > 1:
                    blocked[p + 1] += 1  # positions p+1 .. c-1 cannot be cut
                    blocked[c] -= 1
    return np.cumsum(blocked)


def is_single_path(backbone: Any, j: int, crossed: np.ndarray) -> bool:
    """Layer ``j`` is called once, has one output, and nothing jumps over it."""
    nodes = backbone.layers[j]._inbound_nodes
    return crossed[j] == 0 and len(nodes) == 1 and len(nodes[0].outputs) == 1


def backbone_cut_index(backbone: Any) -> int | None:
    """Deepest layer index before the first trainable layer that alone connects the two
    parts (None: no such point, or nothing is frozen)."""
    layers = backbone.layers
    first = next((i for i, layer in enumerate(layers) if not _frozen(layer)), None)
    if first is None or first < 2:
        return None
    crossed = skips_over(backbone)
    for j in range(first - 1, 0, -1):
        if is_single_path(backbone, j, crossed):
            return j
    return None


def plan_cut(config: Any, model: Any) -> Cut | None:
    """The cut to train with, or None when the fast path does not apply."""
    import keras

    if config.augment.enabled:
        return None
    names = [layer.name for layer in model.layers]
    if POOL not in names:
        return None
    before = [model.get_layer(n) for n in names[1 : names.index(POOL)]]
    after_pool = [model.get_layer(n) for n in names[names.index(POOL) + 1 :]]
    if all(_frozen(layer) for layer in before):
        inputs = keras.Input(model.get_layer(POOL).output.shape[1:], name="features")
        x = inputs
        for layer in after_pool:
            x = layer(x)
        extractor = keras.Model(model.inputs, model.get_layer(POOL).output, name="extractor")
        return Cut(
            POOL, extractor, keras.Model(inputs, x, name="head"), weights_digest(before, POOL)
        )
    backbone = model.get_layer("backbone")
    pre = [layer for layer in before if layer is not backbone]
    if not all(_frozen(layer) for layer in pre) or _has_trainable_bn(backbone):
        return None  # training BatchNorm changes the frozen part's outputs too
    j = backbone_cut_index(backbone)
    if j is None:
        return None
    cut_layer = backbone.layers[j]
    bottom = keras.Model(backbone.inputs, cut_layer.output)
    shape = _feature_shape(bottom, model.input_shape)
    if shape is None or int(np.prod(shape)) > int(np.prod(model.input_shape[1:])):
        return None
    top = keras.Model(cut_layer.output, backbone.output)
    x = model.inputs[0]
    for layer in pre:
        x = layer(x)
    extractor = keras.Model(model.inputs, bottom(x, training=False), name="extractor")
    inputs = keras.Input(shape, name="features")
    x = top(inputs, training=False)
    for layer in [model.get_layer(POOL), *after_pool]:
        x = layer(x)
    return Cut(
        cut_layer.name,
        extractor,
        keras.Model(inputs, x, name="head"),
        weights_digest([*pre, *backbone.layers[: j + 1]], cut_layer.name),
    )


def _feature_shape(bottom: Any, input_shape: tuple) -> tuple[int, ...] | None:
    """The cut's output shape for the classifier's fixed input size.

    A backbone that takes any size (input ``(None, None, 3)``) has no fixed feature-map
    size of its own; the classifier's input (the configured image size) fixes it.
    """
    shape = tuple(bottom.output.shape[1:])
    if None in shape:
        try:
            shape = tuple(bottom.compute_output_shape((None, *input_shape[1:]))[1:])
        except Exception:  # an architecture Keras cannot infer a shape for: no fast path
            return None
    return shape if None not in shape else None


def weights_digest(layers: Sequence[Any], cut: str) -> str:
    """Hash of every weight of ``layers`` (what the cached tensor depends on)."""
    h = hashlib.sha256(cut.encode())
    for layer in layers:
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
            h.update(f"{p}\0{st.st_size}\0{st.st_mtime_ns}\n".encode("utf-8", "surrogateescape"))
        except OSError:
            h.update(f"{p}\0missing\n".encode("utf-8", "surrogateescape"))
    return h.hexdigest()[:24]


def cache_path(paths: Sequence[str], digest: str, size: int, mode: str) -> Path:
    """Where the cached tensors of these files under these frozen weights live."""
    key = hashlib.sha256(
        json.dumps([items_digest(paths), digest, size, mode, FEATURES_VERSION]).encode()
    )
    return workspace.cache_dir("features") / f"{key.hexdigest()[:32]}.npy"


def extract(
    model: Any,
    images: Any,
    batch_size: int = 64,
    progress: Callable[[int, int], None] | None = None,
    out: Any = None,
) -> np.ndarray:
    """Run ``model`` over uint8 ``images`` (N,S,S,3) (may be a memmap) in batches."""
    n = len(images)
    if out is None:
        out = np.empty((n, *model.output.shape[1:]), dtype=np.float32)
    call = _compiled(model)
    for start in range(0, n, batch_size):
        batch = np.asarray(images[start : start + batch_size], dtype=np.float32)
        out[start : start + len(batch)] = np.asarray(call(batch))
        if progress is not None:
            progress(min(start + batch_size, n), n)
    return out


_COMPILED: "weakref.WeakKeyDictionary[Any, Any]" = weakref.WeakKeyDictionary()


def _compiled(model: Any) -> Any:
    """The model's inference call as a ``tf.function``, traced once per model and shape.

    Not ``predict_on_batch``: under MirroredStrategy it pads a short last batch per
    replica and returns extra rows.
    """
    import tensorflow as tf

    call = _COMPILED.get(model)
    if call is None:
        ref = weakref.ref(model)  # the cache must not keep a model alive
        # Any batch size, one trace: the last batch of each split is shorter.
        spec = tf.TensorSpec((None, *model.inputs[0].shape[1:]), tf.float32)
        call = tf.function(lambda x: ref()(x, training=False), input_signature=[spec])
        _COMPILED[model] = call
    return call


def cached_features(
    cut: Cut,
    paths: Sequence[str],
    images: Any,
    size: int,
    mode: str,
    use_cache: bool = True,
    batch_size: int = 64,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """The frozen part's outputs for ``images``, from the cache when it has them."""
    shape = (len(paths), *cut.extractor.output.shape[1:])
    if len(paths) == 0:
        return np.zeros(shape, dtype=np.float32)
    if not use_cache:
        return extract(cut.extractor, images, batch_size, progress)
    path = cache_path(paths, cut.digest, size, mode)
    feats = _load_checked(path, shape)
    if feats is not None:
        if progress is not None:
            progress(len(paths), len(paths))
        return feats
    return _write_cache(
        path, shape, lambda out: extract(cut.extractor, images, batch_size, progress, out=out)
    )


def store_features(cut: Cut, paths: Sequence[str], size: int, mode: str, feats: np.ndarray) -> None:
    """Put features computed elsewhere (e.g. by the strategy probe) where a run with this
    cut will find them, unless a valid copy is there already."""
    path = cache_path(paths, cut.digest, size, mode)
    if _load_checked(path, feats.shape) is None:

        def fill(out: np.ndarray) -> None:
            out[:] = feats

        _write_cache(path, feats.shape, fill)


def _write_cache(path: Path, shape: tuple, fill: Callable[[np.ndarray], Any]) -> np.ndarray:
    """Write a cache file atomically: ``fill`` writes into a memmap, then a CRC trailer
    is appended and the file renamed into place. Returns the file mapped read-only."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".feat.", suffix=".npy")
    os.close(fd)
    try:
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=shape)
        fill(out)
        out.flush()
        start = out.offset
        del out
        checksum.append_trailer(tmp, start)  # np.load maps the data and ignores it
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return np.load(path, mmap_mode="r")


def _load_checked(path: Path, shape: tuple) -> np.ndarray | None:
    """The cached tensors if the file has this shape and its CRC matches, else None."""
    if not path.is_file():
        return None
    try:
        feats = np.load(path, mmap_mode="r")
    except (OSError, ValueError):
        return None  # damaged header: computed again and overwritten
    if feats.shape != shape or not checksum.check_file(path, feats.offset, feats.nbytes):
        return None
    return feats
