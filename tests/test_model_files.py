"""Safe loading of model files: Lambda layers refused with a clear message."""

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


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_a_model_with_a_lambda_layer_is_refused(tmp_path, suffix) -> None:
    path = tmp_path / f"evil{suffix}"
    _conv_model(extra_lambda=True).save(path)
    with pytest.raises(ModelFileError) as err:
        load_model_safely(path)
    message = str(err.value)
    assert message.startswith(f"Refused to load 'evil{suffix}': it contains a Lambda layer")
    assert "built-in Keras layers" in message


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
    with pytest.raises(ModelFileError, match="not a Keras model file"):
        load_model_safely(tmp_path / "only.weights.h5")
