"""Decoding very large images in bounded memory.

A flat 7900x8000 PNG is 61 KB on disk and under the pixel limit, but decoding it to a
224 px thumbnail used to cost 240-770 MB (the decoded buffer, then a full-size RGB copy,
then an alpha composite), once per decoder thread. Two things bound it now:

- **Reduce while converting.** Pillow decodes PNG, BMP, TIFF, ... only at full size (JPEG
  alone has draft mode), so the decoded buffer itself is unavoidable. Everything after it
  works on horizontal strips: each strip is converted to RGB (alpha on white, 16-bit
  scaled) and box-reduced by an integer factor straight away, so no second full-size
  image ever exists. The factor keeps the image at least ``REDUCING_GAP`` times the
  final size, where Pillow's own ``reducing_gap`` makes the result indistinguishable
  from resizing the full image.
- **A budget shared by the decoder threads.** A decode reserves the bytes its buffer
  needs (from the header, after draft mode) before it starts and returns them when done;
  decodes wait while the reserved total would pass ``DECODE_BUDGET_BYTES``. Small photos
  decode side by side; one huge image decodes alone instead of one per core.
"""

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from PIL import Image

DECODE_BUDGET_BYTES = 320 * 1024**2  # one 64-megapixel RGB(A) buffer, plus room
REDUCING_GAP = 3.0
STRIP_BYTES = 8 * 1024**2  # converted per strip: a few MB, whatever the image size
# Below this many pixels the plain path (convert, then resize) is cheap enough.
MIN_PIXELS_TO_REDUCE = 4_000_000
# Bytes per pixel of Pillow's in-memory image for a mode (RGB is stored in 4 bytes).
_BYTES_PER_PIXEL = {"1": 1, "L": 1, "P": 1, "LA": 4, "PA": 4, "La": 4, "I;16": 2}


def buffer_bytes(im: Image.Image) -> int:
    """Bytes Pillow allocates to decode ``im`` at its current (possibly drafted) size."""
    return im.size[0] * im.size[1] * _BYTES_PER_PIXEL.get(im.mode, 4)


class DecodeBudget:
    """A semaphore weighted by bytes: at most ``limit`` bytes of decoding at a time.

    A request larger than the whole budget waits until nothing else decodes, then runs.
    """

    def __init__(self, limit: int = DECODE_BUDGET_BYTES) -> None:
        self.limit = limit
        self.in_use = 0
        self.peak = 0  # the largest total reserved at once (for tests and benchmarks)
        self._cond = threading.Condition()

    @contextmanager
    def reserve(self, nbytes: int) -> Iterator[None]:
        """Hold ``nbytes`` of the budget while the block runs."""
        need = min(max(int(nbytes), 0), self.limit)
        with self._cond:
            self._cond.wait_for(lambda: self.in_use + need <= self.limit)
            self.in_use += need
            self.peak = max(self.peak, self.in_use)
        try:
            yield
        finally:
            with self._cond:
                self.in_use -= need
                self._cond.notify_all()


BUDGET = DecodeBudget()


def reduce_factor(size: tuple[int, int], needed: tuple[int, int]) -> int:
    """The integer factor to shrink ``size`` by that still leaves ``REDUCING_GAP`` x
    ``needed`` pixels on each side (1 = do not reduce)."""
    k = min(size[0] / (REDUCING_GAP * needed[0]), size[1] / (REDUCING_GAP * needed[1]))
    return max(1, int(k))


def reduce_to_rgb(
    im: Image.Image, factor: int, to_rgb: Callable[[Image.Image], Image.Image]
) -> Image.Image:
    """``to_rgb(im).reduce(factor)``, computed strip by strip (no full-size copy).

    Strips are a multiple of ``factor`` rows high, so every box of the reduction lies
    inside one strip and the result is the same as reducing the whole image.
    """
    w, h = im.size
    rows = max(factor, (STRIP_BYTES // max(w * 4, 1)) // factor * factor)
    out = Image.new("RGB", (-(-w // factor), -(-h // factor)))
    for top in range(0, h, rows):
        strip = to_rgb(im.crop((0, top, w, min(top + rows, h))))
        out.paste(strip.reduce(factor), (0, top // factor))
    return out
