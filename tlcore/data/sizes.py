"""Image sizes from file headers (nothing decoded): to warn about images too small to learn from.

A network sees every image resized to its input size (e.g. 96 or 224 px). An 8 x 8 px
image blown up to that size is a few coloured squares: whatever the model says about it
means little, and a class of such images teaches it little. ``MIN_SIDE`` is where we warn.
"""

import os
from collections.abc import Iterable

from PIL import Image, UnidentifiedImageError

MIN_SIDE = 32  # px: below this on the shorter side, an image is "tiny"


def image_size(path: str | os.PathLike) -> tuple[int, int] | None:
    """``(width, height)`` read from the file's header, or None if it is not an image."""
    try:
        with Image.open(path) as im:
            return im.size
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError):
        return None


def is_tiny(size: tuple[int, int] | None, min_side: int = MIN_SIDE) -> bool:
    """True for a known size whose shorter side is below ``min_side``."""
    return size is not None and min(size) < min_side


def tiny_images(
    paths: Iterable[str | os.PathLike], min_side: int = MIN_SIDE
) -> list[tuple[str, tuple[int, int]]]:
    """The images among ``paths`` whose shorter side is below ``min_side``, with their sizes."""
    found = []
    for path in paths:
        size = image_size(path)
        if is_tiny(size, min_side):
            found.append((str(path), size))
    return found
