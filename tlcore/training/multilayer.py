"""Multi-layer features: pooled outputs of several layers of the frozen network, one pass.

The last layer of an ImageNet network is the most ImageNet-specific; on images unlike
ImageNet photos (artwork, icons, medical scans) earlier layers often separate the classes
better (Yosinski et al. 2014; Head2Toe, Evci et al. 2022). So besides the last layer we
pool (global average) the outputs of

- the **stage ends**: the last block of each run of blocks with the same output shape
  (the same places ``tlcore.training.probe`` picks its middle layer from: block ends
  that alone connect the layers below and above them), and
- the **widest layer of each of the last** ``LAST_BLOCKS`` **blocks** (an inverted
  bottleneck's expanded activation; for a ResNet, the block's output),

and the last layer itself: one forward pass, a few thousand numbers per image. Each
layer is a *group*; groups are centred and divided by their own RMS spread
(``group_scaling``) so that no group dominates the L2 penalty merely by its units.

On Twemoji artwork (EfficientNet-Lite0, ImageNet weights, 6 classes, 5 seeds; the same
solved head on every feature set; ``bench/bench_multilayer.py``) this set beat the last
layer alone by 4.3 points at 5 images a class (60.1% vs 55.8%), 4.3 at 10 and 4.8 at 20
(71.0% vs 66.2%); on real photographs (scikit-image's LFW faces) both read 99-100%. In a
first look (3 seeds), expansion layers instead of the widest ones, every block end, max
pooling beside average pooling, equal group totals and a group pick by weight norm scored
the same or lower; flipped views and a nearest-class-mean head did not add to it either
(BENCHMARKS.md, "Features from several layers").
"""

from typing import Any

import numpy as np

from tlcore.training import features

LAST_BLOCKS = 6
"""How many of the last blocks contribute their widest layer."""

MIN_ENDS = 3  # fewer block ends: a network without named blocks (use every single-path map)


def single_path_maps(backbone: Any) -> set[int]:
    """Indices of layers with a 4-D output that alone connect the layers below and above."""
    crossed = features.skips_over(backbone)
    out = set()
    for i, layer in enumerate(backbone.layers[1:-1], start=1):
        if not features.is_single_path(backbone, i, crossed):
            continue  # (and only then is ``layer.output`` one tensor)
        if len(layer.output.shape) == 4:
            out.add(i)
    return out


def block_ends(backbone: Any) -> list[int]:
    """Indices of the last layer of each block (stem and top left out) that alone
    connects the layers below and above it; every such feature map for a network
    without named blocks."""
    from tlcore.models.freezing import layer_blocks

    layers = backbone.layers
    cut_ok = single_path_maps(backbone)
    blocks = layer_blocks(backbone)
    ends = [
        i
        for i in range(1, len(layers) - 1)
        if blocks[i] != blocks[i + 1] and blocks[i] not in ("stem", "top") and i in cut_ok
    ]
    return ends if len(ends) >= MIN_ENDS else sorted(cut_ok)


def _map_shape(layer: Any) -> tuple | None:
    nodes = layer._inbound_nodes
    if len(nodes) != 1 or len(nodes[0].outputs) != 1:
        return None  # called twice, or several outputs: no single feature map
    shape = tuple(layer.output.shape[1:])
    return shape if len(shape) == 3 else None


def tap_layers(backbone: Any, last_blocks: int = LAST_BLOCKS) -> list[str]:
    """Names of the backbone layers pooled beside its last layer, in network order:
    the stage ends and the widest layer of each of the last ``last_blocks`` blocks.
    Empty when the network's output is not a feature map or it has no block structure."""
    from tlcore.models.freezing import layer_blocks

    layers = backbone.layers
    if len(layers) < 3 or _map_shape(layers[-1]) is None:
        return []
    ends = block_ends(backbone)
    shapes = [_map_shape(layers[i]) for i in ends]
    stage_ends = {i for n, i in enumerate(ends) if n == len(ends) - 1 or shapes[n + 1] != shapes[n]}
    blocks = layer_blocks(backbone)
    order = [b for n, b in enumerate(blocks) if b not in ("stem", "top") and b not in blocks[:n]]
    widest = set()
    for block in order[-last_blocks:]:
        mine = [i for i, b in enumerate(blocks) if b == block and _map_shape(layers[i])]
        if mine:
            width = max(_map_shape(layers[i])[-1] for i in mine)
            widest.add(max(i for i in mine if _map_shape(layers[i])[-1] == width))
    chosen = sorted((stage_ends | widest) - {len(layers) - 1})
    return [layers[i].name for i in chosen]


def extractor(model: Any, taps: list[str]) -> tuple[Any, list[int]]:
    """Pixels -> the pooled last layer, then each tap's pooled output, side by side
    (one pass); and the width of each group, in that order."""
    import keras

    backbone = model.get_layer("backbone")
    names = [layer.name for layer in model.layers]
    x = model.inputs[0]
    for name in names[1 : names.index("backbone")]:
        if name != "augmentation":  # identity at inference; features are of the images
            x = model.get_layer(name)(x)
    wanted = [backbone.outputs[0]] + [backbone.get_layer(n).output for n in taps]
    inner = keras.Model(backbone.inputs, wanted, name="multilayer_backbone")
    maps = inner(x, training=False)
    pooled = [keras.layers.GlobalAveragePooling2D()(m) for m in maps]
    widths = [int(m.shape[-1]) for m in maps]
    out = keras.layers.Concatenate()(pooled)
    return keras.Model(model.inputs, out, name="multilayer_extractor"), widths


def group_scaling(train: np.ndarray, widths: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and scale: each feature centred on the training images, each
    group divided by its RMS spread (the root of its features' mean variance)."""
    x = np.asarray(train, dtype=np.float64)
    mean = x.mean(axis=0)
    var = x.var(axis=0)
    scale = np.ones(x.shape[1])
    start = 0
    for w in widths:
        rms = float(np.sqrt(var[start : start + w].mean()))
        scale[start : start + w] = rms if rms > 1e-12 else 1.0
        start += w
    return mean, scale
