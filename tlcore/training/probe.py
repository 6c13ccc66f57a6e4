"""The strategy probe: how well a pretrained network's features fit these images, measured.

Which layers to retrain depends on two things the classic when-to-use table names: how
many images there are, and how much they look like what the network learned from
(ImageNet photos). The first is a count. The second is measured here, in seconds, on the
person's own images, by *linear probes*: the head solver (``head_solver``) is
cross-validated on the pooled features of two layers,

- the **last** layer: exactly what feature extraction trains on, so its score is what a
  feature-extraction run will report (same folds, same solver), and
- a layer **in the middle** of the network (about two thirds of the way up, at the end
  of a block), whose features are more generic: edges, textures, parts.

and a third reading, the **multi-layer** features a feature-extraction run can choose
(``tlcore.training.multilayer``: the stage ends, the widest layers of the last blocks and
the last layer, each group scaled), all from the same single pass.

When the middle layer separates the classes as well as the last one or better, the top
layers' ImageNet-specific features add nothing for these classes: the images are unlike
what the network learned from, and retraining the top layers is what can help. When the
last layer is clearly better, the pretrained features already fit. (Yosinski et al.,
"How transferable are features in deep neural networks?", 2014: the higher the layer,
the more its features are specific to the task it was trained on.)

The last layer's features are stored in the run cache (``features.store_features``) under
the key a feature-extraction run on the same images uses, so training right after the
probe does not compute them again. What the numbers mean for the strategy is
``tlcore.training.strategy_advice``.
"""

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from tlcore.config import AugmentConfig, FreezeConfig, SplitConfig, TrainConfig
from tlcore.data.findings import too_few_images
from tlcore.errors import ConfigError, DataError
from tlcore.training import features, multilayer

MIDDLE_DEPTH = 0.65
"""Where the middle probe sits: the end of the block about this far up the network."""

MAX_IMAGES = 1500
"""A bigger dataset is probed on a stratified sample of this many images: the reading
needs no more, and the probe stays a matter of seconds (about 20 s on 2 CPU cores)."""

Progress = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class LayerScore:
    """Cross-validated accuracy of the solved head on one layer's pooled features."""

    layer: str
    block: str
    accuracy: float
    spread: float
    fold_accuracies: tuple[float, ...]

    @classmethod
    def of(cls, layer: str, block: str, fold_accuracies: Sequence[float]) -> "LayerScore":
        """Mean and spread of the folds' accuracies."""
        accs = np.asarray(fold_accuracies, dtype=np.float64)
        return cls(layer, block, float(accs.mean()), float(accs.std()), tuple(map(float, accs)))


@dataclass(frozen=True)
class ProbeResult:
    """What the probe measured (JSON-ready with ``to_dict``)."""

    backbone: str
    network: str
    classes: tuple[str, ...]
    images: int
    dataset_images: int
    smallest_class: int
    folds: int
    last: LayerScore
    middle: LayerScore | None
    seconds: float
    multi: LayerScore | None = None

    @property
    def chance(self) -> float:
        """Accuracy of guessing the class at random."""
        return 1.0 / max(1, len(self.classes))

    def to_dict(self) -> dict[str, Any]:
        """Plain types only."""
        d = asdict(self)
        d["chance"] = self.chance
        return d


def middle_layer(backbone: Any, depth: float = MIDDLE_DEPTH) -> str | None:
    """The backbone layer to probe in the middle: the last layer of the block about
    ``depth`` of the way up whose output is a feature map (N, H, W, C) and the only tensor
    between the layers below and above it. None for a network too shallow to have one."""
    ends = multilayer.block_ends(backbone)
    if len(ends) < multilayer.MIN_ENDS:
        return None
    return backbone.layers[ends[round(depth * (len(ends) - 1))]].name


def probe_config(config: TrainConfig) -> TrainConfig:
    """The feature-extraction version of ``config``: what the probe (and a
    feature-extraction run) computes features with."""
    return config.replace(
        freeze=FreezeConfig(strategy="feature-extraction"),
        augment=AugmentConfig(),
        split=SplitConfig(val_fraction=0.0, test_fraction=0.0, seed=config.split.seed),
    )


