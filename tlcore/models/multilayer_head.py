"""The classifier on multi-layer features, still one end-to-end model from raw pixels.

Same top-level layers, by the same names, as ``tlcore.models.classifier`` builds:
``image`` -> ``preprocess`` -> ``backbone`` -> ``pool`` -> ``dropout`` -> ``predictions``,
except that

- ``backbone`` is the same network (the same layer objects, so the same weights) with
  several outputs: its last feature map first, then the maps of the tapped layers;
- ``pool`` is a small nested model taking that list: global average pooling of each map,
  concatenation, then a ``Normalization`` layer holding the per-feature shift and scale
  the head was solved with (``tlcore.training.multilayer.group_scaling``), and for a
  nearest-class-mean head a ``UnitNormalization``;
- ``predictions`` is as wide as the pooled features.

Only built-in Keras layers, so it loads with ``safe_mode=True``; Grad-CAM reads the first
output of ``backbone`` (the last feature map), "one of my models" takes the backbone's
first output as its feature part.
"""

from typing import Any

import numpy as np


def multi_output_backbone(backbone: Any, taps: list[str]) -> Any:
    """``backbone`` with the outputs of ``taps`` after its own (the same layers)."""
    import keras

    outputs = [backbone.outputs[0]] + [backbone.get_layer(n).output for n in taps]
    return keras.Model(backbone.inputs, outputs, name="backbone")


def pooling_part(
    shapes: list[tuple], mean: np.ndarray, scale: np.ndarray, unit_length: bool = False
) -> Any:
    """Feature maps -> pooled, concatenated, shifted and scaled features (the ``pool``);
    with ``unit_length``, then scaled to length 1 (for a nearest-class-mean head,
    ``tlcore.training.nearest_mean``)."""
    import keras
    from keras import layers

    inputs = [keras.Input(s, name=f"map_{i}") for i, s in enumerate(shapes)]
    pooled = [layers.GlobalAveragePooling2D(name=f"gap_{i}")(m) for i, m in enumerate(inputs)]
    x = layers.Concatenate(name="features")(pooled)
    norm = layers.Normalization(
        mean=np.asarray(mean, np.float32).tolist(),
        variance=(np.asarray(scale, np.float64) ** 2).astype(np.float32).tolist(),
        name="group_scaling",
    )
    x = norm(x)
    if unit_length:
        x = layers.UnitNormalization(name="unit_length")(x)
    return keras.Model(inputs, x, name="pool")


def build_multilayer_classifier(
    classifier: Any,
    taps: list[str],
    mean: np.ndarray,
    scale: np.ndarray,
    seed: int = 0,
    unit_length: bool = False,
) -> Any:
    """A classifier reading the tapped layers too, sharing ``classifier``'s layers.

    Args:
        classifier: a model from ``tlcore.models.classifier.build_classifier``.
        taps: backbone layer names pooled beside the last layer.
        mean, scale: per-feature shift and scale of the pooled features (last layer's
            first, then each tap's, in ``taps`` order).
        seed: seeds the new Dense layer's initial weights (the solved head replaces them).
        unit_length: the pooled, scaled features are then scaled to length 1.
    """
    import keras
    from keras import layers

    backbone = multi_output_backbone(classifier.get_layer("backbone"), taps)
    names = [layer.name for layer in classifier.layers]
    inputs = keras.Input(classifier.inputs[0].shape[1:], dtype="float32", name="image")
    x = inputs
    for name in names[1 : names.index("backbone")]:
        x = classifier.get_layer(name)(x)
    maps = backbone(x, training=False)
    pool = pooling_part([tuple(m.shape[1:]) for m in maps], mean, scale, unit_length)
    x = pool(maps)
    rate = float(classifier.get_layer("dropout").rate)
    x = layers.Dropout(rate, seed=seed, name="dropout")(x)
    width = int(classifier.get_layer("predictions").units)
    outputs = layers.Dense(
        width,
        activation="softmax",
        name="predictions",
        kernel_initializer=keras.initializers.GlorotUniform(seed),
    )(x)
    return keras.Model(inputs, outputs, name=classifier.name)
