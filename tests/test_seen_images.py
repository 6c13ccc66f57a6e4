"""tlcore.runs.seen_images: a dropped file matched to training files by content."""

from pathlib import Path

from tlcore.data.checksum import file_digest
from tlcore.runs.seen_images import seen_in_training


def test_only_the_same_bytes_count_as_seen_not_the_same_size(tmp_path: Path) -> None:
    train = tmp_path / "cat.png"
    train.write_bytes(b"\x89PNG the cat")
    same_size = tmp_path / "dog.png"
    same_size.write_bytes(b"\x89PNG the dog")
    copy = tmp_path / "upload.png"
    copy.write_bytes(train.read_bytes())
    sizes = {train.stat().st_size: (str(train), str(tmp_path / "moved away.png"))}
    assert seen_in_training(copy, sizes)
    assert not seen_in_training(same_size, sizes)
    assert not seen_in_training(copy, {})  # a run without a split: nothing to compare
    assert file_digest(copy) == file_digest(train) != file_digest(same_size)
