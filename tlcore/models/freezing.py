"""Which backbone layers train: the layer list, its blocks, and the freezing strategies.

The backbone says *what* can be frozen (``list_layers``: every layer with its block); a
strategy from ``STRATEGIES`` says *how* (``apply_freeze``). BatchNormalization layers stay
frozen, and in inference mode, unless ``train_batchnorm``: their moving statistics were
learned on millions of images and a few small batches would wreck them.
"""

import re
from dataclasses import dataclass
from typing import Any

from tlcore.config import FreezeConfig
from tlcore.errors import ConfigError
from tlcore.registry import lookup


@dataclass(frozen=True)
class LayerInfo:
    """One backbone layer as the layer list shows it."""

    index: int
    name: str
    type: str
    output_shape: tuple
    params: int
    trainable: bool
    block: str

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-friendly dict."""
        return {
            "index": self.index,
            "name": self.name,
            "type": self.type,
            "output_shape": list(self.output_shape),
            "params": self.params,
            "trainable": self.trainable,
            "block": self.block,
        }


@dataclass(frozen=True)
class Strategy:
    """A freezing strategy: how much of the pretrained backbone is retrained.

    ``forces_random_weights``: the backbone starts from random weights (training sets
    weights to ``none``). ``trains_batchnorm``: BatchNorm always trains (needed when
    nothing was learned before).
    """

    key: str
    display_name: str
    description: str
    forces_random_weights: bool = False
    trains_batchnorm: bool = False


STRATEGIES: dict[str, Strategy] = {
    s.key: s
    for s in (
        Strategy(
            "feature-extraction",
            "Feature extraction",
            "Keep the whole pretrained backbone frozen and train only the new head: fastest, "
            "and best when you have few images.",
        ),
        Strategy(
            "fine-tune",
            "Fine-tune the top",
            "Also retrain the top layers (the last block unless you choose): adapts the most "
            "specific features to your images; use a low learning rate.",
        ),
        Strategy(
            "full",
            "Full fine-tune",
            "Retrain every backbone layer starting from the pretrained weights: most "
            "flexible, needs more images and a very low learning rate.",
        ),
        Strategy(
            "scratch",
            "From scratch",
            "Random weights, everything trains: shows what pretraining is worth; needs many "
            "images and epochs.",
            forces_random_weights=True,
            trains_batchnorm=True,
        ),
        Strategy(
            "custom",
            "Custom",
            "Freeze exactly the layers you pick from the layer list; all others train.",
        ),
    )
}


def get_strategy(key: str) -> Strategy:
    """Return the strategy ``key``; ``ConfigError`` listing the valid ones."""
    return lookup(STRATEGIES, key, "strategy")


def unavailable_reason(strategy_key: str, backbone: Any) -> str | None:
    """Why ``strategy_key`` cannot run with ``backbone`` (a ``BackboneSpec``), or None.

    "One of my models" and a model file are networks *with* their learned weights; from
    scratch would throw them away, and they have no random-weights version to start from.
    """
    strategy = get_strategy(strategy_key)
    if strategy.forces_random_weights and backbone.preprocess in ("from_run", "from_file"):
        return (
            f"Not possible with {backbone.display_name}: {strategy.display_name} starts "
            "from random weights, and this network exists only with the weights it "
            "learned. To train from scratch, choose a standard network (e.g. Small CNN) "
            "on the Model page."
        )
    return None


def batchnorm_trains(freeze: FreezeConfig) -> bool:
    """True when BatchNorm layers train (and the backbone runs in training mode)."""
    return freeze.train_batchnorm or get_strategy(freeze.strategy).trains_batchnorm


_BLOCK_PATTERNS = [
    (re.compile(r"(stage_\d+_block_\d+)"), None),  # ConvNeXt
    (re.compile(r"(downsampling_block_\d+)"), None),  # ConvNeXt
    (re.compile(r"^(conv\d+_block\d+)_"), None),  # ResNet, DenseNet
    (re.compile(r"^(pool\d+)_"), None),  # DenseNet transitions
    (re.compile(r"^(block_\d+)_"), None),  # MobileNetV2
    (re.compile(r"^expanded_conv_(\d+)_"), "block_{}"),  # MobileNetV3
    (re.compile(r"^expanded_conv_"), "block_0"),  # MobileNetV2/V3 first block
    (re.compile(r"^(block\d+[a-z]?)_"), None),  # VGG, Xception, EfficientNet, CNN
    (
        re.compile(
            r"^(stem|conv1|pool1|Conv1|bn_Conv1|conv|conv_bn|rescaling|normalization|"
            r"input|zero_padding2d|.*prestem|.*_stem)(_|$)"
        ),
        "stem",
    ),
    (re.compile(r"^(top|Conv_1|out_relu|post_|conv_1|bn$|relu$|layer_normalization)"), "top"),
]


def layer_blocks(model: Any) -> list[str]:
    """Return the block (stage) name of every layer of ``model``, in layer order.

    Parsed from the layer names each family uses (``block_13_expand``,
    ``conv5_block3_out``, ``block14_sepconv1``, ``stage_2_block_1``...); InceptionV3 is
    grouped into its ``mixedN`` modules. A layer with an automatic name (``activation_7``)
    belongs to the block of the layer before it.
    """
    layers = model.layers
    names = [layer.name for layer in layers]
    if any(re.fullmatch(r"mixed\d+", n) for n in names):
        return _inception_blocks(layers)
    blocks, current = [], "stem"
    for name in names:
        for pattern, template in _BLOCK_PATTERNS:
            m = pattern.search(name)
            if m:
                current = template.format(*m.groups()) if template else m.group(1)
                break
        blocks.append(current)
    return blocks


def _inception_blocks(layers: list[Any]) -> list[str]:
    # The stem ends at the second max-pooling; then each layer belongs to the mixedN
    # module whose concatenation comes next.
    pools = [i for i, layer in enumerate(layers) if type(layer).__name__ == "MaxPooling2D"]
    stem_end = pools[1] if len(pools) > 1 else -1
    blocks = ["top"] * len(layers)
    nxt = "top"
    for i in range(len(layers) - 1, -1, -1):
        if re.fullmatch(r"mixed\d+", layers[i].name):
            nxt = layers[i].name
        blocks[i] = "stem" if i <= stem_end else nxt
    return blocks


def _layer_params(layer: Any) -> int:
    return int(sum(int(_size(w)) for w in layer.weights))


def _size(variable: Any) -> int:
    n = 1
    for d in variable.shape:
        n *= int(d)
    return n


def list_layers(backbone: Any) -> list[LayerInfo]:
    """Every backbone layer: index, name, type, output shape, params, trainable, block."""
    infos = []
    for i, (layer, block) in enumerate(zip(backbone.layers, layer_blocks(backbone), strict=True)):
        try:
            shape = tuple(layer.output.shape)
        except (AttributeError, ValueError):
            shape = ()
        infos.append(
            LayerInfo(
                i,
                layer.name,
                type(layer).__name__,
                shape,
                _layer_params(layer),
                bool(layer.trainable),
                block,
            )
        )
    return infos


def block_names(backbone: Any) -> list[str]:
    """The backbone's blocks in order (each once), e.g. for a "freeze up to" picker."""
    return list(dict.fromkeys(layer_blocks(backbone)))


