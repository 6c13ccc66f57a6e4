"""Data page, "Look for mistakes" (AppTest): real photos with one misfiled, found and
shown; a move happens only after its confirm button, is recorded, and is undone."""

import shutil
from pathlib import Path

import pytest
from app_helpers import app, errors, texts

from bench import realdata
from tlcore.data import moves

LITE = {"backbone": "efficientnet_lite0", "weights": "imagenet", "training": {"image_size": 64}}


def test_a_misfiled_photo_is_shown_first_and_moved_only_when_confirmed(tmp_path: Path) -> None:
    pytest.importorskip("skimage")
    root = realdata.lfw_faces(tmp_path / "faces", per_class=10)
    face = sorted((root / "face").glob("*.png"))[0]
    wrong = root / "not_face" / face.name
    shutil.move(face, wrong)
    at = app(data_path=str(root), **LITE)
    assert not at.exception
    assert "nothing is moved or deleted unless you confirm it" in texts(at)
    at.button(key="inspect_run").click().run()
    assert not at.exception and errors(at) == []
    page = texts(at)
    assert "Review these first" in page
    first = next(c.value for c in at.caption if "looks like" in c.value)
    assert f"`not_face/{wrong.name}`" in first
    assert "folder **not_face**, looks like **face**" in first
    maps = [c.key for c in at.get("plotly_chart") if c.key]
    assert maps == ["inspect_map", "inspect_map_after"]  # before and after training

    at.button(key="inspect_move_0").click().run()
    assert wrong.is_file() and moves.history() == []  # asked, not done
    assert f"Move `not_face/{wrong.name}` into the class **face**?" in texts(at)
    at.button(key="inspect_confirm").click().run()
    assert not at.exception and errors(at) == []
    assert not wrong.exists() and (root / "face" / wrong.name).is_file()
    assert [Path(m.dest) for m in moves.history()] == [root / "face" / wrong.name]
    assert f"moved to face/{wrong.name}" in texts(at)
    assert "**20 images** in **2 classes**." in texts(at)

    at.button(key="inspect_undo").click().run()
    assert not at.exception and wrong.is_file() and moves.history() == []
    assert f"Put back: `not_face/{wrong.name}`." in [s.value for s in at.success]


def test_without_the_chosen_networks_weights_it_uses_the_installed_one(
    tiny_dataset: Path,
) -> None:
    at = app(
        data_path=str(tiny_dataset),
        backbone="mobilenet_v2",
        weights="imagenet",
        training={"image_size": 32},
    )
    assert not at.exception
    assert "with EfficientNet-Lite0 (installed with TransferLab)" in texts(at)
