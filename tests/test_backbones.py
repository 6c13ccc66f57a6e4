"""The backbone registry: TF-free import, every backbone builds and classifies, blocks are
parsed per family, "One of my models" and "A Keras model file" work offline."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tlcore.config import TrainConfig
from tlcore.errors import ConfigError, ModelFileError
from tlcore.models.backbone_models import build_backbone, file_input_size, small_cnn
from tlcore.models.backbones import BACKBONES, PREPROCESS_KINDS, get_backbone
from tlcore.models.classifier import build_classifier, image_size_for
from tlcore.models.freezing import layer_blocks
from tlcore.models.model_files import load_model_safely

ROOT = Path(__file__).resolve().parent.parent

STANDARD = [
    "efficientnet_lite0",
    "efficientnet_lite1",
    "efficientnet_lite2",
    "mobilenet_v2",
    "mobilenet_v3_small",
    "mobilenet_v3_large",
    "efficientnet_b0",
    "efficientnet_v2_b0",
    "resnet50",
    "resnet50_v2",
    "vgg16",
    "xception",
    "inception_v3",
    "densenet121",
    "convnext_tiny",
    "small_cnn",
]

# One layer per family and the block it must be listed under.
BLOCK_EXAMPLES = {
    "mobilenet_v2": ("block_13_expand", "block_13"),
    "mobilenet_v3_small": ("expanded_conv_3_expand", "block_3"),
    "mobilenet_v3_large": ("expanded_conv_14_add", "block_14"),
    "efficientnet_b0": ("block6d_add", "block6d"),
    "efficientnet_v2_b0": ("block6h_add", "block6h"),
    "efficientnet_lite0": ("block6d_add", "block6d"),
    "efficientnet_lite1": ("block6e_add", "block6e"),
    "efficientnet_lite2": ("top_conv", "top"),
    "resnet50": ("conv5_block3_out", "conv5_block3"),
    "resnet50_v2": ("conv4_block2_out", "conv4_block2"),
    "vgg16": ("block5_conv3", "block5"),
    "xception": ("block14_sepconv1", "block14"),
    "inception_v3": ("mixed7", "mixed7"),
    "densenet121": ("conv5_block16_concat", "conv5_block16"),
    "convnext_tiny": ("convnext_tiny_stage_2_block_1_depthwise_conv", "stage_2_block_1"),
    "small_cnn": ("block4_conv", "block4"),
}


def test_registry_modules_import_without_tensorflow() -> None:
    code = (
        "import sys, tlcore.models.backbones, tlcore.training.recipes, "
        "tlcore.models.freezing, tlcore.models.augment, tlcore.models.weights, "
        "tlcore.models.backbone_weights, "
        "tlcore.models.my_models, tlcore.models.model_files, tlcore.models.classifier, "
        "tlcore.cli.layers_cmd; "
        "print(any(m in sys.modules for m in ('tensorflow', 'keras')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"


def test_registry_specs_are_complete() -> None:
    assert list(BACKBONES) == [*STANDARD, "my_model", "keras_file"]
    for key, spec in BACKBONES.items():
        assert spec.key == key and spec.display_name and spec.description
        assert 16 <= spec.min_size <= spec.default_size
        assert spec.preprocess in (*PREPROCESS_KINDS, "from_run", "from_file")
        assert spec.pretrained == (key in STANDARD[:-1])
    assert BACKBONES["xception"].min_size == 71 and BACKBONES["inception_v3"].min_size == 75
    assert BACKBONES["my_model"].weights_hint == "run:<id>"
    with pytest.raises(ConfigError, match=r"Unknown backbone 'alexnet'.*mobilenet_v2"):
        get_backbone("alexnet")


@pytest.mark.parametrize("key", STANDARD)
def test_every_backbone_builds_small_and_classifies(key) -> None:
    size = BACKBONES[key].min_size
    model = build_classifier(
        TrainConfig(data="x", backbone=key, weights="none", image_size=size), 3
    )
    x = np.random.default_rng(0).uniform(0, 255, (2, size, size, 3)).astype("float32")
    probs = model.predict(x, verbose=0)
    assert probs.shape == (2, 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    backbone = model.get_layer("backbone")
    assert len(backbone.output_shape) == 4
    blocks = dict(
        zip([layer.name for layer in backbone.layers], layer_blocks(backbone), strict=True)
    )
    layer, block = BLOCK_EXAMPLES[key]
    assert blocks[layer] == block
    assert layer_blocks(backbone)[0] == "stem"


def test_layer_names_are_the_same_in_every_build() -> None:
    first = [layer.name for layer in build_backbone("inception_v3", 75).layers]
    second = [layer.name for layer in build_backbone("inception_v3", 75).layers]
    assert first == second and "conv2d" in first and "activation_93" in first


def test_image_below_the_minimum_is_refused() -> None:
    with pytest.raises(ConfigError, match="Xception needs images of at least 71 px"):
        build_backbone("xception", 64)


def _make_run(run_id: str, config: TrainConfig) -> object:
    from tlcore import workspace

    model = build_classifier(config, 3)
    folder = workspace.runs_dir() / run_id
    folder.mkdir(parents=True)
    model.save(folder / "model.keras")
    (folder / "spec.json").write_text(json.dumps({"config": config.to_dict()}))
    return model


def _features(model, x):
    preprocessed = model.get_layer("preprocess")(x)
    return np.asarray(model.get_layer("backbone")(preprocessed, training=False))


def test_my_model_reuses_an_earlier_runs_feature_part(tmp_path) -> None:
    earlier = _make_run(
        "r1", TrainConfig(data="x", backbone="mobilenet_v2", weights="none", image_size=32)
    )
    x = np.random.default_rng(1).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    model = build_classifier(TrainConfig(data="y", backbone="my_model", weights="run:r1"), 5)
    assert model.input_shape == (None, 32, 32, 3) and model.output_shape == (None, 5)
    assert [layer.name for layer in model.layers][1:3] == ["preprocess", "backbone"]
    np.testing.assert_allclose(_features(model, x), _features(earlier, x), atol=1e-6)
    # The pooled features are reachable from the new model's input (the fast path's cut).
    import keras

    pooled = keras.Model(model.inputs, model.get_layer("pool").output)
    np.testing.assert_allclose(
        np.asarray(pooled(x)), _features(earlier, x).mean(axis=(1, 2)), atol=1e-5
    )
    model.save(tmp_path / "again.keras")  # a model built on a run is itself a plain model
    reloaded = load_model_safely(tmp_path / "again.keras")
    np.testing.assert_allclose(
        reloaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6
    )
    # The same backbone key with weights run:<id> copies the weights into a fresh build.
    copied = build_backbone("mobilenet_v2", 32, "run:r1")
    for a, b in zip(copied.get_weights(), earlier.get_layer("backbone").get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_run_weights_need_the_same_backbone_and_an_existing_run() -> None:
    _make_run("r2", TrainConfig(data="x", backbone="small_cnn", weights="none", image_size=32))
    with pytest.raises(ConfigError, match="used the backbone 'small_cnn', not 'vgg16'"):
        build_backbone("vgg16", 32, "run:r2")
    with pytest.raises(ConfigError, match="There is no run 'nope'"):
        build_backbone("small_cnn", 32, "run:nope")
    with pytest.raises(ConfigError, match="trained on 32 px"):
        build_backbone("my_model", 64, "run:r2")
    with pytest.raises(ConfigError, match="run:<id>"):
        build_backbone("my_model", 64, "imagenet")


def test_keras_file_backbone_uses_the_convolutional_part(tmp_path) -> None:
    import keras
    from keras import layers

    inputs = keras.Input((32, 32, 3))
    x = layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)
    x = layers.MaxPooling2D()(x)
    x = layers.Conv2D(16, 3, padding="same", name="last_conv")(x)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(4, activation="softmax")(x)
    keras.Model(inputs, outputs).save(tmp_path / "mine.keras")
    model = build_classifier(
        TrainConfig(
            data="x", backbone="keras_file", image_size=32, weights=str(tmp_path / "mine.keras")
        ),
        2,
    )
    assert file_input_size(str(tmp_path / "mine.keras")) == 32
    assert (
        image_size_for(
            TrainConfig(data="x", backbone="keras_file", weights=str(tmp_path / "mine.keras"))
        )
        == 32
    )
    keras.Model(inputs, outputs).save(tmp_path / "mine.h5")
    assert file_input_size(str(tmp_path / "mine.h5")) == 32
    backbone = model.get_layer("backbone")
    assert backbone.layers[-1].name == "last_conv"
    assert backbone.output_shape == (None, 16, 16, 16)
    with pytest.raises(ConfigError, match="takes 32x32 px images; set the image size to 32"):
        build_backbone("keras_file", 64, str(tmp_path / "mine.keras"))
    with pytest.raises(ConfigError, match="needs the path"):
        build_backbone("keras_file", 32, "imagenet")


def test_keras_file_with_a_nested_pretrained_model_cuts_after_it(tmp_path) -> None:
    import keras
    from keras import layers

    # The TensorFlow tutorial's model: rescaling -> MobileNetV2 (nested) -> pool -> dense.
    base = keras.applications.MobileNetV2(input_shape=(32, 32, 3), include_top=False, weights=None)
    inputs = keras.Input((32, 32, 3))
    x = layers.Rescaling(1 / 127.5, offset=-1)(inputs)
    x = base(x, training=False)
    x = layers.GlobalAveragePooling2D()(x)
    keras.Model(inputs, layers.Dense(2)(x)).save(tmp_path / "tutorial.keras")
    backbone = build_backbone("keras_file", 32, str(tmp_path / "tutorial.keras"))
    assert [type(layer).__name__ for layer in backbone.layers] == [
        "InputLayer",
        "Rescaling",
        "Functional",
    ]
    assert backbone.output_shape == (None, 1, 1, 1280)


def test_keras_file_without_a_feature_map_is_refused(tmp_path) -> None:
    import keras

    dense = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    dense.save(tmp_path / "dense.keras")
    with pytest.raises(ModelFileError, match=r"^'dense.keras' takes a vector of 4 numbers, not"):
        build_backbone("keras_file", 32, str(tmp_path / "dense.keras"))


def test_small_cnn_is_small() -> None:
    assert 50_000 < small_cnn(32).count_params() < 400_000


def test_lite_imagenet_backbone_comes_from_the_wheel_and_is_cached() -> None:
    from tlcore import workspace
    from tlcore.models.lite_wheels import cached_model_path

    config = TrainConfig(data="x", backbone="efficientnet_lite0", weights="imagenet")
    model = build_classifier(config, 3)
    backbone = model.get_layer("backbone")
    assert model.get_layer("preprocess").get_config()["scale"] == 1 / 128
    assert backbone.input_shape == (None, 224, 224, 3)
    assert cached_model_path("efficientnet_lite0", 224, workspace.cache_dir("weights")).is_file()
    again = build_backbone("efficientnet_lite0", 224, "imagenet")
    x = np.random.default_rng(0).uniform(-1, 1, (1, 224, 224, 3)).astype("float32")
    np.testing.assert_allclose(
        again.predict(x, verbose=0), backbone.predict(x, verbose=0), atol=1e-5
    )


def test_lite0_imagenet_is_converted_once_with_progress(tiny_dataset: Path) -> None:
    from run_helpers import events_of, train_tiny

    def convert_steps(info) -> list[tuple[int, int]]:
        return [
            (e["done"], e["total"])
            for e in events_of(info)
            if e["type"] == "prepare" and e["stage"] == "convert"
        ]

    kwargs = {"backbone": "efficientnet_lite0", "weights": "imagenet", "epochs": 1}
    first = train_tiny(tiny_dataset, "feature-extraction", **kwargs)
    assert first.status == "finished"
    assert convert_steps(first) == [(0, 4), (1, 4), (2, 4), (3, 4), (4, 4)]
    second = train_tiny(tiny_dataset, "feature-extraction", **kwargs)
    assert second.status == "finished" and convert_steps(second) == []


def test_the_small_cnn_size_in_the_registry_is_its_real_size() -> None:
    # The Model page shows the registry's size beside the exact counts: they must agree.
    built = build_backbone("small_cnn", 32, weights="none").count_params()
    assert round(built / 1e6, 2) == BACKBONES["small_cnn"].params_millions
