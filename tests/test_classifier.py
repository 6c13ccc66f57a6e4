"""The end-to-end classifier: exact layer names, preprocessing identical to Keras', saved
model loads with plain Keras in safe mode, BatchNorm frozen while fine-tuning."""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from tlcore.config import AugmentConfig, FreezeConfig, TrainConfig
from tlcore.errors import ConfigError
from tlcore.models.backbones import BACKBONES
from tlcore.models.classifier import (
    build_classifier,
    effective_weights,
    image_size_for,
    plan_summary,
    preprocess_layer,
)
from tlcore.models.freezing import param_counts

# keras.applications module holding each backbone's preprocess_input.
PREPROCESS_MODULES = {
    "mobilenet_v2": "mobilenet_v2",
    "mobilenet_v3_small": "mobilenet_v3",
    "mobilenet_v3_large": "mobilenet_v3",
    "efficientnet_b0": "efficientnet",
    "efficientnet_v2_b0": "efficientnet_v2",
    "resnet50": "resnet",
    "resnet50_v2": "resnet_v2",
    "vgg16": "vgg16",
    "xception": "xception",
    "inception_v3": "inception_v3",
    "densenet121": "densenet",
    "convnext_tiny": "convnext",
}


def _config(**changes) -> TrainConfig:
    base = TrainConfig(data="x", backbone="mobilenet_v2", weights="none", image_size=32)
    return base.replace(**changes)


def _pixels(n: int = 4, size: int = 32, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 255, (n, size, size, 3)).astype("float32")


def test_layers_have_the_contract_names_in_order() -> None:
    model = build_classifier(_config(), 3)
    assert [layer.name for layer in model.layers] == [
        "image",
        "preprocess",
        "backbone",
        "pool",
        "dropout",
        "predictions",
    ]
    model = build_classifier(_config(augment=AugmentConfig.of(flip_horizontal=1.0)), 5)
    assert [layer.name for layer in model.layers] == [
        "image",
        "augmentation",
        "preprocess",
        "backbone",
        "pool",
        "dropout",
        "predictions",
    ]
    assert model.input_shape == (None, 32, 32, 3) and model.output_shape == (None, 5)
    assert model.get_layer("backbone").output_shape == (None, 1, 1, 1280)


@pytest.mark.parametrize("key", sorted(PREPROCESS_MODULES))
def test_preprocessing_matches_keras_preprocess_input(key) -> None:
    import keras

    x = _pixels(2, 8)
    module = getattr(keras.applications, PREPROCESS_MODULES[key])
    expected = np.asarray(module.preprocess_input(x.copy()))
    got = np.asarray(preprocess_layer(BACKBONES[key].preprocess)(x))
    np.testing.assert_allclose(got, expected, atol=1e-4)


def test_small_cnn_sees_unit_range() -> None:
    x = _pixels(1, 8)
    np.testing.assert_allclose(np.asarray(preprocess_layer("unit")(x)), x / 255.0, atol=1e-6)


def test_saved_model_loads_with_plain_keras_in_safe_mode_and_predicts_the_same(tmp_path) -> None:
    config = _config(
        backbone="vgg16",
        augment=AugmentConfig.of(rotation=0.1, contrast=0.2),
        freeze=FreezeConfig(strategy="fine-tune"),
    )
    model = build_classifier(config, 3)
    x = _pixels()
    expected = model.predict(x, verbose=0)
    np.testing.assert_allclose(expected.sum(axis=1), 1.0, atol=1e-5)
    model.save(tmp_path / "model.keras")
    np.save(tmp_path / "x.npy", x)
    script = textwrap.dedent("""
        import json, sys, numpy as np, keras
        model = keras.models.load_model("model.keras", safe_mode=True)
        np.save("y.npy", model.predict(np.load("x.npy"), verbose=0))
        print(json.dumps({"tlcore": any(m.startswith("tlcore") for m in sys.modules),
                          "names": [layer.name for layer in model.layers]}))
    """)
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    info = json.loads(out.stdout.strip().splitlines()[-1])
    assert info["tlcore"] is False
    assert info["names"] == [
        "image",
        "augmentation",
        "preprocess",
        "backbone",
        "pool",
        "dropout",
        "predictions",
    ]
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), expected, atol=1e-6)


def _bn_and_conv(model):
    backbone = model.get_layer("backbone")
    bn = backbone.get_layer("conv5_block3_3_bn")
    conv = backbone.get_layer("conv5_block3_3_conv")
    return bn, conv


