"""data.images: every format and mode -> upright RGB uint8; bad files refused with a reason."""

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import tlcore
from tlcore.data.images import (
    FULL_CHECK_PIXELS,
    MAX_PIXELS,
    check_image,
    load_image,
    open_rgb,
    resize_square,
)
from tlcore.errors import ImageError

RED, BLUE, GREEN, WHITE, GREY = (255, 0, 0), (0, 0, 255), (0, 255, 0), (255,) * 3, (128,) * 3


def png_with_size(path: Path, width: int, height: int) -> Path:
    """A valid-looking PNG header declaring width x height, a few bytes long (a 'bomb')."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )
    return path


def close(pixel, colour, tol=12) -> bool:
    return all(abs(int(a) - int(b)) <= tol for a, b in zip(pixel, colour, strict=True))


@pytest.mark.parametrize(
    "fmt,ext",
    [
        ("JPEG", "jpg"),
        ("PNG", "png"),
        ("BMP", "bmp"),
        ("WEBP", "webp"),
        ("TIFF", "tif"),
        ("GIF", "gif"),
    ],
)
def test_every_format_decodes_to_rgb_uint8(tmp_path: Path, fmt: str, ext: str) -> None:
    path = tmp_path / f"x.{ext}"
    Image.new("RGB", (40, 30), (200, 30, 30)).save(path, fmt)
    out = load_image(path, 16)
    assert out.shape == (16, 16, 3) and out.dtype == np.uint8
    assert close(out[8, 8], (200, 30, 30), tol=20)


def test_gif_uses_the_first_frame(tmp_path: Path) -> None:
    path = tmp_path / "anim.gif"
    frames = [Image.new("RGB", (20, 20), RED), Image.new("RGB", (20, 20), BLUE)]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100)
    assert close(load_image(path, 8, "stretch")[4, 4], RED)


def test_transparency_is_composited_on_white(tmp_path: Path) -> None:
    rgba = Image.new("RGBA", (20, 20), (0, 0, 255, 0))  # fully transparent blue
    rgba.paste((255, 0, 0, 255), (0, 0, 10, 20))  # opaque red left half
    rgba.save(tmp_path / "rgba.png")
    out = load_image(tmp_path / "rgba.png", 20, "stretch")
    assert close(out[10, 2], RED) and close(out[10, 17], WHITE)

    pal = Image.new("P", (20, 20), 0)
    pal.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    pal.paste(1, (0, 0, 10, 20))
    pal.save(tmp_path / "pal.png", transparency=0)  # index 0 (black) is transparent
    out = load_image(tmp_path / "pal.png", 20, "stretch")
    assert close(out[10, 2], RED) and close(out[10, 17], WHITE)

    la = Image.new("LA", (20, 20), (0, 0))
    la.paste((50, 255), (0, 0, 10, 20))
    la.save(tmp_path / "la.png")
    out = load_image(tmp_path / "la.png", 20, "stretch")
    assert close(out[10, 2], (50, 50, 50)) and close(out[10, 17], WHITE)


def test_cmyk_16bit_1bit_and_grey_modes(tmp_path: Path) -> None:
    Image.new("CMYK", (16, 16), (0, 255, 255, 0)).save(tmp_path / "cmyk.jpg")  # = red
    assert close(load_image(tmp_path / "cmyk.jpg", 8)[4, 4], RED, tol=20)

    arr16 = np.full((16, 16), 32896, dtype=np.uint16)  # 32896 / 257 = 128
    arr16[:, 8:] = 65535
    Image.fromarray(arr16).save(tmp_path / "g16.png")
    assert Image.open(tmp_path / "g16.png").mode.startswith("I")
    out = load_image(tmp_path / "g16.png", 16, "stretch")
    assert tuple(out[8, 2]) == (128, 128, 128) and tuple(out[8, 13]) == (255, 255, 255)

    bits = Image.new("1", (16, 16), 0)
    bits.paste(1, (8, 0, 16, 16))
    bits.save(tmp_path / "bits.png")
    out = load_image(tmp_path / "bits.png", 16, "stretch")
    assert tuple(out[8, 2]) == (0, 0, 0) and tuple(out[8, 13]) == WHITE

    Image.new("L", (16, 16), 77).save(tmp_path / "grey.png")
    assert tuple(load_image(tmp_path / "grey.png", 8)[4, 4]) == (77, 77, 77)


# stored = upright transformed by the inverse of what EXIF orientation `tag` asks for
@pytest.mark.parametrize(
    "tag,inverse",
    [
        (3, Image.Transpose.ROTATE_180),
        (6, Image.Transpose.ROTATE_90),
        (8, Image.Transpose.ROTATE_270),
    ],
)
@pytest.mark.parametrize("width", [60, 1600])  # 1600: decoded in draft mode (1/8 scale)
def test_exif_orientation_is_applied(tmp_path: Path, tag: int, inverse, width: int) -> None:
    height = width * 2 // 3
    upright = Image.new("RGB", (width, height), BLUE)
    upright.paste(RED, (0, 0, width, height // 2))  # top half red
    exif = Image.Exif()
    exif[0x0112] = tag
    path = tmp_path / f"phone_{tag}.jpg"
    upright.transpose(inverse).save(path, exif=exif, quality=95)
    assert open_rgb(path).size == (width, height)
    for mode in ("stretch", "pad", "crop"):
        out = load_image(path, 32, mode)
        top, bottom = (2, 29) if mode != "pad" else (7, 24)  # pad: 32x21 content, centred
        assert close(out[top, 16], RED, tol=30) and close(out[bottom, 16], BLUE, tol=30)


def test_resize_modes(tmp_path: Path) -> None:
    im = Image.new("RGB", (100, 50), RED)
    im.paste(GREEN, (25, 0, 75, 50))  # centre square green, red side strips
    im.save(tmp_path / "wide.png")
    crop = load_image(tmp_path / "wide.png", 20, "crop")
    assert close(crop[10, 1], GREEN) and close(crop[10, 18], GREEN)
    stretch = load_image(tmp_path / "wide.png", 20, "stretch")
    assert close(stretch[10, 1], RED) and close(stretch[10, 10], GREEN)
    pad = load_image(tmp_path / "wide.png", 20)  # default: pad keeps the whole image
    assert tuple(pad[0, 10]) == GREY and tuple(pad[19, 10]) == GREY
    assert close(pad[10, 1], RED) and close(pad[10, 10], GREEN)
    with pytest.raises(ValueError, match="resize mode"):
        resize_square(im, 8, "zoom")


def test_large_jpeg_draft_matches_full_decode(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    small = rng.integers(0, 255, (30, 40, 3), dtype=np.uint8)
    Image.fromarray(small).resize((2000, 1500), Image.Resampling.BICUBIC).save(
        tmp_path / "big.jpg", quality=90
    )
    fast = load_image(tmp_path / "big.jpg", 64).astype(int)
    full = np.asarray(resize_square(open_rgb(tmp_path / "big.jpg"), 64)).astype(int)
    assert fast.shape == (64, 64, 3)
    assert np.abs(fast - full).mean() < 4


def test_unicode_and_uppercase_names_and_public_api(tmp_path: Path) -> None:
    path = tmp_path / "Ünïcødé 猫.JPG"
    Image.new("RGB", (10, 10), BLUE).save(path, "JPEG")
    assert close(tlcore.load_image(path, 4)[1, 1], BLUE)
    path2 = tmp_path / "photo.Jpeg"
    Image.new("RGB", (10, 10), RED).save(path2, "JPEG")
    assert close(tlcore.load_image(str(path2), 4)[1, 1], RED)


def bad_files(tmp_path: Path) -> dict[str, Path]:
    rng = np.random.default_rng(1)
    noisy = Image.fromarray(rng.integers(0, 255, (200, 200, 3), dtype=np.uint8))
    files = {}
    noisy.save(tmp_path / "full.jpg", quality=90)
    data = (tmp_path / "full.jpg").read_bytes()
    (tmp_path / "trunc.jpg").write_bytes(data[: len(data) // 2])
    files["trunc.jpg"] = tmp_path / "trunc.jpg"
    noisy.save(tmp_path / "full.png")
    data = (tmp_path / "full.png").read_bytes()
    (tmp_path / "trunc.png").write_bytes(data[: len(data) // 2])
    files["trunc.png"] = tmp_path / "trunc.png"
    (tmp_path / "zero.jpg").write_bytes(b"")
    files["zero.jpg"] = tmp_path / "zero.jpg"
    (tmp_path / "notes.jpg").write_text("this is not a picture\n")
    files["notes.jpg"] = tmp_path / "notes.jpg"
    Image.new("RGB", (16, 16)).save(tmp_path / "icon.ico")
    files["icon.ico"] = tmp_path / "icon.ico"
    return files


@pytest.mark.parametrize(
    "name,reason",
    [
        ("trunc.jpg", "truncated or damaged"),
        ("trunc.png", "truncated or damaged"),
        ("zero.jpg", "empty file"),
        ("notes.jpg", "not an image"),
        ("icon.ico", "unsupported format (ICO)"),
    ],
)
def test_bad_files_are_refused_with_a_reason(tmp_path: Path, name: str, reason: str) -> None:
    path = bad_files(tmp_path)[name]
    with pytest.raises(ImageError) as info:
        load_image(path, 16)
    assert info.value.reason == reason
    assert info.value.path == str(path)


@pytest.mark.parametrize("side", [8_100, 10_000, 20_000])  # ours, Pillow's warning, error
def test_decompression_bombs_are_refused_from_the_header(tmp_path: Path, side: int) -> None:
    path = png_with_size(tmp_path / "bomb.png", side, side)
    assert path.stat().st_size < 200 and side * side > MAX_PIXELS
    with pytest.raises(ImageError) as info:
        load_image(path, 32)
    assert info.value.reason.startswith("too large")


def big_jpeg_bytes(tmp_path: Path) -> bytes:
    """A 1200x1000 JPEG (above FULL_CHECK_PIXELS: checked without decoding)."""
    rng = np.random.default_rng(2)
    small = Image.fromarray(rng.integers(0, 255, (50, 60, 3), dtype=np.uint8))
    small.resize((1200, 1000), Image.Resampling.BICUBIC).save(tmp_path / "big.jpg", quality=90)
    return (tmp_path / "big.jpg").read_bytes()


def test_large_files_are_checked_for_completeness_without_decoding(tmp_path: Path) -> None:
    assert FULL_CHECK_PIXELS < 1200 * 1000
    data = big_jpeg_bytes(tmp_path)
    # An APP segment holding a thumbnail-like FF D8 ... FF D9 before the image data: its end
    # marker must not make a cut-off file look complete.
    app = b"\xff\xd8thumb\xff\xd9"
    with_thumb = data[:2] + b"\xff\xe9" + (len(app) + 2).to_bytes(2, "big") + app + data[2:]
    cases = {
        "whole.jpg": with_thumb,
        "motion.jpg": with_thumb + bytes(300_000),  # trailing data after the JPEG
        "cut99.jpg": with_thumb[: int(len(with_thumb) * 0.99)],
        "cut50.jpg": with_thumb[: len(with_thumb) // 2],
    }
    Image.open(tmp_path / "big.jpg").save(tmp_path / "big.png")
    png = (tmp_path / "big.png").read_bytes()
    cases |= {"whole.png": png, "cut.png": png[: int(len(png) * 0.9)]}
    outcome = {}
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
        try:
            outcome[name] = check_image(tmp_path / name)
        except ImageError as e:
            outcome[name] = e.reason
    assert outcome == {
        "whole.jpg": (1200, 1000),
        "motion.jpg": (1200, 1000),
        "cut99.jpg": "truncated or damaged",
        "cut50.jpg": "truncated or damaged",
        "whole.png": (1200, 1000),
        "cut.png": "truncated or damaged",
    }
