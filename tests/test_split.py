"""tlcore.data.split: stratified, seeded, reproducible; given folders kept; save and reload."""

import json
import shutil
from pathlib import Path

import pytest
from conftest import write_class_images

from tlcore.config import SplitConfig
from tlcore.data.scan import scan
from tlcore.data.split import Split, held_out_counts, load_split, make_split, save_split
from tlcore.errors import DataError


def paths(items) -> list[str]:
    return [Path(i.path).name for i in items]


@pytest.mark.parametrize(
    "n,val,test,expected",
    [
        (10, 0.2, 0.1, (2, 1)),
        (20, 0.2, 0.1, (4, 2)),
        (5, 0.2, 0.1, (1, 1)),
        (3, 0.2, 0.1, (1, 1)),
        (2, 0.2, 0.1, (1, 0)),
        (1, 0.2, 0.1, (0, 0)),
        (25, 0.1, 0.1, (3, 3)),
        (7, 0.0, 0.0, (0, 0)),
        (4, 0.5, 0.3, (2, 1)),
    ],
)
def test_held_out_counts_round_half_up_and_keep_a_training_image(n, val, test, expected):
    assert held_out_counts(n, val, test) == expected


def test_stratified_seeded_and_reproducible(tmp_path: Path) -> None:
    root = write_class_images(tmp_path / "d", per_class=20)
    write_class_images(root, per_class=5, classes={"tiny": (9, 9, 9)})
    report = scan(root)
    split = make_split(report, SplitConfig(val_fraction=0.2, test_fraction=0.1, seed=7))
    assert split.classes == ("blue", "green", "red", "tiny")
    assert split.counts() == {
        "train": {"blue": 14, "green": 14, "red": 14, "tiny": 3},
        "val": {"blue": 4, "green": 4, "red": 4, "tiny": 1},
        "test": {"blue": 2, "green": 2, "red": 2, "tiny": 1},
    }
    everything = [i.path for part in (split.train, split.val, split.test) for i in part]
    assert sorted(everything) == sorted(i.path for i in report.items)  # each image once
    assert {i.split for i in split.val} == {"val"}
    again = make_split(scan(root), SplitConfig(val_fraction=0.2, test_fraction=0.1, seed=7))
    assert again == split
    other = make_split(report, SplitConfig(val_fraction=0.2, test_fraction=0.1, seed=8))
    assert paths(other.val) != paths(split.val)


def test_duplicates_within_a_class_stay_together(tmp_path: Path) -> None:
    root = write_class_images(tmp_path / "d", per_class=10)
    for i in range(4):
        shutil.copy(root / "red" / "red_000.jpg", root / "red" / f"copy_{i}.jpg")
    report = scan(root)
    for seed in range(6):
        split = make_split(report, SplitConfig(seed=seed))
        where = {
            name
            for name in ("train", "val", "test")
            for i in getattr(split, name)
            if Path(i.path).name.startswith(("copy_", "red_000"))
        }
        assert len(where) == 1


def test_given_split_folders_are_kept_and_val_carved_when_missing(tmp_path: Path) -> None:
    root = tmp_path / "d"
    write_class_images(root / "train", per_class=10)
    write_class_images(root / "val", per_class=3, seed=1)
    write_class_images(root / "test", per_class=2, seed=2)
    split = make_split(scan(root))
    assert split.counts()["train"] == {"blue": 10, "green": 10, "red": 10}
    assert split.counts()["val"] == {"blue": 3, "green": 3, "red": 3}
    assert all("/val/" in i.path for i in split.val) and all("/test/" in i.path for i in split.test)
    shutil.rmtree(root / "val")
    split = make_split(scan(root), SplitConfig(val_fraction=0.2))
    assert split.counts() == {
        "train": {"blue": 8, "green": 8, "red": 8},
        "val": {"blue": 2, "green": 2, "red": 2},
        "test": {"blue": 2, "green": 2, "red": 2},
    }
    assert all("/train/" in i.path for i in split.val)


def test_save_and_reload_gives_exactly_the_same_files(tmp_path: Path) -> None:
    root = write_class_images(tmp_path / "d", per_class=10)
    split = make_split(scan(root), SplitConfig(seed=3))
    save_split(split, tmp_path / "split.json")
    assert load_split(tmp_path / "split.json") == split
    assert json.loads((tmp_path / "split.json").read_text())["classes"] == ["blue", "green", "red"]
    # A later run with another seed but the saved split file uses the same files.
    write_class_images(root, per_class=14, seed=5)  # new images appear in the folder
    reused = make_split(scan(root), SplitConfig(seed=99, split_file=str(tmp_path / "split.json")))
    assert reused == split
    assert Split.from_dict(split.to_dict()) == split
    (root / "red" / "red_000.jpg").unlink()
    with pytest.raises(DataError, match=r"lists 1 file\(s\) that no longer exist"):
        make_split(scan(root), SplitConfig(split_file=str(tmp_path / "split.json")))
    with pytest.raises(DataError, match="does not exist"):
        load_split(tmp_path / "nope.json")
    (tmp_path / "bad.json").write_text("[1, 2]")
    with pytest.raises(DataError, match="not in the expected format"):
        load_split(tmp_path / "bad.json")
