"""Safe loading of model files: no file runs code; every refusal says its real reason."""

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from tlcore.errors import ModelFileError
from tlcore.models.model_files import load_model_safely


def _conv_model(extra_lambda: bool = False):
    import keras
    from keras import layers

    inputs = keras.Input((8, 8, 3))
    x = layers.Conv2D(4, 3)(inputs)
    if extra_lambda:
        x = layers.Lambda(lambda t: t * 2.0)(x)
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, layers.Dense(2, activation="softmax")(x))


def test_a_plain_model_loads_back_with_identical_predictions(tmp_path) -> None:
    model = _conv_model()
    x = np.random.default_rng(0).uniform(0, 1, (3, 8, 8, 3)).astype("float32")
    model.save(tmp_path / "ok.keras")
    loaded = load_model_safely(tmp_path / "ok.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)


def test_a_model_with_a_lambda_layer_is_refused(tmp_path) -> None:
    path = tmp_path / "evil.keras"
    _conv_model(extra_lambda=True).save(path)
    with pytest.raises(ModelFileError) as err:
        load_model_safely(path)
    message = str(err.value)
    assert message.startswith("Refused to load 'evil.keras': it contains a Lambda layer")
    assert "built-in Keras layers" in message


def test_a_custom_layer_named_like_lambda_is_not_called_a_lambda_layer(tmp_path) -> None:
    import keras
    from keras import layers

    # Registered under a throwaway package name, as it would be in the program that made it.
    @keras.saving.register_keras_serializable(package="elsewhere")
    class LambdaScale(layers.Layer):
        def call(self, x):
            return x * 2.0

    inputs = keras.Input((4,))
    keras.Model(inputs, LambdaScale()(inputs)).save(tmp_path / "custom.keras")
    keras.saving.get_custom_objects().pop("elsewhere>LambdaScale")
    with pytest.raises(ModelFileError) as err:
        load_model_safely(tmp_path / "custom.keras")
    message = str(err.value)
    assert message.startswith(
        "'custom.keras' uses a custom layer or function that is not part of Keras "
        "(Could not locate class 'LambdaScale'."
    )
    assert "Lambda layer" not in message


def test_a_model_calling_a_non_modeling_keras_function_is_refused_for_that(tmp_path) -> None:
    import json
    import zipfile

    import keras
    from keras import layers

    inputs = keras.Input((4,))
    keras.Model(inputs, layers.Dense(2, activation="relu")(inputs)).save(tmp_path / "ok.keras")
    with zipfile.ZipFile(tmp_path / "ok.keras") as z:
        members = {n: z.read(n) for n in z.namelist()}
    config = json.loads(members["config.json"])
    config["config"]["layers"][1]["config"]["activation"] = {
        "module": "keras.config",
        "class_name": "function",
        "config": "enable_unsafe_deserialization",
        "registered_name": "function",
    }
    members["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(tmp_path / "sneaky.keras", "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    with pytest.raises(ModelFileError) as err:
        load_model_safely(tmp_path / "sneaky.keras")
    assert str(err.value) == (
        "Refused to load 'sneaky.keras': it calls keras.config.enable_unsafe_deserialization, "
        "which is not part of a model; a model file has no reason to do that."
    )


# Written and reloaded by separate Python processes, so the payload (a lambda that writes
# the marker file) is real marshalled code inside the .h5, not a function of this test.
_MAKE_EVIL_H5 = """
import os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import keras
from keras import layers
marker = sys.argv[2]
payload = lambda t: (__import__("pathlib").Path(MARKER).write_text("ran"), t)[1]
inputs = keras.Input((4,))
x = layers.Lambda(payload)(inputs)
keras.Model(inputs, layers.Dense(2)(x)).save(sys.argv[1])
os.remove(marker)  # the payload ran once while the model was built here
"""
_LOAD_UNSAFELY = """
import os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import keras
keras.models.load_model(sys.argv[1], safe_mode=False)
"""


def _python(code: str, *args: str) -> None:
    subprocess.run([sys.executable, "-c", code, *args], check=True, capture_output=True)


@pytest.fixture(scope="module")
def evil_h5(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("evil")
    path, marker = folder / "evil.h5", folder / "payload-ran"
    _python(
        textwrap.dedent(_MAKE_EVIL_H5).replace("MARKER", repr(str(marker))), str(path), str(marker)
    )
    assert path.is_file() and not marker.exists()
    return path, marker


def test_the_h5_payload_is_real_code_that_runs_when_loaded_unsafely(evil_h5) -> None:
    path, marker = evil_h5
    copy = path.with_name("control.h5")
    copy.write_bytes(path.read_bytes())
    control_marker = marker.with_name("payload-ran")
    _python(textwrap.dedent(_LOAD_UNSAFELY), str(copy))
    assert control_marker.read_text() == "ran"  # this is what the app must never do
    control_marker.unlink()


@pytest.mark.parametrize("name", ["evil.h5", "evil.hdf5", "evil.H5", "renamed.keras"])
def test_a_full_model_h5_is_refused_and_its_payload_never_runs(evil_h5, tmp_path, name) -> None:
    path, marker = evil_h5
    given = tmp_path / name
    given.write_bytes(path.read_bytes())
    with pytest.raises(ModelFileError) as err:
        load_model_safely(given)
    assert str(err.value) == (
        f"Refused to load '{name}': legacy .h5 model files are not opened, because "
        "rebuilding one can run code stored in it. Open the model in the program that "
        "made it and save it again as .keras (model.save('model.keras')), then use that file."
    )
    assert not marker.exists()


def test_the_cli_refuses_an_h5_model_for_predict_and_as_a_backbone(evil_h5, tmp_path) -> None:
    from conftest import write_class_images

    from tlcore.cli import main

    path, marker = evil_h5
    image = write_class_images(tmp_path / "data", per_class=1) / "red" / "red_000.jpg"
    assert main(["predict", str(path), str(image)]) == 2
    args = ["train", str(tmp_path / "data"), "--backbone", "keras_file", "--weights", str(path)]
    assert main([*args, "--epochs", "1", "--image-size", "32"]) == 2
    assert not marker.exists()


def test_weights_only_h5_files_hold_no_model_config(tmp_path) -> None:
    import h5py
    from keras.src.legacy.saving import legacy_h5_format

    model = _conv_model()
    model.save_weights(tmp_path / "keras3.weights.h5")
    with h5py.File(tmp_path / "legacy.h5", "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, model)
    for name in ("keras3.weights.h5", "legacy.h5"):
        with h5py.File(tmp_path / name, "r") as f:
            assert "model_config" not in f.attrs  # nothing to rebuild, so no code to run
    model.load_weights(tmp_path / "legacy.h5")  # the path tlcore.models.weights uses


def test_unusable_files_are_model_file_errors(tmp_path) -> None:
    with pytest.raises(ModelFileError, match="does not exist"):
        load_model_safely(tmp_path / "missing.keras")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ModelFileError, match="not a Keras model file"):
        load_model_safely(tmp_path / "notes.txt")
    (tmp_path / "broken.keras").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ModelFileError, match=r"Could not read the model file 'broken\.keras'"):
        load_model_safely(tmp_path / "broken.keras")
    (tmp_path / "only.weights.h5").write_bytes(b"")
    with pytest.raises(ModelFileError, match=r"legacy \.h5 model files are not opened"):
        load_model_safely(tmp_path / "only.weights.h5")
