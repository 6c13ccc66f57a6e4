"""A file a run cannot start from is refused as the run is created, not 10-25 s into it."""

from pathlib import Path

import pytest
from conftest import write_class_images

from tlcore import workspace
from tlcore.cli import main


def _refused(args: list[str], capsys: pytest.CaptureFixture) -> str:
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert not list(workspace.runs_dir().glob("*"))  # no failed run left behind
    return err.removeprefix("error: ")


@pytest.mark.parametrize("auto", [[], ["--no-auto"]])
def test_weights_that_are_no_weights_file_make_no_run(tmp_path: Path, capsys, auto) -> None:
    data = write_class_images(tmp_path / "data", per_class=4)
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"junk" * 100)
    train = ["train", str(data), "--backbone", "mobilenet_v3_small", "--image-size", "32", *auto]
    assert _refused([*train, "--weights", str(junk)], capsys) == (
        "'junk.h5' is not a weights file (it holds no HDF5 data); give a .weights.h5 file "
        "saved with model.save_weights() from a MobileNetV3 Small network."
    )
    missing = tmp_path / "gone.weights.h5"
    assert _refused([*train, "--weights", str(missing)], capsys) == (
        f"The weights file '{missing}' does not exist."
    )
    assert _refused([*train, "--backbone", "my_model", "--weights", "run:nope"], capsys) == (
        f"There is no run 'nope' in {workspace.runs_dir()}."
    )


def test_a_model_file_of_another_size_makes_no_run(tmp_path: Path, capsys) -> None:
    import keras
    from keras import layers

    inputs = keras.Input((32, 32, 3))
    x = layers.GlobalAveragePooling2D()(layers.Conv2D(2, 3)(inputs))
    keras.Model(inputs, layers.Dense(2)(x)).save(tmp_path / "mine.keras")
    data = write_class_images(tmp_path / "data", per_class=4)
    train = ["train", str(data), "--backbone", "keras_file", "--no-auto", "--epochs", "1"]
    assert _refused(
        [*train, "--weights", str(tmp_path / "mine.keras"), "--image-size", "64"], capsys
    ) == ("This model takes 32x32 px images; set the image size to 32.")
    assert _refused([*train, "--weights", str(tmp_path / "nothing.keras")], capsys) == (
        "The 'A Keras model file' backbone needs the path of a .keras model file as its "
        f"weights (got '{tmp_path / 'nothing.keras'}')."
    )


def test_an_earlier_run_claiming_a_size_outside_16_to_1024_is_refused(tmp_path: Path) -> None:
    import json

    from tlcore.config import TrainConfig
    from tlcore.errors import ConfigError
    from tlcore.models.classifier import image_size_for
    from tlcore.models.start_check import check_start

    run = workspace.runs_dir() / "edited"
    run.mkdir(parents=True)
    spec = {"config": {"backbone": "small_cnn", "image_size": 5000}}
    (run / "spec.json").write_text(json.dumps(spec))
    expected = (
        "Run 'edited' says it trained at 5000 px, outside the 16-1024 px TransferLab works "
        "with (its spec.json was changed); pick another of your models."
    )
    config = TrainConfig(data="x", backbone="my_model", weights="run:edited")
    for attempt in (lambda: check_start("my_model", "run:edited"), lambda: image_size_for(config)):
        with pytest.raises(ConfigError) as err:
            attempt()
        assert str(err.value) == expected


def test_sharded_keras3_weights_still_start_a_run(tmp_path: Path) -> None:
    import numpy as np

    from tlcore.models.backbone_models import build_backbone
    from tlcore.models.start_check import check_start

    source = build_backbone("mobilenet_v3_small", 32, "none")
    source.save_weights(tmp_path / "mine.weights.json", max_shard_size=0.0005)  # GB: shards
    assert len(list(tmp_path.glob("*.h5"))) > 1
    check_start("mobilenet_v3_small", str(tmp_path / "mine.weights.json"), 32)
    loaded = build_backbone("mobilenet_v3_small", 32, str(tmp_path / "mine.weights.json"))
    for a, b in zip(source.get_weights(), loaded.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