@pytest.mark.parametrize("train_bn", [False, True])
def test_batchnorm_stays_frozen_while_its_block_fine_tunes(train_bn) -> None:
    import keras

    keras.utils.set_random_seed(0)
    # ResNet50: its residual adds carry the signal through random weights (in a random
    # MobileNetV2 it vanishes, so nothing would learn); the small CNN has no BatchNorm.
    freeze = FreezeConfig(strategy="fine-tune", train_batchnorm=train_bn)  # conv5_block3
    model = build_classifier(_config(backbone="resnet50", freeze=freeze), 3)
    bn, conv = _bn_and_conv(model)
    before = [np.array(w) for w in (bn.moving_mean, bn.gamma, conv.kernel)]
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    model.fit(_pixels(8), np.arange(8) % 3, epochs=1, batch_size=8, verbose=0)
    after = [np.array(w) for w in (bn.moving_mean, bn.gamma, conv.kernel)]
    assert not np.allclose(before[2], after[2])  # the unfrozen conv learned
    assert np.allclose(before[0], after[0]) != train_bn  # moving statistics
    assert np.allclose(before[1], after[1]) != train_bn  # scale


def test_scratch_forces_random_weights_and_small_cnn_has_none() -> None:
    assert (
        effective_weights(_config(weights="imagenet", freeze=FreezeConfig(strategy="scratch")))
        == "none"
    )
    assert effective_weights(_config(backbone="small_cnn", weights="imagenet")) == "none"
    assert effective_weights(_config(weights="imagenet")) == "imagenet"
    with pytest.raises(ConfigError, match="From scratch"):
        effective_weights(
            _config(backbone="my_model", weights="run:x", freeze=FreezeConfig(strategy="scratch"))
        )


def test_image_size_defaults_to_the_backbone() -> None:
    assert image_size_for(_config(image_size=None)) == 224
    assert image_size_for(_config(backbone="xception", image_size=None)) == 299
    assert image_size_for(_config(image_size=64)) == 64


def test_invalid_requests_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="at least 2 classes"):
        build_classifier(_config(), 1)
    with pytest.raises(ConfigError, match="at least 75 px"):
        build_classifier(_config(backbone="inception_v3", image_size=64), 3)
    with pytest.raises(ConfigError, match="Unknown backbone 'resnet9'"):
        build_classifier(_config(backbone="resnet9"), 3)


def test_plan_summary_counts_the_whole_classifier_without_downloading(monkeypatch) -> None:
    monkeypatch.setenv("TRANSFERLAB_WEIGHTS_BASE_URL", "http://127.0.0.1:9/")  # unreachable
    config = _config(weights="imagenet", freeze=FreezeConfig(strategy="fine-tune", unfreeze_top=3))
    plan = plan_summary(config, num_classes=4)
    model = build_classifier(config.replace(weights="none"), 4)
    assert (plan.trainable_params, plan.non_trainable_params) == param_counts(model)
    assert plan.trainable_params == 1280 * 4 + 4 + 320 * 1280  # head + Conv_1 (BN stays)
    assert plan.weights == "imagenet" and plan.image_size == 32 and len(plan.layers) == 154
    assert [li.name for li in plan.layers if li.trainable] == ["Conv_1", "out_relu"]
    assert plan.to_dict()["layers"][0]["block"] == "stem"


def test_one_of_my_models_trains_at_the_size_its_run_trained_at(tmp_path) -> None:
    from tlcore.models.my_models import run_image_size
    from tlcore.runs import run_files, store

    sized_config = _config(backbone="small_cnn", image_size=40)
    sized = store.create_run(sized_config).run_id
    # A run starts only from one with a saved model (checked as the run is created).
    build_classifier(sized_config, 2).save(run_files.run_path(sized) / "model.keras")
    default = store.create_run(_config(backbone="small_cnn", image_size=None)).run_id
    again = store.create_run(
        _config(backbone="my_model", weights=f"run:{sized}", image_size=None)
    ).run_id
    assert run_image_size(sized) == 40
    assert run_image_size(default) == 96  # the Small CNN's own default
    assert run_image_size(again) == 40  # started from the 40 px run: 40 px too
    assert (
        image_size_for(_config(backbone="my_model", weights=f"run:{again}", image_size=None)) == 40
    )