def run_probe(config: TrainConfig, report: Any, progress: Progress | None = None) -> ProbeResult:
    """Measure how well the pretrained features of ``config``'s network fit the images.

    Args:
        config: the backbone, weights and image size to probe (its strategy, augmentation
            and split are ignored: the probe always uses frozen features of the training
            images).
        report: the scanned dataset (``tlcore.data.scan``); a dataset with its own
            ``test/`` folder is probed on its training images only.
        progress: called with ``{"stage", "message", "done"?, "total"?}`` events.

    Raises:
        ConfigError: the network has no pretrained weights to probe.
        DataError: too few images (each class needs 2).
        WeightsUnavailableError: the weights cannot be had (offline, not downloaded).
    """
    from tlcore.data.pipeline import load_arrays
    from tlcore.data.split import make_split
    from tlcore.models.backbone_models import prepare_weights
    from tlcore.models.backbones import get_backbone
    from tlcore.models.classifier import build_classifier, effective_weights, image_size_for
    from tlcore.models.freezing import layer_blocks
    from tlcore.training.batches import class_weights
    from tlcore.training.crossval import fold_count
    from tlcore.training.head_solver import out_of_fold

    say = progress or (lambda _event: None)
    t0 = time.monotonic()
    if effective_weights(config) == "none":
        raise ConfigError(
            "The probe measures pretrained features: this network starts from random "
            "weights, so there is nothing to measure. Choose a pretrained network."
        )
    cfg = probe_config(config)
    split = make_split(report, cfg.split)
    classes = list(split.classes)
    counts = [sum(i.label == c for i in split.train) for c in classes]
    if len(classes) < 2:
        raise DataError("The probe needs at least 2 classes with 2 images each: add images first.")
    # Checked before TensorFlow loads, so a one-image class is said in a second, not 15.
    problem = too_few_images(dict(zip(classes, counts, strict=True)), 2, "The probe")
    if problem:
        raise DataError(problem)
    import keras

    items = sample(split.train, classes, MAX_IMAGES, cfg.seed)
    size = image_size_for(cfg)
    say({"stage": "prepare", "message": "Preparing the pretrained network…"})
    prepare_weights(cfg.backbone, size, effective_weights(cfg), None)
    keras.utils.set_random_seed(cfg.seed)
    model = build_classifier(cfg, len(classes))
    cut = features.plan_cut(cfg, model)  # None: a network whose feature size is unknown

    def decoded(done: int, total: int) -> None:
        say({"stage": "decode", "done": done, "total": total, "message": "Reading the images…"})

    images, labels = load_arrays(items, classes, size, cfg.resize_mode, cfg.use_cache, decoded)
    backbone = model.get_layer("backbone")
    mid = middle_layer(backbone)

    def computed(done: int, total: int) -> None:
        message = "Running the images through the network…"
        say({"stage": "features", "done": done, "total": total, "message": message})

    taps = multilayer.tap_layers(backbone)
    extractor, widths = _extractor(model, backbone, mid, taps)
    both = features.extract(extractor, images, progress=computed)
    width = widths[0]
    last = np.ascontiguousarray(both[:, :width])
    if cut is not None and len(items) == len(split.train):  # what a run would compute
        features.store_features(cut, [i.path for i in items], size, cfg.resize_mode, last)
    layers = {"last layer": (backbone.layers[-1].name, last)}
    if mid:
        layers["middle"] = (mid, both[:, width : width + widths[1]])
    if taps:  # the last layer's group and the taps', scaled as a run scales them
        groups = [widths[0], *widths[1 + bool(mid) :]]
        raw = np.hstack([last, both[:, sum(widths[: 1 + bool(mid)]) :]])
        mean, scale = multilayer.group_scaling(raw, groups)
        layers["multi-layer"] = (f"{len(groups)} layers", (raw - mean) / scale)
    blocks = dict(
        zip([layer.name for layer in backbone.layers], layer_blocks(backbone), strict=True)
    )
    folds = fold_count(np.bincount(labels, minlength=len(classes)))
    weights = class_weights(labels, len(classes), cfg.class_weighting)
    scores = {}
    for role, (layer, feats) in layers.items():
        say({"stage": "cross-validate", "message": f"Testing the features of the {role}…"})
        oof = out_of_fold(feats, labels, len(classes), folds, class_weight=weights, seed=cfg.seed)
        scores[role] = LayerScore.of(layer, blocks.get(layer, ""), oof.fold_accuracies)
    return ProbeResult(
        backbone=cfg.backbone,
        network=get_backbone(cfg.backbone).display_name,
        classes=tuple(classes),
        images=len(items),
        dataset_images=len(split.train),
        smallest_class=min(counts),
        folds=folds,
        last=scores["last layer"],
        middle=scores.get("middle"),
        seconds=round(time.monotonic() - t0, 2),
        multi=scores.get("multi-layer"),
    )


def sample(items: Sequence[Any], classes: Sequence[str], limit: int, seed: int) -> list[Any]:
    """``items`` if there are at most ``limit``; else a seeded sample of about ``limit``
    that keeps each class's share (at least 2 images of each), in the original order."""
    if len(items) <= limit:
        return list(items)
    rng = np.random.default_rng(seed)
    keep: list[int] = []
    for c in classes:
        mine = [i for i, item in enumerate(items) if item.label == c]
        n = max(2, round(limit * len(mine) / len(items)))
        keep += rng.choice(mine, min(n, len(mine)), replace=False).tolist()
    return [items[i] for i in sorted(keep)]


def _extractor(model: Any, backbone: Any, mid: str | None, taps: list[str]) -> tuple[Any, list]:
    """Pixels -> the pooled last-layer features, then (with ``mid``) the pooled middle
    ones, then each tap's, side by side in one output: one pass gives them all. Returns
    the model and each group's width."""
    import keras

    names = [layer.name for layer in model.layers]
    x = model.inputs[0]
    for name in names[1 : names.index("backbone")]:
        x = model.get_layer(name)(x)
    wanted = [backbone.outputs[0]] + [backbone.get_layer(n).output for n in [mid, *taps] if n]
    inner = keras.Model(backbone.inputs, wanted, name="probe_backbone")
    maps = inner(x, training=False)
    maps = maps if isinstance(maps, list | tuple) else [maps]
    pooled = [keras.layers.GlobalAveragePooling2D()(m) for m in maps]
    out = keras.layers.Concatenate()(pooled) if len(pooled) > 1 else pooled[0]
    return keras.Model(model.inputs, out, name="probe"), [int(m.shape[-1]) for m in maps]
