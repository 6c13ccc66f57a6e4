"""Grad-CAM over the backbone's last feature map, found automatically."""

import numpy as np

from tlcore.config import FreezeConfig, TrainConfig
from tlcore.models.classifier import build_classifier
from tlcore.results.gradcam import _feature_layer_index, colormap, gradcam, overlay


def _model() -> object:
    config = TrainConfig(
        data="-", backbone="small_cnn", weights="none", image_size=32, freeze=FreezeConfig("full")
    )
    return build_classifier(config, 3)


def test_heatmap_is_image_sized_normalised_and_depends_on_the_class() -> None:
    model = _model()
    assert model.layers[_feature_layer_index(model)].name == "backbone"
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)
    maps = [gradcam(model, image, class_index=c) for c in range(3)]
    for heat in maps:
        assert heat.shape == (32, 32) and heat.dtype == np.float32
        assert heat.min() >= 0.0 and heat.max() <= 1.0
    assert max(h.max() for h in maps) == 1.0
    assert not np.allclose(maps[0], maps[1])
    predicted = int(np.argmax(model.predict(image[None].astype("float32"), verbose=0)))
    np.testing.assert_allclose(gradcam(model, image), maps[predicted])


def test_overlay_blends_the_colour_map_over_the_image() -> None:
    image = np.full((4, 4, 3), 100, np.uint8)
    heat = np.linspace(0, 1, 16, dtype=np.float32).reshape(4, 4)
    assert np.array_equal(overlay(image, heat, 0.0), image)
    assert np.array_equal(overlay(image, heat, 1.0), colormap(heat))
    assert colormap(np.array([0.0, 1.0])).tolist() == [[0, 0, 127], [127, 0, 0]]
