"""Grad-CAM: which parts of an image made the model choose a class.

The gradient of the class score (the logit, before softmax, so it does not vanish when
the model is confident) with respect to the backbone's last convolutional feature map
weights each channel; their weighted sum, kept where positive, upsampled to the image,
is the heatmap. The feature map is found automatically: the output of the classifier's
nested ``backbone`` layer (its first output when it has several: a multi-layer head's
backbone; for other models, the last top-level layer with a 4-D output).
"""

from typing import Any

import numpy as np

from tlcore.errors import ModelFileError


def _feature_layer_index(model: Any) -> int:
    names = [layer.name for layer in model.layers]
    if "backbone" in names:
        return names.index("backbone")
    for i in range(len(model.layers) - 1, 0, -1):
        shape = getattr(model.layers[i], "output", None)
        if shape is not None and len(shape.shape) == 4:
            return i
    raise ModelFileError("This model has no convolutional feature map to explain.")


def gradcam(model: Any, image: np.ndarray, class_index: int | None = None) -> np.ndarray:
    """Return a float32 (S,S) heatmap in [0, 1] for a uint8 (S,S,3) image.

    Args:
        model: a classifier whose top-level layers form a chain (TransferLab's do).
        image: the image as the model takes it (uint8 RGB, the model's input size).
        class_index: the class to explain; None = the predicted class.
    """
    import tensorflow as tf

    size = image.shape[:2]
    x = tf.convert_to_tensor(np.asarray(image, dtype=np.float32)[None])
    cut = _feature_layer_index(model)
    layers = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]
    with tf.GradientTape() as tape:
        h = x
        fmap = None
        for layer in layers:
            if layer.name == "augmentation":
                continue  # identity at inference
            if layer is layers[-1] and hasattr(layer, "kernel"):
                h = tf.matmul(h, layer.kernel) + layer.bias  # logits, not softmax
            else:
                h = layer(h, training=False)
            if layer is model.layers[cut]:
                # A multi-layer backbone's first output is its last feature map.
                fmap = h[0] if isinstance(h, list | tuple) else h
                tape.watch(fmap)
        scores = h
        index = int(tf.argmax(scores[0])) if class_index is None else int(class_index)
        target = scores[:, index]
    grads = tape.gradient(target, fmap)
    if grads is None:
        raise ModelFileError("Could not follow the gradient through this model.")
    weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)
    cam = tf.nn.relu(tf.reduce_sum(weights * fmap, axis=-1))[0]
    cam = tf.image.resize(cam[..., None], size, method="bilinear")[..., 0].numpy()
    top = float(cam.max())
    return (cam / top if top > 0 else np.zeros_like(cam)).astype(np.float32)


def colormap(heatmap: np.ndarray) -> np.ndarray:
    """Map [0,1] values to a blue-green-yellow-red (jet-like) uint8 RGB image."""
    v = np.clip(np.asarray(heatmap, dtype=np.float32), 0, 1)
    r = np.clip(1.5 - np.abs(4 * v - 3), 0, 1)
    g = np.clip(1.5 - np.abs(4 * v - 2), 0, 1)
    b = np.clip(1.5 - np.abs(4 * v - 1), 0, 1)
    return (np.stack([r, g, b], axis=-1) * 255).astype(np.uint8)


def overlay(image: np.ndarray, heatmap: np.ndarray, alpha: float = 0.4) -> np.ndarray:
    """Blend the coloured heatmap over the image (uint8 (S,S,3))."""
    base = np.asarray(image, dtype=np.float32)
    heat = colormap(heatmap).astype(np.float32)
    return np.clip((1 - alpha) * base + alpha * heat, 0, 255).astype(np.uint8)
