"""View augmentation inside the model: a wrapped classifier pools the mean of the image's
and its mirror image's features, predicts with the head on that mean, stays one safe
Keras model that exports to TFLite with parity, explains with Grad-CAM, and serves its
plain backbone as 'one of my models'."""

from pathlib import Path

import numpy as np
import pytest
from run_helpers import tiny_config

from tlcore.config import FreezeConfig, SplitConfig, TrainConfig
from tlcore.models.classifier import build_classifier
from tlcore.models.mirrored_views import (
    flip_width,
    inner_backbone,
    is_mirrored,
    mirrored_views_backbone,
    with_mirrored_views,
)
from tlcore.models.model_files import load_model_safely

LAYERS = ["image", "preprocess", "backbone", "pool", "dropout", "predictions"]


def plain_classifier() -> object:
    config = TrainConfig(
        data="-", backbone="small_cnn", weights="none", image_size=32,
        freeze=FreezeConfig("feature-extraction"),
    )  # fmt: skip
    return build_classifier(config, 3)


def multilayer_classifier() -> object:
    from tlcore.models.multilayer_head import build_multilayer_classifier
    from tlcore.training.multilayer import tap_layers

    plain = plain_classifier()
    taps = tap_layers(plain.get_layer("backbone"))
    width = 128 + 32 + 64 + 128  # the last map's channels, then each tap's
    rng = np.random.default_rng(1)
    return build_multilayer_classifier(
        plain, taps, rng.normal(0, 1, width), rng.uniform(0.5, 2, width)
    )


def images(n: int = 4, seed: int = 0) -> np.ndarray:
    """Random pixels: nothing in them is left-right symmetric."""
    return np.random.default_rng(seed).uniform(0, 255, (n, 32, 32, 3)).astype(np.float32)


def pooled(model: object, x: np.ndarray) -> np.ndarray:
    """The features the head reads (the top-level layers form a chain)."""
    for name in ("preprocess", "backbone", "pool"):
        x = model.get_layer(name)(x, training=False)
    return np.asarray(x)


def test_flip_width_mirrors_exactly_and_adds_no_trainable_weights() -> None:
    x = np.random.default_rng(0).normal(0, 1e3, (2, 5, 7, 3)).astype(np.float32)
    flip = flip_width(x.shape, "flip")
    assert np.array_equal(np.asarray(flip(x)), np.flip(x, 2))
    assert flip.trainable_weights == [] and flip.name == "flip"
    assert np.array_equal(np.asarray(flip_width((5, 7, 3), "again")(x)), np.flip(x, 2))


@pytest.mark.parametrize("build", [plain_classifier, multilayer_classifier])
def test_the_head_reads_the_mean_of_both_views_features(build) -> None:
    plain = build()
    model = with_mirrored_views(plain)
    assert [layer.name for layer in model.layers] == LAYERS
    for name in ("preprocess", "pool", "dropout", "predictions"):
        assert model.get_layer(name) is plain.get_layer(name)  # shared, not copied
    wrapper = model.get_layer("backbone")
    assert is_mirrored(wrapper) and not is_mirrored(plain.get_layer("backbone"))
    assert inner_backbone(wrapper) is plain.get_layer("backbone")
    assert len(wrapper.outputs) == len(plain.get_layer("backbone").outputs)
    assert model.count_params() == plain.count_params() + sum(
        w.shape[0] * w.shape[1] for w in wrapper.non_trainable_weights if "reverse" in w.path
    )
    assert [w.path for w in model.trainable_weights] == [w.path for w in plain.trainable_weights]
    x = images()
    mean = (pooled(plain, x) + pooled(plain, np.flip(x, 2))) / 2
    assert not np.allclose(pooled(plain, x), mean, atol=1e-3)  # the views do differ
    np.testing.assert_allclose(pooled(model, x), mean, atol=1e-5)
    head = np.asarray(plain.get_layer("predictions")(mean))
    np.testing.assert_allclose(model.predict(x, verbose=0), head, atol=1e-5)
    assert with_mirrored_views(model) is model


def test_a_wrapped_multi_output_backbone_keeps_its_outputs_in_order() -> None:
    backbone = multilayer_classifier().get_layer("backbone")
    wrapper = mirrored_views_backbone(backbone)
    assert wrapper.name == "backbone"
    assert [tuple(t.shape) for t in wrapper.outputs] == [tuple(t.shape) for t in backbone.outputs]
    x = images(2) / 127.5 - 1
    plain, mirror = backbone(x), backbone(np.flip(x, 2))
    for got, a, b in zip(wrapper(x), plain, mirror, strict=True):
        np.testing.assert_allclose(np.asarray(got), (a + np.flip(b, 2)) / 2, atol=1e-5)


def test_saved_wrapped_model_loads_in_safe_mode_and_predicts_the_same(tmp_path: Path) -> None:
    model = with_mirrored_views(multilayer_classifier())
    model.save(tmp_path / "model.keras")
    loaded = load_model_safely(tmp_path / "model.keras")
    assert [layer.name for layer in loaded.layers] == LAYERS
    assert is_mirrored(loaded.get_layer("backbone"))
    x = images()
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)


def test_gradcam_of_a_wrapped_model_lines_up_with_the_image() -> None:
    import keras

    from tlcore.results.gradcam import gradcam

    keras.utils.set_random_seed(0)  # backbone weights under which some class map is not zero
    model = with_mirrored_views(plain_classifier())
    image = images(1)[0].astype(np.uint8)
    # Each class: with random weights a class's map can be all zero (nothing positive).
    maps = [gradcam(model, image, class_index=c) for c in range(3)]
    for c, heat in enumerate(maps):
        assert heat.shape == (32, 32) and np.isfinite(heat).all()
        assert heat.min() >= 0.0 and heat.max() <= 1.0
        # Both views are averaged in the image's frame: mirroring the image mirrors the map.
        mirrored = gradcam(model, np.flip(image, 1).copy(), class_index=c)
        np.testing.assert_allclose(mirrored, np.flip(heat, 1), atol=1e-4)
    assert max(heat.max() for heat in maps) == 1.0


def test_a_wrapped_run_exports_to_tflite_and_is_one_of_my_models(tiny_dataset: Path) -> None:
    from tlcore.models.my_models import run_feature_layers
    from tlcore.results.export import export_run
    from tlcore.runs import store
    from tlcore.runs.job import train

    config = tiny_config(
        tiny_dataset, "feature-extraction", solve_head=True, head_features="multi",
        split=SplitConfig(val_fraction=0.0, test_fraction=0.25),
    )  # fmt: skip
    info = train(config, store.create_run(config).path)
    assert info.status == "finished", info.error
    plain = load_model_safely(info.path / "model.keras")
    with_mirrored_views(plain).save(info.path / "model.keras")

    result = export_run(info.path, "tflite")
    assert result.n_images == 9 and result.agreement == 1.0

    _, backbone = run_feature_layers(info.run_id)
    assert not is_mirrored(backbone)
    assert len(backbone.outputs) == 1 and tuple(backbone.output.shape) == (None, 4, 4, 128)
    inner = inner_backbone(load_model_safely(info.path / "model.keras").get_layer("backbone"))
    for got, saved in zip(backbone.get_weights(), inner.get_weights(), strict=True):
        assert np.array_equal(got, saved)
