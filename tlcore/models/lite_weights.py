"""EfficientNet-Lite's PyTorch tensors onto the Keras network: names, layouts, checks.

Each Keras weight of a ``build_lite`` model is paired with the tensor of the
lukemelas/EfficientNet-PyTorch state dict that fills it (``_blocks.3._depthwise_conv``
...), converted to Keras' layout; ``load_state`` checks every shape before it assigns
anything.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from tlcore.errors import ConfigError, WeightsUnavailableError

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
