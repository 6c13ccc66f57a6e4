"""The built-in demo dataset: procedural shapes, so a newcomer can try everything at once.

Four classes (circle, square, triangle, stripes), each image with its own random
background (colour, gradient, noise) and foreground (colour, size, position, rotation).
Colour is not a cue: both colours are drawn from the same range for every class, so a
model must learn shape. Deterministic: image ``i`` of a class comes from its own
generator seeded by ``(seed, class, i)``, so the same arguments give the same pixels.
Idempotent: a finished folder carries a marker with its arguments and is returned as is.
"""

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from tlcore import fsutil, workspace
from tlcore.errors import DataError

DEMO_CLASSES = ("circle", "square", "triangle", "stripes")
MARKER = ".transferlab-demo.json"  # names starting with .transferlab- are ignored by scan
_SUPERSAMPLE = 2  # draw larger, then shrink: smooth edges


def _colour_pair(rng: np.random.Generator) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Background and foreground colours with clearly different brightness."""
    while True:
        bg, fg = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
        if abs(bg.mean() - fg.mean()) > 60 or np.abs(bg - fg).max() > 140:
            return tuple(int(v) for v in bg), tuple(int(v) for v in fg)


def _background(rng: np.random.Generator, side: int, colour: tuple[int, ...]) -> Image.Image:
    ramp = np.linspace(-1.0, 1.0, side)
    angle = rng.uniform(0, 2 * np.pi)
    gradient = np.cos(angle) * ramp[None, :] + np.sin(angle) * ramp[:, None]
    strength = rng.uniform(0, 40)
    noise = rng.normal(0, rng.uniform(2, 12), (side, side, 3))
    pixels = np.array(colour, float)[None, None, :] + strength * gradient[..., None] + noise
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def _polygon(cx: float, cy: float, radius: float, sides: int, turn: float) -> list:
    angles = turn + np.arange(sides) * 2 * np.pi / sides
    return [(cx + radius * np.cos(a), cy + radius * np.sin(a)) for a in angles]


def draw_example(label: str, size: int, rng: np.random.Generator) -> Image.Image:
    """One demo image of class ``label`` (RGB, ``size`` x ``size``)."""
    side = size * _SUPERSAMPLE
    bg, fg = _colour_pair(rng)
    im = _background(rng, side, bg)
    draw = ImageDraw.Draw(im)
    radius = rng.uniform(0.14, 0.32) * side
    cx, cy = (rng.uniform(radius + 2, side - radius - 2) for _ in range(2))
    turn = rng.uniform(0, 2 * np.pi)
    if label == "circle":
        draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=fg)
    elif label == "square":
        draw.polygon(_polygon(cx, cy, radius * 1.1, 4, turn), fill=fg)
    elif label == "triangle":
        draw.polygon(_polygon(cx, cy, radius * 1.2, 3, turn), fill=fg)
    elif label == "stripes":
        period = rng.uniform(0.08, 0.2) * side
        width = int(period * rng.uniform(0.35, 0.6))
        direction = np.array([np.cos(turn), np.sin(turn)])
        normal = np.array([-direction[1], direction[0]])
        centre = np.array([side / 2, side / 2])
        for k in np.arange(-side, side, period):
            a = centre + normal * k - direction * side * 1.5
            b = centre + normal * k + direction * side * 1.5
            draw.line((*a, *b), fill=fg, width=max(1, width))
    else:
        raise ValueError(f"unknown demo class {label!r}")
    return im.resize((size, size), Image.Resampling.LANCZOS)


def _default_dest(per_class: int, size: int, seed: int) -> Path:
    name = (
        "demo"
        if (per_class, size, seed) == (60, 96, 0)
        else (f"demo-{size}px-{per_class}each-seed{seed}")
    )
    return workspace.datasets_dir() / name


def make_demo_dataset(
    dest: str | os.PathLike | None = None, per_class: int = 60, size: int = 96, seed: int = 0
) -> Path:
    """Generate (or find) the demo dataset and return its folder (one subfolder per class).

    Args:
        dest: Target folder; default ``<workspace>/datasets/demo`` for the default
            arguments (another name for others).
        per_class: Images per class.
        size: Image side in pixels.
        seed: Changes every image.

    Raises:
        DataError: ``dest`` exists, is not empty and is not a demo folder.
    """
    dest = Path(dest) if dest is not None else _default_dest(per_class, size, seed)
    params = {
        "classes": list(DEMO_CLASSES),
        "per_class": per_class,
        "size": size,
        "seed": seed,
        "version": 1,
    }
    marker = dest / MARKER
    if marker.exists():
        try:
            if json.loads(marker.read_text(encoding="utf-8")) == params:
                return dest
        except (OSError, ValueError):
            pass
        shutil.rmtree(dest)  # our own demo folder with other arguments: rebuild it
    elif dest.exists() and any(dest.iterdir()):
        raise DataError(f"Cannot create the demo dataset in '{dest}': the folder is not empty.")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp"))
    try:
        for ci, label in enumerate(DEMO_CLASSES):
            (tmp / label).mkdir()
            for i in range(per_class):
                rng = np.random.default_rng([seed, ci, i])
                draw_example(label, size, rng).save(tmp / label / f"{label}_{i:03d}.png")
        (tmp / MARKER).write_text(json.dumps(params), encoding="utf-8")
        fsutil.publish_dir(tmp, dest, MARKER)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest
