"""The fast path: cached frozen-layer outputs, same model as the slow path."""

from pathlib import Path

import numpy as np
import pytest
from run_helpers import events_of, train_tiny

from tlcore import workspace
from tlcore.config import FreezeConfig
from tlcore.data.pipeline import load_arrays
from tlcore.models.backbone_models import build_backbone
from tlcore.models.freezing import apply_freeze
from tlcore.models.model_files import load_model_safely
from tlcore.runs import run_files, run_info
from tlcore.training.features import backbone_cut_index, cache_path, plan_cut


def _test_images(info: run_info.RunInfo) -> tuple[np.ndarray, list[str]]:
    split = run_files.read_split(info.run_id)
    images, _ = load_arrays(split.test, list(split.classes), 32, "pad")
    return np.asarray(images), [i.path for i in split.test]


def test_saved_model_equals_the_head_on_the_cached_features(tiny_dataset: Path) -> None:
    info = train_tiny(tiny_dataset, "feature-extraction")
    assert info.status == "finished"
    model = load_model_safely(info.path / "model.keras")
    cut = plan_cut(info.config, model)
    assert cut.name == "pool"
    images, paths = _test_images(info)
    cached = cache_path(paths, cut.digest, 32, "pad")
    assert cached.is_file()  # the key from the saved weights = the key used in training
    head_probs = cut.trainable.predict(np.load(cached), verbose=0)
    np.testing.assert_allclose(
        model.predict(images.astype("float32"), verbose=0), head_probs, atol=1e-5
    )


@pytest.mark.parametrize(
    ("strategy", "cut"), [("feature-extraction", "pool"), ("fine-tune", "block3_pool")]
)
def test_fast_path_trains_the_same_model_as_the_slow_path(
    tiny_dataset: Path, strategy: str, cut: str
) -> None:
    fast = train_tiny(tiny_dataset, strategy, dropout=0.3)
    split = run_files.read_split(fast.run_id)
    slow = train_tiny(tiny_dataset, strategy, fast_path=False, split=split, dropout=0.3)
    assert [e["fast_path"] for e in events_of(fast) if e["type"] == "phase"] == [cut]
    assert [e["fast_path"] for e in events_of(slow) if e["type"] == "phase"] == [None]

    def curve(info: run_info.RunInfo) -> list[float]:
        return [e["val_loss"] for e in events_of(info) if e["type"] == "epoch"]

    np.testing.assert_allclose(curve(fast), curve(slow), rtol=1e-4)
    images, _ = _test_images(fast)
    x = images.astype("float32")
    a = load_model_safely(fast.path / "model.keras").predict(x, verbose=0)
    b = load_model_safely(slow.path / "model.keras").predict(x, verbose=0)
    np.testing.assert_allclose(a, b, atol=1e-4)


def test_features_are_computed_once_and_reused_by_the_next_run(tiny_dataset: Path) -> None:
    first = train_tiny(tiny_dataset, "feature-extraction", epochs=1)
    folder = workspace.cache_dir("features")
    before = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    assert len(before) == 3  # train, val, test
    second = train_tiny(
        tiny_dataset,
        "feature-extraction",
        epochs=1,
        dropout=0.5,
        split=run_files.read_split(first.run_id),
    )
    assert second.status == "finished"
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == before


@pytest.mark.parametrize(
    ("key", "freeze", "cut", "first_trainable"),
    [
        ("vgg16", FreezeConfig("fine-tune", unfreeze_top=4), "block4_pool", "block5_conv1"),
        ("small_cnn", FreezeConfig("fine-tune"), "block3_pool", "block4_conv"),
        # residual blocks: no cut inside block_14 (its input skips to block_14_add)
        (
            "mobilenet_v2",
            FreezeConfig("fine-tune", unfreeze_from="block_15_expand"),
            "block_14_add",
            "block_15_expand",
        ),
        (
            "mobilenet_v2",
            FreezeConfig("fine-tune", unfreeze_from="block_14_expand"),
            "block_13_project_BN",
            "block_14_expand",
        ),
    ],
)
def test_cut_is_the_deepest_single_tensor_below_the_first_trainable_layer(
    key: str, freeze: FreezeConfig, cut: str, first_trainable: str
) -> None:
    backbone = build_backbone(key, 32, "none")
    apply_freeze(backbone, freeze)
    j = backbone_cut_index(backbone)
    assert backbone.layers[j].name == cut
    assert backbone.layers[j + 1].name == first_trainable


def test_no_cut_where_the_cached_tensor_would_be_larger_than_the_image() -> None:
    from tlcore.config import TrainConfig
    from tlcore.models.classifier import build_classifier

    frozen = ("block1_conv", "block1_norm", "block2_conv", "block2_norm")
    config = TrainConfig(
        data="-",
        backbone="small_cnn",
        weights="none",
        image_size=32,
        freeze=FreezeConfig("custom", frozen_layers=frozen),
    )
    model = build_classifier(config, 3)
    assert backbone_cut_index(model.get_layer("backbone")) == 8  # block2_pool: 8x8x64
    assert plan_cut(config, model) is None  # 4,096 values > 32x32x3 = 3,072 pixels


def test_nothing_frozen_means_no_cut() -> None:
    backbone = build_backbone("small_cnn", 32, "none")
    apply_freeze(backbone, FreezeConfig("full"))
    assert backbone_cut_index(backbone) is None


def _any_size_model_file(path: Path) -> Path:
    """A user's Keras model that takes images of any size (input (None, None, 3))."""
    import keras
    from keras import layers

    inputs = keras.Input((None, None, 3))
    x = layers.Rescaling(1 / 255.0)(inputs)
    x = layers.Conv2D(8, 3, strides=2, padding="same", activation="relu", name="c1")(x)
    x = layers.Conv2D(8, 3, padding="same", activation="relu", name="c2")(x)
    x = layers.GlobalAveragePooling2D()(x)
    keras.Model(inputs, layers.Dense(3, activation="softmax")(x)).save(path)
    return path


@pytest.mark.parametrize(
    "freeze, two_phase",
    [
        (FreezeConfig(strategy="fine-tune", unfreeze_top=1), False),
        (FreezeConfig(strategy="full"), False),
        (FreezeConfig(strategy="custom", frozen_layers=("c1",)), False),
        (FreezeConfig(strategy="fine-tune", unfreeze_top=1), True),
    ],
)
def test_an_any_size_model_file_trains_with_every_strategy(
    tiny_dataset: Path, tmp_path: Path, freeze: FreezeConfig, two_phase: bool
) -> None:
    model_file = _any_size_model_file(tmp_path / "any_size.keras")
    info = train_tiny(
        tiny_dataset,
        backbone="keras_file",
        weights=str(model_file),
        freeze=freeze,
        two_phase=two_phase,
        head_epochs=1,
    )
    assert info.status == "finished", run_files.read_status(info.path).get("error")


def test_files_named_with_bytes_that_are_not_utf8_have_a_cache_key(tmp_path: Path) -> None:
    import os

    from tlcore.training.features import items_digest

    odd = os.fsencode(tmp_path) + b"/r\xe9d.png"
    Path(os.fsdecode(odd)).write_bytes(b"x")
    paths = [os.fsdecode(odd)]
    assert cache_path(paths, "w", 32, "pad") == cache_path(paths, "w", 32, "pad")
    assert items_digest(paths) != items_digest([str(tmp_path / "red.png")])
