"""Cache files carry a CRC: zeroed or random content of the right size is rebuilt."""

from pathlib import Path

import numpy as np
import pytest
from conftest import write_class_images
from PIL import Image

from tlcore.data import checksum, imagecache
from tlcore.data.images import load_image
from tlcore.data.pipeline import load_arrays, make_dataset
from tlcore.data.scan import class_names, scan


def _overwrite_data(path: Path, start: int, length: int, random: bool = False) -> None:
    """Replace ``length`` bytes from ``start`` (the data, not the trailer): same size."""
    size = path.stat().st_size
    junk = (
        np.random.default_rng(0).integers(0, 256, length, dtype=np.uint8).tobytes()
        if random
        else bytes(length)
    )
    with open(path, "r+b") as f:
        f.seek(start)
        f.write(junk)
    assert path.stat().st_size == size


def test_trailers_round_trip_and_catch_changes(tmp_path: Path) -> None:
    raw = checksum.with_trailer(b"pixels")
    assert checksum.check_bytes(raw, 6) == b"pixels"
    assert checksum.check_bytes(bytes(6) + raw[6:], 6) is None
    assert checksum.check_bytes(raw[:-1], 6) is None
    path = tmp_path / "f"
    path.write_bytes(b"HEAD" + b"data" * 1000)
    checksum.append_trailer(path, 4)
    assert checksum.check_file(path, 4, 4000)
    _overwrite_data(path, 10, 4)
    assert not checksum.check_file(path, 4, 4000)


@pytest.mark.parametrize("random", [False, True])
def test_an_image_entry_with_zeroed_or_random_pixels_is_decoded_again(
    tmp_path: Path, random: bool
) -> None:
    path = tmp_path / "a.png"
    Image.new("RGB", (40, 20), (10, 200, 30)).save(path)
    cache = imagecache.ImageCache(16, "pad")
    good = cache.load(path)
    entry = cache.entry_path(path)
    _overwrite_data(entry, 0, cache.nbytes, random)  # right size, wrong pixels
    assert cache.read(entry) is None
    assert np.array_equal(cache.load(path), good)
    assert np.array_equal(cache.read(entry), good)  # and the entry was rebuilt
    _overwrite_data(entry, 0, cache.nbytes, random)
    assert cache.ensure([path]) == [entry] and cache.read(entry) is None  # sizes only
    cache.ensure([path], verify=True)
    assert np.array_equal(cache.read(entry), good)


def test_zeroed_packed_arrays_and_entries_are_rebuilt(tmp_path: Path) -> None:
    report = scan(write_class_images(tmp_path / "d", per_class=4))
    items, classes = report.items, class_names(report)
    expected = np.stack([load_image(i.path, 24, "crop") for i in items])
    images, _ = load_arrays(items, classes, 24, "crop")
    assert np.array_equal(images, expected)
    packed = Path(images.filename)
    del images
    _overwrite_data(packed, 0, expected.nbytes)  # the whole array zeroed, size unchanged
    again, _ = load_arrays(items, classes, 24, "crop")
    assert np.array_equal(again, expected)
    del again

    cache = imagecache.ImageCache(24, "crop")
    _overwrite_data(cache.entry_path(items[3].path), 0, cache.nbytes)  # one entry zeroed
    packed.unlink()  # the array is assembled again from the entries
    third, _ = load_arrays(items, classes, 24, "crop")
    assert np.array_equal(third, expected)


def test_tf_data_reads_checked_entries_without_their_trailer(tmp_path: Path) -> None:
    report = scan(write_class_images(tmp_path / "d", per_class=3))
    items, classes = report.items, class_names(report)
    cache = imagecache.ImageCache(16, "pad")
    cache.ensure([i.path for i in items])
    _overwrite_data(cache.entry_path(items[0].path), 0, cache.nbytes)
    ds = make_dataset(items, classes, 16, batch_size=64, shuffle=False)
    got = next(iter(ds))[0].numpy()
    assert np.array_equal(got, np.stack([load_image(i.path, 16, "pad") for i in items]))


def test_zeroed_cached_features_are_computed_again(tiny_dataset: Path) -> None:
    from run_helpers import train_tiny

    from tlcore import workspace

    first = train_tiny(tiny_dataset, "feature-extraction", epochs=2)
    files = sorted(workspace.cache_dir("features").glob("*.npy"))
    assert first.status == "finished" and files
    originals = {}
    for path in files:  # every split's features: zeroed, size unchanged
        feats = np.load(path, mmap_mode="r")
        originals[path] = np.array(feats)
        start, length = feats.offset, feats.nbytes
        del feats
        _overwrite_data(path, start, length)
    second = train_tiny(tiny_dataset, "feature-extraction", epochs=2)  # same seed, same key
    assert second.status == "finished"
    for path in files:
        feats = np.load(path, mmap_mode="r")
        assert np.abs(originals[path]).max() > 0
        np.testing.assert_allclose(feats, originals[path], atol=1e-6)  # computed again
        assert checksum.check_file(path, feats.offset, feats.nbytes)
    assert second.best_val_accuracy == pytest.approx(first.best_val_accuracy)
    assert sorted(workspace.cache_dir("features").glob("*")) == files  # no temp file left
