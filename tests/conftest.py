"""Shared fixtures: every test gets its own workspace; tiny learnable image folders."""

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Colours that a randomly initialised network separates within an epoch or two.
CLASS_COLOURS = {"red": (210, 40, 40), "green": (40, 180, 60), "blue": (40, 70, 210)}


@pytest.fixture(autouse=True)
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point TRANSFERLAB_HOME at a fresh folder so no test touches ./workspace."""
    ws = tmp_path / "workspace"
    monkeypatch.setenv("TRANSFERLAB_HOME", str(ws))
    # Background workers started by a test exit soon after its last run.
    monkeypatch.setenv("TRANSFERLAB_WORKER_IDLE_SECONDS", "3")
    return ws


def write_class_images(
    root: Path,
    per_class: int = 12,
    size: int = 32,
    seed: int = 0,
    classes: dict[str, tuple[int, int, int]] | None = None,
) -> Path:
    """Write ``per_class`` noisy solid-colour images per class under ``root/<class>/``."""
    rng = np.random.default_rng(seed)
    for name, colour in (classes or CLASS_COLOURS).items():
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            noise = rng.integers(-30, 30, size=(size, size, 3))
            pixels = np.clip(np.array(colour) + noise, 0, 255).astype(np.uint8)
            ext = "png" if i % 2 else "jpg"
            Image.fromarray(pixels).save(folder / f"{name}_{i:03d}.{ext}")
    return root


@pytest.fixture
def tiny_dataset(tmp_path: Path) -> Path:
    """Three colour classes of 12 images each, 32x32, PNG and JPEG mixed."""
    return write_class_images(tmp_path / "tiny")
