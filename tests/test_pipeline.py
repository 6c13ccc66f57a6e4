"""data.imagecache + data.pipeline: decode once, bounded memory, seeded tf.data batches."""

import os
import threading
from pathlib import Path

import numpy as np
import pytest
from conftest import write_class_images
from PIL import Image

import tlcore.data.imagecache as imagecache
from tlcore import workspace
from tlcore.data.images import load_image
from tlcore.data.pipeline import labels_for, load_arrays, make_dataset
from tlcore.data.scan import ImageItem, class_names, scan
from tlcore.errors import DataError, ImageError


class Decodes(list):
    """The paths the cache really decoded, and the threads that did it."""

    threads: set[int]


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> Decodes:
    calls = Decodes()
    calls.threads = set()

    def counting(path, size, mode="pad"):
        calls.append(str(path))
        calls.threads.add(threading.get_ident())
        return load_image(path, size, mode)

    monkeypatch.setattr(imagecache, "load_image", counting)
    return calls


def items_of(root: Path) -> tuple[list[ImageItem], list[str]]:
    report = scan(root)
    return report.items, class_names(report)


def test_cache_decodes_once_and_again_when_the_file_changes(tmp_path: Path, decodes) -> None:
    path = tmp_path / "a.png"
    Image.new("RGB", (40, 20), (10, 200, 30)).save(path)
    cache = imagecache.ImageCache(16, "pad")
    first = cache.load(path)
    assert np.array_equal(first, load_image(path, 16, "pad")) and len(decodes) == 1
    entry = cache.entry_path(path)
    assert entry.is_relative_to(workspace.cache_dir("images"))
    assert entry.stat().st_size == 768 + 8  # the pixels, then the CRC trailer
    assert np.array_equal(cache.load(path), first) and len(decodes) == 1  # from the cache
    assert imagecache.ImageCache(16, "crop").entry_path(path) != entry  # mode is in the key
    Image.new("RGB", (40, 20), (200, 10, 30)).save(path)
    os.utime(path, ns=(1, 1_000_000_000))  # a different mtime, as an edit would give
    assert tuple(cache.load(path)[8, 8]) == (200, 10, 30) and len(decodes) == 2
    cache.entry_path(path).write_bytes(b"half")  # a damaged entry is not trusted
    assert tuple(cache.load(path)[8, 8]) == (200, 10, 30) and len(decodes) == 3
    with pytest.raises(ImageError, match="missing"):
        cache.entry_path(tmp_path / "gone.png")


def test_ensure_decodes_missing_entries_in_parallel(tmp_path: Path, decodes) -> None:
    items, _ = items_of(write_class_images(tmp_path / "d", per_class=8, size=200))
    paths = [i.path for i in items]
    cache = imagecache.ImageCache(32)
    seen = []
    entries = cache.ensure(paths[:10], progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (10, 10) and len(decodes) == 10
    # The first decode of each thread waits until two threads are decoding at once:
    # with a single decoder this would time out and fail.
    meeting, met = threading.Barrier(2, timeout=20), set()
    counting = imagecache.load_image

    def together(path, size, mode="pad"):
        if threading.get_ident() not in met:
            met.add(threading.get_ident())
            meeting.wait()
        return counting(path, size, mode)

    imagecache.load_image = together
    decodes.threads.clear()
    try:
        entries = cache.ensure(paths, workers=2)
    finally:
        imagecache.load_image = counting
    assert len(entries) == 24 and len(decodes) == 24  # only the 14 missing ones
    assert len(decodes.threads) == 2  # two decoder threads shared the work
    assert all(e.stat().st_size == 32 * 32 * 3 + 8 for e in entries)


def test_load_arrays_is_a_reused_memmap(tmp_path: Path, decodes) -> None:
    items, classes = items_of(write_class_images(tmp_path / "d", per_class=5))
    images, labels = load_arrays(items, classes, 24, "crop")
    assert isinstance(images, np.memmap) and images.shape == (15, 24, 24, 3)
    assert images.dtype == np.uint8 and labels.dtype == np.int32
    assert labels.tolist() == [classes.index(i.label) for i in items]
    assert np.array_equal(images[7], load_image(items[7].path, 24, "crop"))
    again, _ = load_arrays(items, classes, 24, "crop")
    assert again.filename == images.filename and len(decodes) == 15  # nothing decoded
    nocache, labels2 = load_arrays(items[:4], classes, 24, "crop", use_cache=False)
    assert np.array_equal(nocache, images[:4]) and labels2.tolist() == labels[:4].tolist()
    assert len(decodes) == 15  # the no-cache path does not touch the cache
    empty, none = load_arrays([], classes, 24)
    assert empty.shape == (0, 24, 24, 3) and none.shape == (0,)


def test_labels_must_be_known_classes() -> None:
    with pytest.raises(DataError, match="Class 'cow' is not one of the model's classes"):
        labels_for([ImageItem("/x.png", "cow")], ["cat", "dog"])


def test_a_bad_file_names_itself(tmp_path: Path) -> None:
    (tmp_path / "bad.jpg").write_text("no")
    with pytest.raises(ImageError) as info:
        imagecache.ImageCache(8).ensure([str(tmp_path / "bad.jpg")])
    assert info.value.path == str(tmp_path / "bad.jpg") and info.value.reason == "not an image"


def test_make_dataset_batches_shuffles_per_epoch_and_is_seeded(tmp_path: Path, decodes) -> None:
    items, classes = items_of(write_class_images(tmp_path / "d", per_class=6))
    ds = make_dataset(items, classes, 16, batch_size=8, shuffle=True, seed=3)
    epochs = []
    for _ in range(2):
        batches = list(ds.as_numpy_iterator())
        assert [b[0].shape for b in batches] == [(8, 16, 16, 3), (8, 16, 16, 3), (2, 16, 16, 3)]
        assert batches[0][0].dtype == np.uint8 and batches[0][1].dtype == np.int32
        images = np.concatenate([b[0] for b in batches])
        labels = np.concatenate([b[1] for b in batches])
        # each image is a noisy solid colour: its label must be the colour it shows
        channel = {"red": 0, "green": 1, "blue": 2}
        assert all(
            int(np.argmax(img.mean(axis=(0, 1)))) == channel[classes[lab]]
            for img, lab in zip(images, labels, strict=True)
        )
        epochs.append(labels.tolist() + [int(images[i].sum()) for i in range(18)])
    assert epochs[0] != epochs[1]  # a new order every epoch
    assert sorted(epochs[0][:18]) == sorted(epochs[1][:18])
    assert len(decodes) == 18  # decoded once, read from the cache every epoch
    same = make_dataset(items, classes, 16, batch_size=8, shuffle=True, seed=3)
    assert [
        np.concatenate([b[1] for b in same.as_numpy_iterator()]).tolist() for _ in range(2)
    ] == [e[:18] for e in epochs]
    ordered = make_dataset(items, classes, 16, batch_size=18, shuffle=False, use_cache=False)
    imgs, labs = next(ordered.as_numpy_iterator())
    assert labs.tolist() == labels_for(items, classes).tolist()
    assert np.array_equal(imgs[5], load_image(items[5].path, 16))
    assert len(decodes) == 18  # use_cache=False does not go through the cache
