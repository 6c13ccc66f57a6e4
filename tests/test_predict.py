"""Prediction with a trained run: every image format the data layer accepts."""

import json
from pathlib import Path

import pytest
from conftest import write_class_images
from PIL import Image
from run_helpers import train_tiny

from tlcore.cli import main
from tlcore.errors import RunError
from tlcore.results.predict import load_predictor


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One run (small_cnn, all layers, 2 epochs) that tells red/green/blue apart."""
    root = tmp_path_factory.mktemp("predict")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TRANSFERLAB_HOME", str(root / "ws"))
        info = train_tiny(write_class_images(root / "data"), "full", epochs=3)
    assert info.status == "finished" and info.test_accuracy == 1.0
    return info.path


COLOURS = {"red": (210, 40, 40), "green": (40, 180, 60), "blue": (40, 70, 210)}


def _write(folder: Path, name: str, colour: tuple, fmt: str, mode: str, size=(48, 40)) -> Path:
    im = Image.new("RGB", size, colour)
    if mode == "RGBA":
        im = im.convert("RGBA")
    elif mode == "P":
        im = im.convert("P", palette=Image.Palette.ADAPTIVE)
    elif mode == "CMYK":
        im = im.convert("CMYK")
    path = folder / f"{name}.{fmt}"
    im.save(path)
    return path


CASES = [
    ("png", "RGB"),
    ("JPG", "RGB"),
    ("bmp", "RGB"),
    ("gif", "P"),
    ("webp", "RGB"),
    ("tiff", "RGB"),
    ("png", "RGBA"),
    ("png", "P"),
    ("jpg", "CMYK"),
    ("tif", "CMYK"),
]


def test_predicts_every_format_and_mode(run_dir: Path, tmp_path: Path) -> None:
    predictor = load_predictor(run_dir)
    assert (predictor.classes, predictor.image_size, predictor.resize_mode) == (
        ["blue", "green", "red"],
        32,
        "pad",
    )
    paths, expected = [], []
    for i, (fmt, mode) in enumerate(CASES):
        label = list(COLOURS)[i % 3]
        paths.append(_write(tmp_path, f"img{i}_{label}", COLOURS[label], fmt, mode))
        expected.append(label)
    predictions = predictor.predict_paths(paths, top_k=3)
    assert [p.label for p in predictions] == expected
    for p, path in zip(predictions, paths, strict=True):
        assert p.path == str(path)
        assert next(lb for lb, _ in p.top_k) == p.label and len(p.top_k) == 3
        probs = [pr for _, pr in p.top_k]
        assert probs == sorted(probs, reverse=True) and sum(probs) == pytest.approx(1, 1e-4)
        assert p.probability == probs[0]


def test_predict_arrays_matches_predict_paths(run_dir: Path, tmp_path: Path) -> None:
    predictor = load_predictor(run_dir / "model.keras")  # a model file + labels.txt beside it
    path = _write(tmp_path, "g", COLOURS["green"], "png", "RGB")
    by_path = predictor.predict_paths([path], top_k=2)[0]
    by_array = predictor.predict_arrays(predictor.load(path), top_k=2)[0]
    assert by_array.label == by_path.label == "green"
    assert [lb for lb, _ in by_array.top_k] == [lb for lb, _ in by_path.top_k]
    assert [p for _, p in by_array.top_k] == pytest.approx([p for _, p in by_path.top_k])
    assert len(by_array.top_k) == 2


def test_predict_cli_json(run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = _write(tmp_path, "b", COLOURS["blue"], "jpg", "RGB")
    assert main(["predict", str(run_dir), str(path), "--top-k", "2", "--json"]) == 0
    got = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert [(g["path"], g["label"], next(t["label"] for t in g["top_k"])) for g in got] == [
        (str(path), "blue", "blue")
    ]
    assert len(got[0]["top_k"]) == 2 and 0 < got[0]["probability"] <= 1
    assert main(["predict", str(run_dir), str(path)]) == 0
    assert "blue (" in capsys.readouterr().out


def test_unreadable_image_and_missing_run_are_plain_errors(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    bad = tmp_path / "bad.jpg"
    bad.write_text("not an image")
    assert main(["predict", str(run_dir), str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "bad.jpg" in err and len(err.splitlines()) == 1
    with pytest.raises(RunError, match="No run 'nope'"):
        load_predictor("nope")


def test_odd_class_names_come_back_exactly(tmp_path: Path) -> None:
    odd = {" lead": (210, 40, 40), "trail ": (40, 180, 60), "tab\there 🐱": (40, 70, 210)}
    info = train_tiny(write_class_images(tmp_path / "odd", classes=odd), "full", epochs=1)
    assert info.status == "finished"
    names = sorted(odd)
    assert json.loads((info.path / "labels.json").read_text(encoding="utf-8")) == names
    assert load_predictor(info.run_id).classes == names
    (info.path / "labels.json").unlink()  # a run from before labels.json: labels.txt is exact
    assert load_predictor(info.run_id).classes == names


def test_an_empty_image_path_or_top_k_below_1_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["predict", "some-run", ""]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "error: An image path is empty: give image files, e.g. photo.jpg."
    ]
    assert main(["predict", "some-run", "a.jpg", "--top-k", "0"]) == 2
    assert capsys.readouterr().err.strip() == "error: --top-k must be 1 or more (got 0)."
