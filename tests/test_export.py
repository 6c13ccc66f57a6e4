"""Export formats, labels.txt beside them, and the parity check on the test split."""

import json
from pathlib import Path

import pytest
from conftest import write_class_images
from run_helpers import train_tiny

from tlcore.cli import main
from tlcore.config import FreezeConfig
from tlcore.data.pipeline import load_arrays
from tlcore.errors import ConfigError, RunError
from tlcore.results.export import export_run
from tlcore.runs import run_files


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("export")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TRANSFERLAB_HOME", str(root / "ws"))
        info = train_tiny(write_class_images(root / "data", per_class=20), "full")
    assert info.status == "finished"
    return info.path


@pytest.mark.parametrize(
    ("fmt", "suffix", "minimum"),
    [
        ("keras", ".keras", 1.0),
        ("savedmodel", "_savedmodel", 1.0),
        ("tflite", ".tflite", 1.0),
        ("tflite-int8", "_int8.tflite", 0.8),
    ],
)
def test_export_writes_the_model_and_labels_and_checks_parity(
    run_dir: Path, fmt: str, suffix: str, minimum: float
) -> None:
    result = export_run(run_dir, fmt)
    n_test = len(run_files.read_split(run_dir).test)
    assert result.path == str(run_dir / "export" / f"{run_dir.name}{suffix}")
    assert Path(result.path).exists() and result.format == fmt
    assert (run_dir / "export" / "labels.txt").read_text() == "blue\ngreen\nred\n"
    assert result.n_images == n_test == 6
    assert result.agreement >= minimum


def test_export_cli_json_and_errors(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "out"
    assert main(["export", str(run_dir), "--format", "tflite", "--out", str(out), "--json"]) == 0
    got = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert got == {
        "path": str(out / f"{run_dir.name}.tflite"),
        "format": "tflite",
        "agreement": 1.0,
        "n_images": 6,
    }
    assert sorted(p.name for p in out.iterdir()) == [
        f"{run_dir.name}.tflite",
        "labels.json",
        "labels.txt",
    ]
    with pytest.raises(ConfigError, match="onnx"):
        export_run(run_dir, "onnx")
    with pytest.raises(RunError):
        export_run("nope", "keras")


def test_a_lite0_imagenet_run_exports_with_parity_and_explains(tmp_path: Path) -> None:
    """EfficientNet-Lite0 from the pip wheel, fine-tuned: TFLite agrees, Grad-CAM works."""
    import numpy as np

    from tlcore.models.model_files import load_model_safely
    from tlcore.results.gradcam import gradcam

    data = write_class_images(tmp_path / "data", per_class=10, size=48)
    info = train_tiny(
        data, "fine-tune", backbone="efficientnet_lite0", weights="imagenet", image_size=48,
        solve_head=True, freeze=FreezeConfig("fine-tune", unfreeze_top=10),
    )  # fmt: skip
    assert info.status == "finished", info.error
    result = export_run(info.path, "tflite")
    assert result.n_images > 0 and result.agreement == 1.0
    model = load_model_safely(info.path / "model.keras")
    image = np.asarray(
        load_arrays(
            list(run_files.read_split(info.path).test), ["blue", "green", "red"], 48, "pad"
        )[0]
    )[0]
    heat = gradcam(model, image)
    assert heat.shape == (48, 48) and heat.min() >= 0.0 and heat.max() <= 1.0


def test_export_never_overwrites_a_file_and_says_why_it_cannot_write(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    def refused(out: Path) -> str:
        capsys.readouterr()
        assert main(["export", str(run_dir), "--format", "keras", "--out", str(out)]) == 2
        return capsys.readouterr().err.strip()

    afile = tmp_path / "notes.txt"
    afile.write_text("mine")
    assert refused(afile) == (
        f"error: '{afile}' is a file; give --out a folder to export into (it is made if missing)."
    )
    assert refused(afile / "sub") == (
        f"error: Could not write the export to '{afile / 'sub'}' (not a directory); choose "
        "a folder you can write to."
    )
    folder = tmp_path / "shared"
    folder.mkdir()
    (folder / "labels.txt").write_text("another model's classes\n")
    assert refused(folder) == (
        f"error: '{folder / 'labels.txt'}' already exists and was left as it is; export "
        "into another folder, or move that file away first."
    )
    assert (folder / "labels.txt").read_text() == "another model's classes\n"
    assert afile.read_text() == "mine" and sorted(p.name for p in folder.iterdir()) == [
        "labels.txt"
    ]


def test_a_run_whose_model_declares_2048_px_is_refused_for_export_and_prediction(
    run_dir: Path, tmp_path: Path
) -> None:
    import shutil
    import zipfile

    from tlcore.errors import ModelFileError
    from tlcore.results.predict import load_predictor

    copy = tmp_path / run_dir.name
    shutil.copytree(run_dir, copy, ignore=shutil.ignore_patterns("export"))
    with zipfile.ZipFile(run_dir / "model.keras") as z:
        members = {n: z.read(n) for n in z.namelist()}
    config = members["config.json"]
    assert config.count(b"[null, 32, 32, 3]") >= 1
    members["config.json"] = config.replace(b"[null, 32, 32, 3]", b"[null, 2048, 2048, 3]")
    with zipfile.ZipFile(copy / "model.keras", "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    expected = (
        "'model.keras' declares 2048 x 2048 px input images; TransferLab works with 16 to "
        "1024 px (as for --image-size), so re-save the model with an input in that range, "
        "e.g. keras.Input((224, 224, 3))."
    )
    for attempt in (lambda: export_run(copy, "keras"), lambda: load_predictor(copy)):
        with pytest.raises(ModelFileError) as err:
            attempt()
        assert str(err.value) == expected
    assert not (copy / "export").exists()  # refused before anything was written
