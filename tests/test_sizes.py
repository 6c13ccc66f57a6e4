from pathlib import Path

from PIL import Image

from tlcore.data.sizes import MIN_SIDE, image_size, is_tiny, tiny_images


def test_sizes_come_from_the_header_and_tiny_ones_are_found(tmp_path: Path) -> None:
    Image.new("RGB", (8, 8)).save(tmp_path / "tiny.png")
    Image.new("RGB", (200, 31)).save(tmp_path / "thin.jpg")
    Image.new("RGB", (MIN_SIDE, MIN_SIDE)).save(tmp_path / "ok.png")
    (tmp_path / "notes.jpg").write_text("shopping list")
    assert image_size(tmp_path / "thin.jpg") == (200, 31)
    assert image_size(tmp_path / "notes.jpg") is None
    assert not is_tiny(None)
    paths = sorted(tmp_path.iterdir())
    assert tiny_images(paths) == [
        (str(tmp_path / "thin.jpg"), (200, 31)),
        (str(tmp_path / "tiny.png"), (8, 8)),
    ]
