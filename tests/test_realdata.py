"""bench/realdata.py: Twemoji class folders, scikit-image photos, few-shot splits.

The Twemoji tests need npm and the registry (the package is installed once into
``~/.cache/transferlab/npm``), the photo test needs scikit-image; without them they are
skipped, except in CI (``CI=true``), where that is a failure.
"""

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skips import skip_unless_ci

from bench import realdata

# What the filters leave of emoji-datasource-twitter@16.0.0: a change here means the
# filtering (or the pinned version) changed.
COUNTS = {
    "smileys_emotion": 161,
    "people_body": 157,
    "animals_nature": 154,
    "food_drink": 129,
    "travel_places": 195,
    "activities": 85,
    "objects": 263,
    "symbols": 224,
    "flags": 260,
}


@pytest.fixture(scope="session")
def twemoji() -> Path:
    """The installed npm package, or a skip (a failure in CI)."""
    try:
        return realdata.ensure_twemoji()
    except realdata.RealDataUnavailable as exc:
        skip_unless_ci(f"Twemoji unavailable: {exc}")


def listing(root: Path) -> dict[str, list[str]]:
    """Visible class folders and their file names."""
    return {
        d.name: sorted(f.name for f in d.iterdir())
        for d in sorted(root.iterdir())
        if d.is_dir() and not d.name.startswith(".")
    }


def test_counts_per_category(twemoji: Path) -> None:
    assert realdata.count_per_class() == COUNTS


def test_dataset_has_the_classes_counts_and_real_rgb_images(twemoji: Path, tmp_path: Path):
    root = realdata.twemoji_dataset(
        tmp_path / "emoji", per_class=6, classes=["flags", "Food & Drink"], size=48
    )
    found = listing(root)
    assert list(found) == ["flags", "food_drink"]
    assert [len(names) for names in found.values()] == [6, 6]
    for cls, names in found.items():
        for name in names:
            assert name.endswith(".png")
            with Image.open(root / cls / name) as im:
                assert (im.mode, im.size) == ("RGB", (48, 48))
                pixels = np.asarray(im)
            # Anti-aliased artwork on white, not a flat shape: many colours, white margin.
            assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 40, name
            assert (pixels == 255).all(axis=-1).any(), name
    assert "CC-BY 4.0" in (root / ".transferlab-LICENSE.txt").read_text()


def test_native_size_is_the_artwork_over_white(twemoji: Path, tmp_path: Path) -> None:
    root = realdata.twemoji_dataset(tmp_path / "e", per_class=3, classes=["animals_nature"])
    emojis = json.loads((twemoji / "emoji.json").read_text(encoding="utf-8"))
    for name in listing(root)["animals_nature"]:
        (entry,) = [e for e in emojis if e["short_name"] == name.removesuffix(".png")]
        assert entry["category"] == "Animals & Nature"
        rgba = np.asarray(Image.open(twemoji / "img/twitter/64" / entry["image"]), float)
        alpha = rgba[..., 3:] / 255
        drawn = np.asarray(Image.open(root / "animals_nature" / name), float)
        assert np.abs(rgba[..., :3] * alpha + 255 * (1 - alpha) - drawn).max() <= 1


def test_same_seed_same_images_other_seed_others(twemoji: Path, tmp_path: Path) -> None:
    def build(name: str, **kw) -> Path:
        args = {"per_class": 5, "classes": ["flags", "objects"], "seed": 3} | kw
        return realdata.twemoji_dataset(tmp_path / name, **args)

    a, b = build("a"), build("b")
    assert listing(a) == listing(b)
    for cls, names in listing(a).items():
        assert [(a / cls / n).read_bytes() for n in names] == [
            (b / cls / n).read_bytes() for n in names
        ]
    assert listing(build("c", seed=4))["flags"] != listing(a)["flags"]
    # A class's draw ignores the other classes; fewer images are a subset of more.
    assert listing(build("d", classes=["objects"]))["objects"] == listing(a)["objects"]
    assert set(listing(build("e", per_class=2))["flags"]) < set(listing(a)["flags"])


