"""data.scan: every file used or skipped with a reason; duplicates; warnings; clear errors."""

import json
import os
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import write_class_images
from PIL import Image
from test_images import png_with_size

from tlcore.data.scan import ImageItem, Skipped, class_names, scan
from tlcore.errors import DataError


def noisy(path: Path, seed: int, size=(24, 24), fmt=None) -> Path:
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 255, (*size[::-1], 3), dtype=np.uint8)).save(path, fmt)
    return path


def messy_dataset(root: Path) -> Path:
    """Two good classes plus one of every kind of file a scan must skip."""
    write_class_images(root, per_class=12, classes={"cats": (200, 50, 50), "dogs": (50, 50, 200)})
    noisy(root / "cats" / "nested" / "deeper" / "Ünïcødé 猫.JPG", 1, fmt="JPEG")
    noisy(root / "dogs" / "UPPER.Jpeg", 2, fmt="JPEG")
    (root / "cats" / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (root / "dogs" / "Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0")
    (root / "cats" / "._cats_000.jpg").write_bytes(b"\0\5\26\7")
    (root / "dogs" / ".git").mkdir()
    (root / "dogs" / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (root / "dogs" / ".git" / "config").write_text("[core]\n")
    (root / "cats" / "notes.jpg").write_text("not a picture")
    (root / "cats" / "readme.txt").write_text("hello")
    (root / "cats" / "zero.png").write_bytes(b"")
    (root / "cats" / "photo.heic").write_bytes(b"\0\0\0\x18ftypheic")
    big = noisy(root / "dogs" / "whole.jpg", 3, size=(300, 200))
    data = big.read_bytes()
    (root / "dogs" / "half.jpg").write_bytes(data[: len(data) // 2])
    big.unlink()
    png_with_size(root / "dogs" / "bomb.png", 30_000, 30_000)
    noisy(root / "loose.png", 4)
    return root


def test_every_file_is_used_or_skipped_with_its_reason(tmp_path: Path) -> None:
    root = messy_dataset(tmp_path / "data")
    calls = []
    report = scan(root, progress=lambda done, total: calls.append((done, total)))
    assert report.layout == "class_folders" and report.root == str(root.resolve())
    assert report.classes == {"cats": 13, "dogs": 13}
    assert class_names(report) == ["cats", "dogs"]
    assert (
        ImageItem(str(root / "cats" / "nested" / "deeper" / "Ünïcødé 猫.JPG"), "cats", None)
        in report.items
    )
    assert all(Path(i.path).is_absolute() for i in report.items)
    assert report.skipped == [
        Skipped("cats/.DS_Store", "hidden or system file"),
        Skipped("cats/._cats_000.jpg", "hidden or system file"),
        Skipped("cats/notes.jpg", "not an image"),
        Skipped("cats/photo.heic", "unsupported format (.heic)"),
        Skipped("cats/readme.txt", "not an image"),
        Skipped("cats/zero.png", "empty file"),
        Skipped("dogs/.git/", "hidden folder (2 files)"),
        Skipped("dogs/Thumbs.db", "hidden or system file"),
        Skipped("dogs/bomb.png", "too large (decompression bomb)"),
        Skipped("dogs/half.jpg", "truncated or damaged"),
        Skipped("loose.png", "not in a class folder"),
    ]
    assert report.duplicates == [] and report.warnings == []
    assert calls[-1] == (len(calls), len(calls)) and len(calls) == 26 + 6
    d = report.to_dict()
    assert d["classes"] == {"cats": 13, "dogs": 13} and "items" not in d
    assert {"path": "loose.png", "reason": "not in a class folder"} in d["skipped"]
    assert scan(root).fingerprint == report.fingerprint  # stable
    (root / "cats" / "cats_000.jpg").unlink()
    assert scan(root).fingerprint != report.fingerprint
    assert scan(root).classes == {"cats": 12, "dogs": 13}


def test_split_folders_and_all_three_kinds_of_duplicates(tmp_path: Path) -> None:
    root = tmp_path / "data"
    for split, n, seed in (("train", 10, 0), ("Validation", 4, 1), ("test", 3, 2)):
        write_class_images(
            root / split, per_class=n, seed=seed, classes={"ant": (200, 0, 0), "bee": (0, 0, 200)}
        )
    shutil.copy(root / "train/ant/ant_000.jpg", root / "Validation/ant/copy.jpg")  # leakage
    shutil.copy(root / "train/bee/bee_001.png", root / "train/ant/which.png")  # conflict
    shutil.copy(root / "test/bee/bee_000.jpg", root / "test/bee/again.jpg")  # within
    report = scan(root)
    assert report.layout == "split_folders"
    assert report.classes == {"ant": 19, "bee": 18}
    assert report.split_counts == {
        "train": {"ant": 11, "bee": 10},
        "val": {"ant": 5, "bee": 4},
        "test": {"ant": 3, "bee": 4},
    }
    assert {i.split for i in report.items} == {"train", "val", "test"}
    assert [(g.kind, g.paths) for g in report.duplicates] == [
        ("across_classes", ("train/ant/which.png", "train/bee/bee_001.png")),
        ("across_splits", ("Validation/ant/copy.jpg", "train/ant/ant_000.jpg")),
        ("within_class", ("test/bee/again.jpg", "test/bee/bee_000.jpg")),
    ]
    assert report.warnings == [
        "1 group of exact duplicates: the same image is in more than one class (a label "
        "conflict) (e.g. train/ant/which.png = train/bee/bee_001.png).",
        "1 group of exact duplicates: the same image is in train and in val/test (leakage) "
        "(e.g. Validation/ant/copy.jpg = train/ant/ant_000.jpg).",
        "1 group of exact duplicates: the same image appears more than once in a class "
        "(e.g. test/bee/again.jpg = test/bee/bee_000.jpg).",
    ]


def test_imbalance_small_and_empty_classes_are_warned(tmp_path: Path) -> None:
    root = write_class_images(tmp_path / "d", per_class=4, classes={"few": (9, 9, 9)})
    write_class_images(root, per_class=14, classes={"many": (200, 200, 200)})
    (root / "nothing").mkdir()
    (root / "nothing" / "x.txt").write_text("x")
    report = scan(root)
    assert report.classes == {"few": 4, "many": 14}
    assert report.warnings == [
        "No images found in 'nothing/' (1 file skipped: not an image); class 'nothing' is "
        "left out.",
        "Class 'few' has only 4 images; at least 10 per class are needed to learn from "
        "(50 or more is better).",
        "The classes are imbalanced: 'many' has 14 images but 'few' only 4. Accuracy can "
        "look good while 'few' is mostly wrong; add images or use class weights.",
    ]


@pytest.mark.skipif(os.name == "nt", reason="symlinks")
def test_a_symlink_loop_does_not_hang(tmp_path: Path) -> None:
    root = write_class_images(tmp_path / "d", per_class=10)
    os.symlink(root, root / "red" / "loop")  # red/loop -> the dataset root
    os.symlink(root / "blue", root / "blue" / "self")
    report = scan(root)
    assert report.classes == {"blue": 10, "green": 10, "red": 10}
    assert report.skipped == [
        Skipped("blue/self/", "link to a folder scanned already (a loop; not followed)"),
        Skipped("red/loop", "link to outside its class folder (not followed)"),
    ]


@pytest.mark.skipif(os.name == "nt", reason="symlinks")
def test_links_never_move_photos_to_another_class(tmp_path: Path) -> None:
    root = write_class_images(tmp_path / "d", per_class=10)
    os.symlink(root / "red", root / "blue" / "reds")  # would label red photos "blue"
    os.symlink(root / "green" / "green_000.jpg", root / "blue" / "one.jpg")
    os.symlink(root / "blue" / "blue_001.png", root / "blue" / "alias.png")  # inside: used
    os.symlink("/", root / "blue" / "disk")  # would walk the whole disk
    elsewhere = write_class_images(tmp_path / "elsewhere", per_class=10, seed=1)
    shutil.rmtree(root / "green")
    os.symlink(elsewhere / "green", root / "green")  # a class put together from elsewhere
    os.symlink(root / "red", root / "crimson")  # a second label for the red photos
    os.symlink("/", root / "everything")
    report = scan(root)
    assert report.classes == {"blue": 11, "green": 10, "red": 10}
    assert {i.label for i in report.items if "/red_" in i.path} == {"red"}
    assert report.skipped == [
        Skipped("blue/disk", "link to outside its class folder (not followed)"),
        Skipped("blue/one.jpg", "link to outside its class folder (not followed)"),
        Skipped("blue/reds", "link to outside its class folder (not followed)"),
        Skipped("crimson", "link to another folder of this dataset (not followed)"),
        Skipped("everything", "link to a folder holding this dataset (not followed)"),
    ]
    assert report.warnings[:2] == [
        "No images found in 'crimson/' (1 file skipped: link to another folder of this "
        "dataset (not followed)); class 'crimson' is left out.",
        "No images found in 'everything/' (1 file skipped: link to a folder holding this "
        "dataset (not followed)); class 'everything' is left out.",
    ]


def test_the_walk_is_bounded_in_depth_and_size(tmp_path: Path, monkeypatch) -> None:
    from tlcore.data import walk

    root = write_class_images(tmp_path / "d", per_class=10, classes={"a": (9, 9, 9)})
    write_class_images(root, per_class=10, classes={"b": (200, 200, 200)})
    deep = root / "a" / Path(*[f"{i}" for i in range(1, walk.MAX_DEPTH + 2)])
    noisy(deep / "lost.png", 0)
    report = scan(root)
    too_deep = "/".join(str(i) for i in range(1, walk.MAX_DEPTH + 1))  # a/ is level 1
    assert report.skipped == [
        Skipped(f"a/{too_deep}/", f"folder deeper than {walk.MAX_DEPTH} levels (not scanned)")
    ]
    monkeypatch.setattr(walk, "MAX_ENTRIES", 15)
    with pytest.raises(DataError) as info:
        scan(root)
    assert str(info.value) == (
        f"Stopped scanning '{root}' after 15 files and folders, more than a dataset holds: "
        "give the folder of your photos (one subfolder per class), not a whole disk."
    )


def test_errors_are_plain_sentences(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        scan(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"is empty: put the images of each class"):
        scan(tmp_path / "empty")
    loose = tmp_path / "loose"
    noisy(loose / "a.png", 0)
    noisy(loose / "b.png", 1)
    with pytest.raises(DataError, match=r"^No class folders in '.*loose'"):
        scan(loose)
    one = write_class_images(tmp_path / "one", per_class=3, classes={"cats": (1, 2, 3)})
    with pytest.raises(DataError) as info:
        scan(one)
    assert str(info.value) == (
        "Only one class found ('cats' with 3 images): a classifier "
        "needs at least two classes, each in its own subfolder."
    )
    bad = write_class_images(tmp_path / "bad", per_class=3, classes={"dogs": (1, 2, 3)})
    (bad / "cats").mkdir()
    for i in range(3):
        (bad / "cats" / f"{i}.jpg").write_text("text")
    with pytest.raises(DataError) as info:
        scan(bad)
    assert str(info.value) == (
        "No images found in 'cats/' (3 files skipped: not an image). "
        "Each class needs at least one image."
    )
    noisy(tmp_path / "f.png", 0)
    with pytest.raises(DataError, match="is a file; give a folder"):
        scan(tmp_path / "f.png")


def test_a_zip_with_a_wrapping_folder_scans_like_the_folder(tmp_path: Path) -> None:
    root = write_class_images(tmp_path / "flowers", per_class=10)
    z = tmp_path / "flowers.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for p in sorted(root.rglob("*")):
            zf.write(p, "flowers/" + p.relative_to(root).as_posix())
        zf.writestr("__MACOSX/flowers/._red_000.jpg", b"x")
    report = scan(z)
    assert report.classes == {"blue": 10, "green": 10, "red": 10}
    assert report.skipped == [] and report.source == str(z)
    assert report.fingerprint == scan(root).fingerprint  # same content, same fingerprint


def test_an_image_without_an_extension_is_used_by_its_content(tmp_path: Path) -> None:
    root = write_class_images(tmp_path / "data", per_class=3)
    noisy(root / "red" / "IMG_0001", 1, fmt="PNG")  # e.g. saved from a browser
    noisy(root / "red" / "photo.jpg.download", 2, fmt="JPEG")
    (root / "red" / "notes").write_text("not a picture")
    (root / "blue" / "clip.mp4").write_bytes(b"\0\0\0\x18ftypmp42" + bytes(1000))
    report = scan(root)
    assert report.classes == {"blue": 3, "green": 3, "red": 5}
    assert {s.path: s.reason for s in report.skipped} == {
        "red/notes": "not an image",
        "blue/clip.mp4": "not an image",
    }


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("two\nlines", "holds a line break"),
        ("cr\r", "holds a line break"),
        ("   ", "is only spaces"),
    ],
)
def test_class_names_that_cannot_be_labels_are_refused_at_scan_time(
    tmp_path: Path, name: str, problem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from tlcore.cli import main

    root = write_class_images(tmp_path / "data", per_class=3)
    write_class_images(root, per_class=3, classes={name: (90, 90, 90)})
    with pytest.raises(DataError) as err:
        scan(root)
    assert str(err.value) == (
        f"The class folder {name + '/'!r} cannot be used: its name {problem}, and class names "
        "become the labels the model predicts. Rename the folder (to one line of text), "
        "then scan again."
    )
    assert main(["scan", str(root)]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def _not_utf8_dataset(root: Path) -> Path:
    """Three classes; one folder and some files named with bytes that are not UTF-8."""
    write_class_images(root, per_class=3)
    base = os.fsencode(root)
    os.rename(base + b"/red/red_000.jpg", base + b"/red/r\xe9d.jpg")  # Latin-1 é
    os.rename(base + b"/blue", base + b"/bl\xffue")
    (Path(os.fsdecode(base + b"/green/notes\xff.txt"))).write_text("not a picture")
    return root


def test_names_that_are_not_utf8_are_kept_shown_and_saved(tmp_path: Path) -> None:
    from tlcore import fsutil
    from tlcore.data.split import load_split, make_split, save_split

    root = _not_utf8_dataset(tmp_path / "old disk")
    report = scan(root)
    # The folder is used as it is; its label is printable (it becomes labels.txt).
    assert report.classes == {"bl\\xffue": 3, "green": 3, "red": 3}
    odd = os.fsdecode(os.fsencode(root) + b"/red/r\xe9d.jpg")
    assert ImageItem(odd, "red", None) in report.items
    assert all(Path(i.path).is_file() for i in report.items)
    assert report.skipped == [Skipped("green/notes\\xff.txt", "not an image")]
    assert report.warnings[0] == (
        "The folder of class 'bl\\xffue' has a name that is not UTF-8 text (from an old disk "
        "or zip), so its label is shown as 'bl\\xffue'; rename the folder for a readable label."
    )
    # Saved as JSON and read back, the paths are the same bytes: the files still open.
    split = make_split(report)
    save_split(split, tmp_path / "split.json")
    assert load_split(tmp_path / "split.json") == split
    assert json.loads(fsutil.json_text(report.to_dict(include_items=True)))["items"] == [
        {"path": i.path, "label": i.label, "split": None} for i in report.items
    ]
    assert scan(root).fingerprint == report.fingerprint  # the scan cache was saved and read


def test_a_class_with_a_single_image_is_said_up_front(tmp_path: Path) -> None:
    from tlcore.data.scan import too_few_images

    root = write_class_images(tmp_path / "d", per_class=10, classes={"a": (9, 9, 9)})
    write_class_images(root, per_class=1, classes={"b": (200, 200, 200)})
    report = scan(root)
    assert report.warnings[0] == (
        "Class 'b' has a single image: none of it can be held out, so no accuracy will say "
        "anything about 'b', and at least 10 are needed to learn from; add images to it (or "
        "move it out of the dataset)."
    )
    assert too_few_images(report.classes, 2, "The probe") == (
        "The probe needs at least 2 images of each class, but 'b' has 1: add images to that "
        "class (or move it out of the dataset), then try again."
    )
    assert too_few_images(report.classes, 1, "Training") is None
