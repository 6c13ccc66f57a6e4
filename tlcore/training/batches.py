"""What one epoch reads: seeded batches from arrays, class weights, a fresh optimizer."""

from typing import Any

import numpy as np

IMBALANCE_RATIO = 1.5  # largest / smallest class above this: weight classes (auto)


def class_weights(labels: np.ndarray, n_classes: int, mode: str) -> dict[int, float] | None:
    """Balanced class weights ``n / (k * count)``, or None when off / balanced (auto)."""
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=n_classes)
    present = counts[counts > 0]
    if mode == "off" or len(present) == 0:
        return None
    if mode == "auto" and present.max() / present.min() < IMBALANCE_RATIO:
        return None
    total = counts.sum()
    return {i: float(total / (len(present) * c)) if c else 0.0 for i, c in enumerate(counts)}


def optimizer(name: str, lr: Any) -> Any:
    """A fresh Keras optimizer by config name (``lr`` a float or a schedule)."""
    import keras

    return {
        "adam": keras.optimizers.Adam,
        "sgd": keras.optimizers.SGD,
        "rmsprop": keras.optimizers.RMSprop,
    }[name](learning_rate=lr)


def array_dataset(
    images: Any, labels: np.ndarray, batch_size: int, shuffle: bool, seed: int
) -> Any:
    """Batches of (images, int32 labels) read from an array or memmap by index.

    ``images`` are uint8 pixels or cached float32 features (the fast path); both paths
    read batches the same way and in the same seeded order.

    Memory stays bounded (one batch at a time); reshuffled every epoch, seeded.
    """
    import tensorflow as tf

    n = len(labels)
    shape = tuple(images.shape[1:])
    dtype = np.dtype(images.dtype)

    def gather(idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        idx = np.asarray(idx)
        order = np.argsort(idx)  # sorted reads are sequential on a memmap
        x = np.empty((len(idx), *shape), dtype=dtype)
        x[order] = images[idx[order]]
        return x, labels[idx].astype(np.int32)

    ds = tf.data.Dataset.range(n)
    if shuffle:
        ds = ds.shuffle(n, seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size).map(
        lambda i: tf.numpy_function(gather, [i], (tf.as_dtype(dtype), tf.int32)),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )
    ds = ds.map(lambda x, y: (tf.ensure_shape(x, (None, *shape)), tf.ensure_shape(y, (None,))))
    return ds.prefetch(tf.data.AUTOTUNE)
