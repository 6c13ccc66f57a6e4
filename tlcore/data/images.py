"""Reading one image: any supported file -> upright RGB uint8 at the model's square size.

Every decode in TransferLab goes through here, so the app, the CLI, training and
prediction see exactly the same pixels. Rules:

- Formats: JPEG (incl. MPO from phones), PNG, BMP, GIF (first frame), WEBP, TIFF.
- Any mode becomes RGB: transparency (RGBA, LA, palette + transparency) is composited
  on white, CMYK and 1-bit are converted, 16-bit grayscale is scaled (value / 257), not
  clipped.
- EXIF orientation is applied, so phone photos are upright.
- Decompression bombs (huge declared dimensions) are refused from the header, before any
  pixel buffer is allocated; Pillow's own bomb warning is turned into an error.
- Large JPEGs are decoded in draft mode: libjpeg scales the DCT by 1/2, 1/4 or 1/8 while
  decoding, so most of the inverse DCT and the big full-size buffer are skipped. Draft
  keeps the image at least as large as requested; the final resize does the rest.
- Other large images (PNG, TIFF, ...) are converted and box-reduced strip by strip right
  after decoding, and decoder threads share a memory budget, so one decode costs about
  its decoded buffer and a huge image decodes alone (``tlcore.data.bigimages``).
"""

import contextlib
import threading
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from tlcore.config import RESIZE_MODES
from tlcore.data import bigimages
from tlcore.errors import ImageError

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
)
# Pillow format names we decode (MPO is the multi-picture JPEG many phones write).
SUPPORTED_FORMATS = frozenset({"JPEG", "MPO", "PNG", "BMP", "GIF", "WEBP", "TIFF"})
# Files people put in image folders that we recognise but cannot use.
UNSUPPORTED_EXTENSIONS = frozenset(
    {
        ".heic",
        ".heif",
        ".avif",
        ".svg",
        ".psd",
        ".ico",
        ".raw",
        ".cr2",
        ".nef",
        ".arw",
        ".dng",
        ".jp2",
        ".tga",
        ".pcx",
        ".xcf",
        ".eps",
    }
)
# 64 megapixels: more than any phone's default photo, far below what would exhaust RAM
# (RGBA at this size is 256 MB). Pillow's own limit (89 MP) is higher, so ours fires first.
MAX_PIXELS = 64_000_000
PAD_COLOUR = (128, 128, 128)  # neutral grey: no strong edge against most photos
_WHITE = (255, 255, 255)
# warnings.catch_warnings swaps a process-wide filter list; the lock keeps concurrent
# decoder threads from restoring each other's filters. Only the header parse is inside.
_OPEN_LOCK = threading.Lock()


def _open(path: str | Path) -> Image.Image:
    """Open (header only) with format and size checks; raise ImageError on refusal."""
    path = Path(path)
    try:
        if path.stat().st_size == 0:
            raise ImageError(path, "empty file")
        with _OPEN_LOCK, warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(path)
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(path, "too large (decompression bomb)") from None
    except UnidentifiedImageError:
        raise ImageError(path, "not an image") from None
    except PermissionError:
        raise ImageError(path, "unreadable (permission denied)") from None
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        raise ImageError(path, f"unreadable ({_short(e)})") from None
    if im.format not in SUPPORTED_FORMATS:
        fmt = im.format
        im.close()
        raise ImageError(path, f"unsupported format ({fmt})")
    w, h = im.size
    if w * h > MAX_PIXELS:
        im.close()
        raise ImageError(
            path, f"too large ({w}x{h} pixels; the limit is {MAX_PIXELS // 1_000_000} megapixels)"
        )
    if w < 1 or h < 1:
        im.close()
        raise ImageError(path, "not an image (zero size)")
    return im


def _short(e: BaseException) -> str:
    text = str(e).split("\n")[0].strip() or type(e).__name__
    return text[:80]


def _load(im: Image.Image, path: str | Path) -> None:
    try:
        im.load()
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError):
        raise ImageError(path, "truncated or damaged") from None


