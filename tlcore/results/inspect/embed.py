"""The frozen network's features of every image of a dataset, computed once and cached.

The same pooled last-layer features a feature-extraction run trains its head on: the
training images' features go under the key such a run (and the strategy probe) uses, so
inspecting after probing or training, or inspecting twice, reads them from the cache
(``tlcore.training.features``) instead of running the network again.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from tlcore.config import TrainConfig
from tlcore.errors import ConfigError, WeightsUnavailableError

Progress = Callable[[dict[str, Any]], None]
OFFLINE_NETWORK = "EfficientNet-Lite0"


@dataclass(frozen=True, eq=False)
class Embedded:
    """Features of a dataset's images, in one order.

    Attributes:
        paths: absolute path of each image.
        labels: class index of each image (into ``classes``).
        classes: class names in label order.
        parts: ``train``, ``val`` or ``test`` per image (the dataset's own folders; all
            ``train`` for a folder of class folders).
        features: (N, F) float32 pooled features.
        network: the network's display name.
    """

    paths: tuple[str, ...]
    labels: np.ndarray
    classes: tuple[str, ...]
    parts: tuple[str, ...]
    features: np.ndarray
    network: str


def embed_dataset(config: TrainConfig, report: Any, progress: Progress | None = None) -> Embedded:
    """Run every image of ``report`` once through ``config``'s pretrained network.

    Raises:
        ConfigError: the network has no pretrained weights (random features see nothing).
        WeightsUnavailableError: the weights are not on this computer and cannot be
            downloaded; the message names the network that works offline.
    """
    import keras

    from tlcore.data.pipeline import load_arrays
    from tlcore.data.split import make_split
    from tlcore.models.backbone_models import prepare_weights
    from tlcore.models.backbones import get_backbone
    from tlcore.models.classifier import build_classifier, effective_weights, image_size_for
    from tlcore.training import features
    from tlcore.training.probe import probe_config

    say = progress or (lambda _event: None)
    cfg = probe_config(config)
    spec = get_backbone(cfg.backbone)
    if effective_weights(cfg) == "none":
        raise ConfigError(
            f"{spec.display_name} has no pretrained weights, and random features say nothing "
            f"about your images: inspect with a pretrained network ({OFFLINE_NETWORK} works "
            "offline: --backbone efficientnet_lite0)."
        )
    split = make_split(report, cfg.split)  # val = test = 0: the dataset's own folders only
    classes = list(split.classes)
    size = image_size_for(cfg)
    say({"stage": "prepare", "message": "Preparing the pretrained network…"})
    try:
        prepare_weights(cfg.backbone, size, effective_weights(cfg), None)
        keras.utils.set_random_seed(cfg.seed)
        model = build_classifier(cfg, len(classes))
    except WeightsUnavailableError as e:
        raise WeightsUnavailableError(
            f"{e} To inspect without them, use {OFFLINE_NETWORK}, which came with TransferLab "
            "(--backbone efficientnet_lite0)."
        ) from None
    cut = features.plan_cut(cfg, model)
    assert cut is not None and cut.name == features.POOL  # frozen, no augmentation
    parts = {"train": split.train, "val": split.val, "test": split.test}
    chunks, paths, labels, part_of = [], [], [], []
    for part, items in parts.items():
        if not items:
            continue

        def decoded(done: int, total: int, part: str = part) -> None:
            message = f"Reading the {part} images…" if len(parts) > 1 else "Reading the images…"
            say({"stage": "decode", "done": done, "total": total, "message": message})

        def computed(done: int, total: int) -> None:
            message = "Running the images through the network…"
            say({"stage": "features", "done": done, "total": total, "message": message})

        images, y = load_arrays(items, classes, size, cfg.resize_mode, cfg.use_cache, decoded)
        item_paths = [i.path for i in items]
        feats = features.cached_features(
            cut, item_paths, images, size, cfg.resize_mode, cfg.use_cache, progress=computed
        )
        chunks.append(np.asarray(feats, dtype=np.float32))
        paths += item_paths
        labels.append(y)
        part_of += [part] * len(items)
    return Embedded(
        paths=tuple(paths),
        labels=np.concatenate(labels).astype(np.int64),
        classes=tuple(classes),
        parts=tuple(part_of),
        features=np.concatenate(chunks),
        network=spec.display_name,
    )
