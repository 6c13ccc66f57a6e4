"""View augmentation inside the model: the backbone sees the image and its mirror image.

``mirrored_views_backbone(inner)`` is a model named ``backbone`` with ``inner``'s input
and outputs, each output being ``(inner(x) + mirror(inner(mirror(x)))) / 2``: the mirror
image's feature maps are flipped back, so both views line up with the image before they
are averaged. Global average pooling ignores where a value sits, so the pooled features
are exactly the mean of the two views' pooled features; Grad-CAM's map (the first
output) lines up with the image.

Its layers, by name: the input, ``mirror_image`` (flips the image), ``inner`` under its
own name (called twice, same weights), ``mirror_map_<i>`` (flips output ``i`` back) and
``views_<i>`` (``Average``). ``inner_backbone`` finds ``inner`` again: the one nested
model whose name does not start with ``mirror_``.

The mirror is built-in layers only, so the saved classifier still loads with
``safe_mode=True`` and converts to TFLite: ``Permute`` puts the width last, a bias-free
``Dense`` whose kernel is the exchange matrix reverses it (0/1 weights: exact in float32),
``Permute`` puts it back. Its kernel is a non-trainable weight; freezing plans must be
applied to ``inner_backbone(...)``, not to the wrapper (``backbone.trainable = True``
would make the mirrors' kernels trainable too).
"""

from typing import Any

import numpy as np

MIRROR_PREFIX = "mirror_"
IMAGE_MIRROR = "mirror_image"


def flip_width(shape: tuple, name: str) -> Any:
    """A model mirroring a (B, H, W, C) tensor left-right, exactly, with no trainable weights.

    Args:
        shape: the tensor's shape, with or without the batch axis ((B, H, W, C) or
            (H, W, C)); H, W and C must be known.
        name: the model's name.
    """
    import keras
    from keras import layers

    height, width, channels = (int(d) for d in tuple(shape)[-3:])
    inputs = keras.Input((height, width, channels), name=f"{name}_in")
    x = layers.Permute((1, 3, 2), name=f"{name}_width_last")(inputs)
    reverse = layers.Dense(width, use_bias=False, trainable=False, name=f"{name}_reverse")
    x = reverse(x)
    # The exchange matrix goes in as a weight, not an initializer: a Constant initializer
    # would write W*W numbers into the model's config.json.
    reverse.set_weights([np.eye(width, dtype=np.float32)[::-1].copy()])
    outputs = layers.Permute((1, 3, 2), name=f"{name}_width_back")(x)
    return keras.Model(inputs, outputs, name=name)


def mirrored_views_backbone(backbone: Any) -> Any:
    """``backbone`` applied to the image and its mirror, outputs averaged (module doc).

    Args:
        backbone: a backbone model with one image input and one or several 4-D outputs
            (a multi-layer head's backbone: last feature map first).

    Returns:
        A ``keras.Model`` named ``backbone`` with the same input and the same number and
        shapes of outputs, sharing ``backbone``'s layers (so its weights).
    """
    import keras
    from keras import layers

    inputs = keras.Input(tuple(backbone.inputs[0].shape[1:]), name="views_input")
    mirrored = flip_width(inputs.shape, IMAGE_MIRROR)(inputs)
    plain_maps = _as_list(backbone(inputs))
    mirror_maps = _as_list(backbone(mirrored))
    outputs = []
    for i, (plain, mirror) in enumerate(zip(plain_maps, mirror_maps, strict=True)):
        back = flip_width(mirror.shape, f"{MIRROR_PREFIX}map_{i}")(mirror)
        outputs.append(layers.Average(name=f"views_{i}")([plain, back]))
    return keras.Model(inputs, outputs if len(outputs) > 1 else outputs[0], name="backbone")


def _as_list(maps: Any) -> list:
    return list(maps) if isinstance(maps, list | tuple) else [maps]


def is_mirrored(backbone: Any) -> bool:
    """Whether ``backbone`` is a ``mirrored_views_backbone`` wrapper."""
    return any(layer.name == IMAGE_MIRROR for layer in getattr(backbone, "layers", ()))


def inner_backbone(backbone: Any) -> Any:
    """The plain backbone inside a wrapper; ``backbone`` itself when it is not wrapped."""
    import keras

    if not is_mirrored(backbone):
        return backbone
    return next(
        layer
        for layer in backbone.layers
        if isinstance(layer, keras.Model) and not layer.name.startswith(MIRROR_PREFIX)
    )


def with_mirrored_views(classifier: Any) -> Any:
    """``classifier`` with its ``backbone`` seeing both views; every other layer shared.

    Same top-level layers, names and order (``image`` -> ... -> ``backbone`` -> ``pool``
    -> ... -> ``predictions``); the backbone is called with ``training=False``, as a
    solved head's is. A classifier already wrapped is returned as it is.

    Wrap last, just before saving: a shared layer's ``.output`` stays that of its first
    call, in ``classifier``, so code reading ``.output`` (the fast path's
    ``features.plan_cut``) fails on the in-memory result but works once it is saved and
    loaded again. Code reaching into the backbone's layers (taps, freezing, cut points)
    must use ``inner_backbone(model.get_layer("backbone"))``.

    Args:
        classifier: a model from ``tlcore.models.classifier.build_classifier`` or
            ``tlcore.models.multilayer_head.build_multilayer_classifier``.
    """
    import keras

    backbone = classifier.get_layer("backbone")
    if is_mirrored(backbone):
        return classifier
    wrapper = mirrored_views_backbone(backbone)
    names = [layer.name for layer in classifier.layers]
    inputs = keras.Input(classifier.inputs[0].shape[1:], dtype="float32", name=names[0])
    x = inputs
    for name in names[1:]:
        layer = wrapper if name == "backbone" else classifier.get_layer(name)
        x = layer(x, training=False) if name == "backbone" else layer(x)
    return keras.Model(inputs, x, name=classifier.name)