def _to_rgb(im: Image.Image) -> Image.Image:
    """Convert any Pillow mode to RGB (alpha on white, 16-bit scaled)."""
    mode = im.mode
    if mode == "RGB":
        return im
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        # 16-bit samples: scale 0..65535 -> 0..255 (convert("L") would clip at 255).
        arr = np.asarray(im).astype(np.uint32)
        arr = (np.clip(arr, 0, 65535) // 257).astype(np.uint8)
        return Image.fromarray(arr, "L").convert("RGB")
    if mode == "F":
        arr = np.clip(np.asarray(im), 0, 255).astype(np.uint8)
        return Image.fromarray(arr, "L").convert("RGB")
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info
    if has_alpha:
        rgba = im.convert("RGBA")
        background = Image.new("RGB", rgba.size, _WHITE)
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if mode == "1":
        return im.convert("L").convert("RGB")
    return im.convert("RGB")


def _draft_request(size: tuple[int, int], target: int, mode: str) -> tuple[int, int]:
    """The smallest (w, h) the decoded JPEG must keep for ``mode`` at ``target`` px."""
    w, h = size
    if mode == "pad":  # the long side becomes `target`
        scale = target / max(w, h)
    elif mode == "crop":  # the short side becomes `target`
        scale = target / min(w, h)
    else:  # stretch: each side becomes `target`
        return (min(w, target), min(h, target))
    return (max(1, int(w * scale + 0.999)), max(1, int(h * scale + 0.999)))


_ORIENTATION = 0x0112
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _decode(path: str | Path, draft_size: int | None, draft_mode: str, finish=None) -> Image.Image:
    with _open(path) as im:
        if draft_size and im.format in ("JPEG", "MPO"):
            im.draft("RGB", _draft_request(im.size, draft_size, draft_mode))
            # Feed libjpeg in 4 MB reads instead of 64 KB: fewer Python round trips,
            # about 4% faster on 3 MB photos (bench/bench_data.py).
            im.decodermaxblock = 1 << 22
        with bigimages.BUDGET.reserve(bigimages.buffer_bytes(im)):
            _load(im, path)
            factor = 1
            if draft_size and im.size[0] * im.size[1] >= bigimages.MIN_PIXELS_TO_REDUCE:
                needed = _draft_request(im.size, draft_size, draft_mode)
                factor = bigimages.reduce_factor(im.size, needed)
            if factor > 1:
                out = _upright(bigimages.reduce_to_rgb(im, factor, _to_rgb), im)
            else:
                # A damaged EXIF block must not lose the photo: keep it as stored.
                with contextlib.suppress(Exception):
                    ImageOps.exif_transpose(im, in_place=True)
                out = _to_rgb(im)
            if finish is not None:
                out = finish(out)
            # Closing the file discards the pixels of `im`: hand back an independent image.
            return im.copy() if out is im else out


def _upright(small: Image.Image, original: Image.Image) -> Image.Image:
    """``small`` turned the way the EXIF orientation of ``original`` says."""
    try:
        orientation = original.getexif().get(_ORIENTATION)
    except Exception:  # a damaged EXIF block: keep the image as stored
        return small
    method = _TRANSPOSE.get(orientation)
    return small.transpose(method) if method is not None else small


def open_rgb(
    path: str | Path, draft_size: int | None = None, draft_mode: str = "pad"
) -> Image.Image:
    """Decode an image file to an upright RGB ``PIL.Image``.

    Args:
        path: The image file.
        draft_size: If set, a JPEG may be decoded smaller (DCT scaling), but never below
            what resizing to ``draft_size`` with ``draft_mode`` needs.
        draft_mode: The resize mode the caller will use (pad, crop, stretch).

    Raises:
        ImageError: with a short reason (not an image, truncated, too large, ...).
    """
    return _decode(path, draft_size, draft_mode)


# Images up to this many pixels are fully decoded by check_image (a few ms each);
# larger ones get a format-specific completeness check that does not decode pixels.
FULL_CHECK_PIXELS = 1_000_000
_TAIL = 256 * 1024


def _jpeg_scan_start(f) -> int:
    """Offset of the first start-of-scan (FF DA) segment, found by walking the markers."""
    f.seek(2)  # after the start-of-image marker
    while True:
        head = f.read(4)
        if len(head) < 4 or head[0] != 0xFF:
            return 0  # unexpected layout: search the whole file (lenient)
        marker = head[1]
        if marker == 0xFF:  # fill byte
            f.seek(-3, 1)
        elif marker == 0xDA:
            return f.tell()
        elif 0xD0 <= marker <= 0xD8 or marker == 0x01:  # markers without a length
            f.seek(-2, 1)
        else:
            f.seek(int.from_bytes(head[2:4], "big") - 2, 1)


def _jpeg_complete(path: Path) -> bool:
    """True if an end-of-image marker (FF D9) follows the start of the compressed data.

    Inside entropy-coded JPEG data a 0xFF byte is always followed by 0x00 or a restart
    marker, so FF D9 after the first scan can only be the real end: a file cut short
    lacks it (an EXIF thumbnail's own FF D9 comes before the scan and does not count).
    Trailing data after the JPEG (phone "motion photos") is fine.
    """
    with open(path, "rb") as f:
        scan_offset = _jpeg_scan_start(f)
        size = f.seek(0, 2)
        start = max(scan_offset, size - _TAIL)
        f.seek(start)
        if b"\xff\xd9" in f.read():
            return True
        if start == scan_offset:
            return False
        f.seek(scan_offset)
        return b"\xff\xd9" in f.read()


def check_image(path: str | Path) -> tuple[int, int]:
    """Check cheaply that ``path`` is a complete, usable image; return its (width, height).

    Speed vs correctness (a scan may see 50,000 photos): the header is always parsed
    (format, size, bomb limit). Small images (<= ``FULL_CHECK_PIXELS``) are fully
    decoded, which catches any damage. Larger ones are not decoded: a PNG's chunks and
    CRCs are verified (``Image.verify``, no inflate), a JPEG must contain its end marker
    after the compressed data, other formats are decoded. Corruption in the middle of a
    large JPEG that keeps its end marker is found only when the image is decoded.

    Raises:
        ImageError: with the short reason shown in scan reports.
    """
    path = Path(path)
    with _open(path) as im:
        size = im.size
        if size[0] * size[1] <= FULL_CHECK_PIXELS or im.format not in ("PNG", "JPEG", "MPO"):
            _load(im, path)
        elif im.format == "PNG":
            try:
                im.verify()
            except Exception:  # any failure here means a damaged file
                raise ImageError(path, "truncated or damaged") from None
        elif not _jpeg_complete(path):
            raise ImageError(path, "truncated or damaged")
    return size


def resize_square(im: Image.Image, size: int, mode: str = "pad") -> Image.Image:
    """Resize an RGB image to ``size`` x ``size``.

    Modes: ``pad`` keeps the whole image (scaled to fit, centred on grey), ``crop`` takes
    the centred square, ``stretch`` distorts the aspect ratio.
    """
    if mode not in RESIZE_MODES:
        raise ValueError(f"resize mode must be one of {RESIZE_MODES}, got {mode!r}")
    w, h = im.size
    bilinear = Image.Resampling.BILINEAR  # antialiased when shrinking, fast
    if mode == "stretch" or w == h:
        return im.resize((size, size), bilinear)
    if mode == "crop":
        side = min(w, h)
        left, top = (w - side) / 2, (h - side) / 2
        return im.resize((size, size), bilinear, box=(left, top, left + side, top + side))
    scale = size / max(w, h)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    canvas = Image.new("RGB", (size, size), PAD_COLOUR)
    canvas.paste(im.resize((nw, nh), bilinear), ((size - nw) // 2, (size - nh) // 2))
    return canvas


def load_image(path: str | Path, size: int, mode: str = "pad") -> np.ndarray:
    """Decode ``path`` to an upright RGB uint8 array of shape ``(size, size, 3)``.

    Args:
        path: An image file (JPEG, PNG, BMP, GIF, WEBP, TIFF).
        size: The square output size in pixels.
        mode: ``pad`` (default; keeps the whole image), ``crop`` or ``stretch``.

    Raises:
        ImageError: if the file cannot be used; ``.reason`` says why in a few words.
    """
    if mode not in RESIZE_MODES:
        raise ValueError(f"resize mode must be one of {RESIZE_MODES}, got {mode!r}")
    im = _decode(path, size, mode, finish=lambda rgb: resize_square(rgb, size, mode))
    return np.asarray(im, dtype=np.uint8)