def test_finished_folder_is_reused_other_args_rebuild(twemoji: Path, tmp_path: Path) -> None:
    dest = tmp_path / "e"
    realdata.twemoji_dataset(dest, per_class=2, classes=["flags"])
    marker = dest / realdata.MARKER
    stamp = marker.stat().st_mtime_ns
    realdata.twemoji_dataset(dest, per_class=2, classes=["flags"])
    assert marker.stat().st_mtime_ns == stamp
    realdata.twemoji_dataset(dest, per_class=3, classes=["objects"])
    assert {k: len(v) for k, v in listing(dest).items()} == {"objects": 3}


def test_bad_arguments_are_refused(twemoji: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"Unknown emoji classes \['cars'\]"):
        realdata.twemoji_dataset(tmp_path / "a", per_class=2, classes=["flags", "cars"])
    with pytest.raises(ValueError, match=r"only \{'activities': 85\}"):
        realdata.twemoji_dataset(tmp_path / "b", per_class=86, classes=["activities"])
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "keep.txt").write_text("x")
    with pytest.raises(ValueError, match="not empty"):
        realdata.twemoji_dataset(tmp_path / "mine", per_class=2)
    assert (tmp_path / "mine" / "keep.txt").exists()


def test_without_npm_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(realdata.RealDataUnavailable, match="npm is not installed"):
        realdata.ensure_twemoji(tmp_path / "npm")


def test_skimage_photos_are_rgb_jpegs(tmp_path: Path) -> None:
    try:
        photos = realdata.skimage_photos(tmp_path / "photos")
    except ImportError as exc:
        skip_unless_ci(f"scikit-image is not installed ({exc})")
    assert {"astronaut", "chelsea", "coffee", "rocket"} <= set(photos)
    with Image.open(photos["chelsea"]) as im:
        assert (im.format, im.mode, im.size) == ("JPEG", "RGB", (451, 300))
    assert all(p.parent == tmp_path / "photos" and p.suffix == ".jpg" for p in photos.values())


def write_folders(root: Path, sizes: dict[str, int]) -> Path:
    """``sizes[c]`` small random PNGs in ``root/<c>/``, plus a hidden file to ignore."""
    rng = np.random.default_rng(0)
    for cls, n in sizes.items():
        (root / cls).mkdir(parents=True)
        for i in range(n):
            pixels = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / cls / f"{cls}{i}.png")
    (root / "b" / ".DS_Store").write_text("x")
    return root


def test_fewshot_split_is_disjoint_and_complete(tmp_path: Path) -> None:
    root = write_folders(tmp_path / "data", {"a": 7, "b": 8, "c": 9})
    train, test = realdata.fewshot_split(root, shots=3, seed=1)
    assert train.parent == tmp_path / "data-3shot-seed1" and test.parent == train.parent
    tr, te = listing(train), listing(test)
    assert list(tr) == list(te) == ["a", "b", "c"]
    assert [len(tr[c]) for c in tr] == [3, 3, 3]
    assert [len(te[c]) for c in te] == [4, 5, 6]
    for cls, names in listing(root).items():
        assert not set(tr[cls]) & set(te[cls])
        assert sorted(tr[cls] + te[cls]) == [n for n in names if not n.startswith(".")]
    src, linked = root / "a" / tr["a"][0], train / "a" / tr["a"][0]
    assert os.path.samefile(src, linked)  # a hard link, not a copy


def test_fewshot_split_is_seeded_nested_and_rebuilt(tmp_path: Path) -> None:
    root = write_folders(tmp_path / "data", {"a": 12, "b": 12})
    three = listing(realdata.fewshot_split(root, 3, seed=0)[0])
    five = listing(realdata.fewshot_split(root, 5, seed=0)[0])
    assert all(set(three[c]) < set(five[c]) for c in three)
    assert listing(realdata.fewshot_split(root, 3, seed=0)[0]) == three
    assert listing(realdata.fewshot_split(root, 3, seed=9)[0]) != three
    other = tmp_path / "split"
    realdata.fewshot_split(root, 3, seed=0, dest=other)
    realdata.fewshot_split(root, 4, seed=0, dest=other)  # same dest: no stale files
    assert [len(v) for v in listing(other / "train").values()] == [4, 4]


def test_fewshot_split_needs_a_test_image_per_class(tmp_path: Path) -> None:
    root = write_folders(tmp_path / "data", {"a": 5, "b": 3})
    with pytest.raises(ValueError, match=r"too few: \{'b': 3\}"):
        realdata.fewshot_split(root, shots=3, seed=0)
    with pytest.raises(ValueError, match="at least 1"):
        realdata.fewshot_split(root, shots=0, seed=0)
