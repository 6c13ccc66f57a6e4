"""Moving an image to another class or out of the dataset: real files, a record in the
workspace, an undo, and never an overwritten file."""

from pathlib import Path

import pytest

from tlcore.data import moves
from tlcore.data.scan import scan
from tlcore.errors import DataError


def test_a_move_is_recorded_undone_and_never_overwrites(tiny_dataset: Path) -> None:
    src = tiny_dataset / "red" / "red_001.png"
    data = src.read_bytes()
    taken = tiny_dataset / "green" / "red_001.png"
    taken.write_bytes(b"another file with the same name")
    move = moves.move_to_class(tiny_dataset, src, "green")
    assert not src.exists()
    assert Path(move.dest) == tiny_dataset / "green" / "red_001 (2).png"
    assert Path(move.dest).read_bytes() == data
    assert taken.read_bytes() == b"another file with the same name"  # untouched
    assert moves.history() == [move] and moves.record_path().is_file()
    assert scan(tiny_dataset).classes == {"blue": 12, "green": 13, "red": 11}  # (not an image)

    src.write_bytes(b"a new file where the moved one was")
    back = moves.undo()
    assert Path(back.dest) == tiny_dataset / "red" / "red_001 (2).png"
    assert Path(back.dest).read_bytes() == data and not Path(move.dest).exists()
    assert src.read_bytes() == b"a new file where the moved one was"
    assert moves.history() == []
    with pytest.raises(DataError, match="There is no move to undo"):
        moves.undo()


def test_an_excluded_image_leaves_the_dataset_and_comes_back(tiny_dataset: Path) -> None:
    src = tiny_dataset / "blue" / "blue_004.jpg"
    move = moves.exclude(tiny_dataset, src)
    assert Path(move.dest) == tiny_dataset / moves.EXCLUDED / "blue" / "blue_004.jpg"
    assert move.to_class is None and Path(move.dest).is_file()
    assert scan(tiny_dataset).classes["blue"] == 11  # the scan skips the hidden folder
    moves.undo(move.id)
    assert src.is_file() and scan(tiny_dataset).classes["blue"] == 12


def test_a_split_folder_keeps_its_split(tmp_path: Path) -> None:
    from conftest import write_class_images

    root = tmp_path / "d"
    write_class_images(root / "train", per_class=3)
    write_class_images(root / "test", per_class=2)
    move = moves.move_to_class(root, root / "test" / "red" / "red_000.jpg", "blue")
    assert Path(move.dest) == root / "test" / "blue" / "red_000.jpg"


def test_bad_moves_say_what_is_wrong(tiny_dataset: Path, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="cannot be a class folder name"):
        moves.move_to_class(tiny_dataset, tiny_dataset / "red" / "red_000.jpg", "../x")
    outside = tmp_path / "elsewhere.png"
    outside.write_bytes(b"x")
    with pytest.raises(DataError, match="is not an image of the dataset"):
        moves.exclude(tiny_dataset, outside)
    with pytest.raises(DataError, match="is no longer at"):
        moves.exclude(tiny_dataset, tiny_dataset / "red" / "gone.png")
    move = moves.exclude(tiny_dataset, tiny_dataset / "red" / "red_000.jpg")
    Path(move.dest).unlink()  # deleted outside TransferLab
    with pytest.raises(DataError, match="Cannot undo"):
        moves.undo()
