"""Augmentation: parsing, layers that act only in training, the preview grid."""

import numpy as np
import pytest

from tlcore.config import AugmentConfig
from tlcore.errors import ConfigError
from tlcore.models.augment import (
    AUGMENTATIONS,
    build_augmentation,
    format_augment,
    parse_augment,
    preview_augmentation,
)


def _images(n: int = 4, size: int = 16) -> np.ndarray:
    # Asymmetric content so that every flip, turn and shift shows.
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (n, size, size, 3)).astype(np.uint8)


def test_registry_has_the_seven_toggles_with_defaults() -> None:
    assert list(AUGMENTATIONS) == [
        "flip_horizontal",
        "flip_vertical",
        "rotation",
        "zoom",
        "translation",
        "contrast",
        "brightness",
    ]
    assert all(a.display_name and 0 < a.default_strength <= 1 for a in AUGMENTATIONS.values())


def test_parse_names_aliases_and_strengths() -> None:
    assert parse_augment("flip,rotate=0.1,zoom") == AugmentConfig.of(
        flip_horizontal=1.0, rotation=0.1, zoom=0.1
    )
    assert parse_augment(" vflip , brightness=0.3,shift") == AugmentConfig.of(
        flip_vertical=1.0, brightness=0.3, translation=0.1
    )
    assert parse_augment("") == AugmentConfig() and parse_augment("none") == AugmentConfig()
    cfg = parse_augment("contrast=0.25,flip")
    assert parse_augment(format_augment(cfg)) == cfg


@pytest.mark.parametrize(
    "text, message",
    [
        ("blur", "Unknown augmentation 'blur'"),
        ("rotate=lots", "must be a number"),
        ("zoom=1.5", "between 0 and 1"),
    ],
)
def test_parse_errors_are_config_errors(text, message) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_augment(text)


def test_nothing_enabled_builds_nothing() -> None:
    assert build_augmentation(AugmentConfig()) is None
    assert build_augmentation(AugmentConfig.of(rotation=0.0)) is None


@pytest.mark.parametrize("key", list(AUGMENTATIONS))
def test_each_op_changes_images_in_training_and_is_identity_at_inference(key) -> None:
    layer = build_augmentation(AugmentConfig.of(**{key: 0.3}), seed=3)
    assert layer.name == "augmentation"
    x = _images(8).astype("float32")
    trained = np.asarray(layer(x, training=True))
    assert trained.shape == x.shape
    assert not np.allclose(trained, x)
    np.testing.assert_array_equal(np.asarray(layer(x, training=False)), x)


def test_preview_grid_shape_variety_and_repeatability() -> None:
    images = _images(3)
    cfg = parse_augment("flip,rotate=0.2,zoom=0.2,contrast=0.3")
    grid = preview_augmentation(images, cfg, n=4, seed=7)
    assert grid.shape == (3, 4, 16, 16, 3) and grid.dtype == np.uint8
    assert not np.array_equal(grid[:, 0], grid[:, 1])
    np.testing.assert_array_equal(grid, preview_augmentation(images, cfg, n=4, seed=7))
    same = preview_augmentation(images, AugmentConfig(), n=2)
    np.testing.assert_array_equal(same, np.stack([images, images], axis=1))
    with pytest.raises(ConfigError, match=r"\(N, S, S, 3\)"):
        preview_augmentation(images[0], cfg)