def _first_unfrozen(backbone: Any, freeze: FreezeConfig) -> int:
    """Index of the first layer that trains under a fine-tune plan."""
    layers = backbone.layers
    if freeze.unfreeze_top is not None:
        return max(0, len(layers) - freeze.unfreeze_top)
    blocks = layer_blocks(backbone)
    target = freeze.unfreeze_from
    if target is None:  # default: the last block before the top (e.g. block5, conv5_block3)
        named = [b for b in blocks if b not in ("top", "stem")]
        target = named[-1] if named else blocks[-1]
    target = target.strip()
    if target.isdigit():
        if int(target) >= len(layers):
            raise ConfigError(
                f"The backbone has {len(layers)} layers; cannot unfreeze from layer {target}."
            )
        return int(target)
    for i, layer in enumerate(layers):
        if layer.name == target:
            return i
    if target in blocks:
        return blocks.index(target)
    raise ConfigError(
        f"No layer or block named '{target}' in this backbone; see the layer "
        "list (python -m tlcore layers) for the names."
    )


def trainable_plan(backbone: Any, freeze: FreezeConfig) -> list[bool]:
    """Whether each backbone layer trains under ``freeze`` (before the BatchNorm rule)."""
    freeze.validate()
    strategy = get_strategy(freeze.strategy).key
    n = len(backbone.layers)
    if strategy == "feature-extraction":
        return [False] * n
    if strategy in ("full", "scratch"):
        return [True] * n
    if strategy == "fine-tune":
        start = _first_unfrozen(backbone, freeze)
        return [i >= start for i in range(n)]
    names = {layer.name for layer in backbone.layers}
    unknown = sorted(set(freeze.frozen_layers) - names)
    if unknown:
        raise ConfigError(
            f"Unknown layer(s) to freeze: {', '.join(unknown[:5])}. Pick names from the layer list."
        )
    frozen = set(freeze.frozen_layers)
    return [layer.name not in frozen for layer in backbone.layers]


def _is_batchnorm(layer: Any) -> bool:
    return type(layer).__name__ in ("BatchNormalization", "SyncBatchNormalization")


def apply_freeze(backbone: Any, freeze: FreezeConfig) -> None:
    """Set every backbone layer's ``trainable`` flag by ``freeze`` (recompile afterwards).

    BatchNormalization layers (also inside nested models) stay frozen unless
    ``batchnorm_trains(freeze)`` or ``freeze.batchnorm_scale_trains`` (scale and offset
    train; the classifier still runs them in inference mode). Switching phases of
    two-phase training = calling this again with the second phase's plan.
    """
    plan = trainable_plan(backbone, freeze)
    keep_bn = not (batchnorm_trains(freeze) or freeze.batchnorm_scale_trains)
    backbone.trainable = True  # reset nested flags, then freeze per layer
    for layer, trains in zip(backbone.layers, plan, strict=True):
        layer.trainable = trains
        if keep_bn and trains:
            for sub in layer._flatten_layers(include_self=True, recursive=True):
                if _is_batchnorm(sub):
                    sub.trainable = False
    if not any(plan):
        backbone.trainable = False


def head_phase_freeze(freeze: FreezeConfig) -> FreezeConfig:
    """The first phase of two-phase training: backbone frozen, same BatchNorm setting."""
    return FreezeConfig(
        strategy="feature-extraction",
        train_batchnorm=freeze.train_batchnorm,
        batchnorm_scale_trains=freeze.batchnorm_scale_trains,
    )


def param_counts(model: Any) -> tuple[int, int]:
    """Return ``(trainable, non_trainable)`` parameter counts, as Keras counts them."""
    trainable = sum(_size(w) for w in model.trainable_weights)
    non_trainable = sum(_size(w) for w in model.non_trainable_weights)
    return int(trainable), int(non_trainable)
