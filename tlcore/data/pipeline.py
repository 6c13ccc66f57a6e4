"""Keras-ready input: batches of uint8 images and int32 labels from a list of images.

Memory stays bounded whatever the dataset size:

- ``make_dataset`` streams: a tf.data pipeline shuffles the *names* of cache entries
  (seeded, a new order every epoch), reads each entry with ``read_file`` + ``decode_raw``
  in parallel, batches and prefetches. Only a few batches are ever in memory, and no
  Python runs per image after the cold cache is filled.
- ``load_arrays`` returns a ``np.memmap`` of shape (N, S, S, 3) on disk, assembled once
  from the cache entries and reused while the same images are asked for again. The
  operating system pages it in and out; 50,000 images at 224 px (7.5 GB) do not need
  7.5 GB of RAM. The training fast path slices it batch by batch. Like every cache file
  it ends with a CRC-32 trailer (``tlcore.data.checksum``), checked each time it is
  reused (one read pass, ~1 GB/s); a damaged array, or a damaged entry met while
  assembling one, is built again.

With ``use_cache=False`` nothing is kept between calls: ``make_dataset`` decodes every
epoch (``tf.numpy_function`` over Pillow, in parallel) and ``load_arrays`` decodes into
an anonymous temporary memmap.

TensorFlow is imported inside ``make_dataset`` only.
"""

import hashlib
import os
import tempfile
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from tlcore.data import checksum
from tlcore.data.imagecache import ImageCache, default_workers
from tlcore.data.images import load_image
from tlcore.data.scan import ImageItem
from tlcore.errors import DataError

Progress = Callable[[int, int], None]


def labels_for(items: Sequence[ImageItem], classes: Sequence[str]) -> np.ndarray:
    """Integer labels (index into ``classes``) for ``items``, as int32.

    Raises:
        DataError: an item's label is not one of ``classes``.
    """
    index = {name: i for i, name in enumerate(classes)}
    try:
        return np.fromiter((index[i.label] for i in items), dtype=np.int32, count=len(items))
    except KeyError as e:
        raise DataError(
            f"Class {e} is not one of the model's classes ({', '.join(classes)})."
        ) from None


def _arrays_path(cache: ImageCache, entries: list) -> str:
    h = hashlib.blake2b(digest_size=16)
    for e in entries:
        h.update(e.name.encode() + b"\n")
    folder = cache.folder / "arrays"
    folder.mkdir(parents=True, exist_ok=True)
    return str(folder / f"{h.hexdigest()}-{len(entries)}.u8")


def load_arrays(
    items: Sequence[ImageItem],
    classes: Sequence[str],
    size: int,
    mode: str = "pad",
    use_cache: bool = True,
    progress: Progress | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """All images of ``items`` as one (N, size, size, 3) uint8 array-like, plus labels.

    The images are a read-only ``np.memmap`` (bounded memory); slice it in batches.

    Args:
        items: Images to load (e.g. ``split.train``).
        classes: Class names in label-index order.
        size: Square size in pixels.
        mode: Resize mode (pad, crop, stretch).
        use_cache: Reuse / fill the workspace image cache.
        progress: Optional ``callable(done, total)`` while images are decoded.

    Returns:
        (images, labels): uint8 (N, S, S, 3) and int32 (N,).
    """
    labels = labels_for(items, classes)
    shape = (len(items), size, size, 3)
    if not items:
        return np.zeros(shape, np.uint8), labels
    paths = [i.path for i in items]
    if not use_cache:
        with tempfile.TemporaryFile() as f:  # unlinked already; the mapping keeps it alive
            images = np.memmap(f, dtype=np.uint8, mode="w+", shape=shape)
        with ThreadPoolExecutor(default_workers()) as pool:
            for done, (i, pixels) in enumerate(
                pool.map(lambda ip: (ip[0], load_image(ip[1], size, mode)), enumerate(paths)), 1
            ):
                images[i] = pixels
                if progress is not None:
                    progress(done, len(paths))
        return images, labels
    cache = ImageCache(size, mode)
    entries = cache.ensure(paths, progress)
    target = _arrays_path(cache, entries)
    if not checksum.check_file(target, 0, int(np.prod(shape))):
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(target), prefix=".", suffix=".tmp")
        os.close(fd)
        try:
            out = np.memmap(tmp, dtype=np.uint8, mode="w+", shape=shape)
            crc = 0
            for i, (path, entry) in enumerate(zip(paths, entries, strict=True)):
                pixels = cache.read(entry)
                out[i] = pixels if pixels is not None else cache.load(path)  # damaged: again
                crc = zlib.crc32(out[i], crc)
            out.flush()
            del out
            with open(tmp, "ab") as f:
                f.write(checksum.trailer(crc))
            os.replace(tmp, target)
        except BaseException:
            os.unlink(tmp)
            raise
    return np.memmap(target, dtype=np.uint8, mode="r", shape=shape), labels


def make_dataset(
    items: Sequence[ImageItem],
    classes: Sequence[str],
    size: int,
    mode: str = "pad",
    batch_size: int = 32,
    shuffle: bool = True,
    seed: int = 0,
    use_cache: bool = True,
    progress: Progress | None = None,
):
    """A shuffled, batched, prefetched ``tf.data.Dataset`` of (uint8 [B,S,S,3], int32 [B]).

    The cold cache is filled first (in parallel, reporting ``progress``); every epoch
    then reads the cache. The shuffle is seeded and differs from epoch to epoch, the
    same way in every run.

    Args:
        items: Images (e.g. ``split.train``).
        classes: Class names in label-index order.
        size: Square size in pixels.
        mode: Resize mode (pad, crop, stretch).
        batch_size: Images per batch (the last batch may be smaller).
        shuffle: Shuffle every epoch (training) or keep the order (evaluation).
        seed: Shuffle seed.
        use_cache: Read decoded images from the workspace cache (filled now if needed).
        progress: Optional ``callable(done, total)`` while the cache is filled.
    """
    import tensorflow as tf

    labels = labels_for(items, classes)
    paths = [i.path for i in items]
    if use_cache:
        # tf.data takes the bytes as they are: check every entry's CRC once, up front.
        entries = ImageCache(size, mode).ensure(paths, progress, verify=True)
        names = tf.constant([str(e) for e in entries], dtype=tf.string)
        ds = tf.data.Dataset.from_tensor_slices((names, labels))
        nbytes = size * size * 3

        def read(entry, label):
            raw = tf.strings.substr(tf.io.read_file(entry), 0, nbytes)  # without the trailer
            pixels = tf.io.decode_raw(raw, tf.uint8)
            return tf.reshape(pixels, (size, size, 3)), label
    else:
        ds = tf.data.Dataset.from_tensor_slices((tf.constant(paths, dtype=tf.string), labels))

        def decode(path: bytes) -> np.ndarray:
            return load_image(os.fsdecode(path), size, mode)

        def read(path, label):
            pixels = tf.numpy_function(decode, [path], tf.uint8, stateful=False)
            return tf.ensure_shape(pixels, (size, size, 3)), label

    if shuffle and len(paths) > 1:
        ds = ds.shuffle(len(paths), seed=seed, reshuffle_each_iteration=True)
    ds = ds.map(read, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)
