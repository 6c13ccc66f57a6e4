"""tlcore.data.demo: a deterministic, idempotent procedural dataset that scans cleanly."""

import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tlcore import workspace
from tlcore.data.demo import DEMO_CLASSES, make_demo_dataset
from tlcore.data.scan import scan
from tlcore.errors import DataError


def pixels(folder: Path) -> dict[str, np.ndarray]:
    return {
        p.relative_to(folder).as_posix(): np.asarray(Image.open(p))
        for p in sorted(folder.rglob("*.png"))
    }


def test_default_demo_has_60_images_per_class_and_scans_cleanly() -> None:
    folder = make_demo_dataset()
    assert folder == workspace.datasets_dir() / "demo"
    report = scan(folder)
    assert report.classes == dict.fromkeys(sorted(DEMO_CLASSES), 60)
    assert report.skipped == [] and report.warnings == [] and report.duplicates == []
    im = Image.open(folder / "circle" / "circle_000.png")
    assert im.size == (96, 96) and im.mode == "RGB"
    before = (folder / "circle" / "circle_000.png").stat().st_mtime_ns
    started = time.perf_counter()
    assert make_demo_dataset() == folder
    assert time.perf_counter() - started < 1.0  # idempotent: found, not regenerated
    assert (folder / "circle" / "circle_000.png").stat().st_mtime_ns == before


def test_deterministic_and_seeded(tmp_path: Path) -> None:
    a = make_demo_dataset(tmp_path / "a", per_class=4, size=32, seed=1)
    b = make_demo_dataset(tmp_path / "b", per_class=4, size=32, seed=1)
    c = make_demo_dataset(tmp_path / "c", per_class=4, size=32, seed=2)
    pa, pb, pc = pixels(a), pixels(b), pixels(c)
    assert len(pa) == 16 and all(v.shape == (32, 32, 3) for v in pa.values())
    assert pa.keys() == pb.keys() and all(np.array_equal(pa[k], pb[k]) for k in pa)
    assert not any(np.array_equal(pa[k], pc[k]) for k in pa)
    # Varied: no two images of a class share their mean colour.
    means = [tuple(v.mean(axis=(0, 1)).round(1)) for v in pa.values()]
    assert len(set(means)) == 16


def test_other_arguments_rebuild_and_foreign_folders_are_refused(tmp_path: Path) -> None:
    dest = make_demo_dataset(tmp_path / "d", per_class=2, size=24)
    assert len(list(dest.rglob("*.png"))) == 8
    make_demo_dataset(dest, per_class=3, size=24)
    assert len(list(dest.rglob("*.png"))) == 12
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.txt").write_text("precious")
    with pytest.raises(DataError, match="the folder is not empty"):
        make_demo_dataset(tmp_path / "mine", per_class=2, size=24)
    assert (tmp_path / "mine" / "thesis.txt").read_text() == "precious"
