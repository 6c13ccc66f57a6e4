"""What a run will do, in plain words, from its config: one source for every page.

``setting_text`` says one setting's value the way a person reads it ("layers 100 and up
train"); ``will_do`` is the "This run will…" summary shown before Start: every setting the
run uses, and the ones it does not. ``split_sentence`` says how the images divide, with
the exact counts of the split the run trains on. No TensorFlow is imported here.
"""

from tlcore.config import TrainConfig
from tlcore.training.unused import unused_settings

_OPTIMIZERS = {"adam": "Adam", "rmsprop": "RMSprop", "sgd": "SGD"}


def _freeze_text(config: TrainConfig) -> str:
    f = config.freeze
    bn = (
        "; BatchNorm scale and offset train, its statistics stay frozen"
        if f.batchnorm_scale_trains and f.strategy != "feature-extraction"
        else "; BatchNorm trains too"
        if f.train_batchnorm
        else ""
    )
    if f.strategy == "feature-extraction":
        if _solved_only(config):  # fitted at once, not trained epoch by epoch
            return "the whole network stays frozen; only the new head is fitted"
        return "the whole network stays frozen; only the new head trains"
    if f.strategy == "full":
        return "every layer of the network trains" + bn
    if f.strategy == "scratch":
        return "every layer trains, from random weights"
    if f.strategy == "custom":
        return f"{len(f.frozen_layers)} layers you picked stay frozen; the others train" + bn
    if f.unfreeze_top is not None:
        return f"the last {f.unfreeze_top} layers train, the rest stay frozen" + bn
    start = f.unfreeze_from
    if start is None:
        return "the last block trains, the rest stays frozen" + bn
    if start.strip().isdigit():
        return f"layers {start} and up train (counted from 0), the rest stay frozen" + bn
    return f"{start} and everything after it train, the rest stays frozen" + bn


def _solved_only(config: TrainConfig) -> bool:
    """The run's one phase is the solved head: nothing trains by gradient."""
    return "epochs" in unused_settings(config)


def _head_text(config: TrainConfig) -> str:
    pool = "Flatten" if config.pooling == "flatten" else "global average pooling"
    parts = [pool, *(f"Dense({u}, relu)" for u in config.head_units)]
    if config.dropout and "dropout" not in unused_settings(config):
        parts.append(f"dropout {config.dropout:g}")
    parts.append("Dense(classes, softmax)")
    return " → ".join(parts)


def _augment_text(config: TrainConfig) -> str:
    if not config.augment.enabled:
        return "off"
    names = {"flip_horizontal": "horizontal flips", "flip_vertical": "vertical flips"}
    return ", ".join(
        names.get(name, f"{name.replace('_', ' ')} {strength:g}")
        for name, strength in config.augment.ops
    )


def setting_text(config: TrainConfig, name: str) -> str:
    """One setting of ``config`` in words, e.g. ``freeze`` -> "layers 100 and up train"."""
    v = getattr(config, name)
    if name == "freeze":
        return _freeze_text(config)
    if name in ("pooling", "head_units"):
        return _head_text(config)
    if name == "augment":
        return _augment_text(config)
    if name in ("optimizer", "fine_tune_optimizer"):
        return _OPTIMIZERS.get(v or config.optimizer, str(v))
    if name == "image_size":
        if v:
            return f"{v} px"
        from tlcore.models.backbones import get_backbone

        spec = get_backbone(config.backbone)
        own = spec.key in ("my_model", "keras_file")
        return "the model's own size" if own else f"{spec.default_size} px (the network's own)"
    if name == "resize_mode":
        return {"pad": "padded", "crop": "centre-cropped", "stretch": "stretched"}[v] + " square"
    if name == "backbone":
        from tlcore.models.backbones import get_backbone

        return get_backbone(v).display_name
    if name == "weights":
        return {"imagenet": "ImageNet", "none": "random"}.get(v, v)
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def _solved_text(config: TrainConfig) -> str:
    """What a run whose one phase is the solved head does (``multilayer_solve``)."""
    logistic = "a multinomial logistic regression, its regularisation chosen by cross-validation"
    if config.head_features == "last":
        where = "the frozen network's last layer"
    elif config.head_features == "multi":
        where = "features pooled from several layers of the frozen network"
    else:
        mirror = (
            "; also each image averaged with its mirror image"
            if config.head_views == "auto"
            else ""
        )
        return (
            "solve the head exactly, choosing by cross-validation on the training images "
            f"between features from several layers and the last layer alone ({logistic}; "
            f"with 5 or fewer images in a class also a nearest-class-mean head{mirror}); "
            "no epochs, no learning rate"
        )
    return f"solve the head exactly on {where} ({logistic}); no epochs, no learning rate"


def _phases_text(config: TrainConfig) -> str:
    opt = setting_text(config, "optimizer")
    if config.solve_head and not config.augment.enabled and config.freeze.strategy != "scratch":
        if config.freeze.strategy == "feature-extraction" or config.epochs < 2:
            return _solved_text(config)
        ft = setting_text(config, "fine_tune_optimizer")
        return (
            f"solve the head exactly first (epoch 1), then fine-tune for {config.epochs - 1} "
            f"epochs with {ft} at {config.fine_tune_learning_rate:g}"
        )
    if config.two_phase:
        ft = setting_text(config, "fine_tune_optimizer")
        return (
            f"train the head alone for {config.head_epochs} epochs ({opt}, learning rate "
            f"{config.learning_rate:g}), then the chosen layers too for "
            f"{config.epochs - config.head_epochs} more ({ft}, {config.fine_tune_learning_rate:g})"
            f": {config.epochs} epochs in all"
        )
    return f"train for {config.epochs} epochs with {opt} at learning rate {config.learning_rate:g}"


def split_sentence(config: TrainConfig, counts: dict[str, int] | None, total: int) -> str:
    """How the images divide: cross-validated, or the exact train / val / test counts."""
    if config.cross_validate:
        return (
            f"measure accuracy by {config.cv_folds}-fold cross-validation on all {total} "
            "images (each image predicted once by a model that did not train on it), then "
            + ("solve the final head" if _solved_only(config) else "train the final model")
            + " on all of them"
        )
    if counts is None:
        return "split the images when it starts"
    train, val, test = (counts.get(k, 0) for k in ("train", "val", "test"))
    where = (
        f"measure accuracy on the {test} test images"
        if test
        else f"measure accuracy on the {val} validation images (no test split)"
        if val
        else "measure accuracy on the training images themselves (no image is held out)"
    )
    return f"learn from {train} images, check on {val} validation images, {where}"


def will_do(
    config: TrainConfig, counts: dict[str, int] | None, total: int, unused: list[str]
) -> list[str]:
    """The "This run will…" lines: every setting the run uses, then what it does not use.

    Args:
        config: the config the run will store (defaults applied, unused settings reset).
        counts: images per split part (``train``/``val``/``test``), None if not known.
        total: images in the dataset.
        unused: names of settings that play no part (``tlcore.training.unused``).
    """
    lines = [
        f"start from {setting_text(config, 'backbone')} with "
        f"{setting_text(config, 'weights')} weights, images "
        f"{setting_text(config, 'resize_mode')} to {setting_text(config, 'image_size')}",
        f"{_freeze_text(config)}; head: {_head_text(config)}",
        _phases_text(config),
        f"augmentation: {_augment_text(config)}",
        split_sentence(config, counts, total),
    ]
    # ``unused`` names only the unused settings that had been set; whether anything trains
    # by gradient is read off every unused setting (a solved head has no epochs to stop).
    if not _solved_only(config):
        no_val = counts is not None and not counts.get("val")
        stop = (
            "run every epoch and keep the last (no validation images to stop early on)"
            if no_val
            else f"stop early after {config.early_stopping_patience} epochs without a better "
            "validation loss and keep the best epoch"
            if config.early_stopping_patience
            else "run every epoch (no early stopping)"
        )
        lines.append(f"batches of {config.batch_size}; {stop}")
        if config.schedule == "cosine":
            lines.append(
                f"learning rate: {config.warmup_epochs} warm-up epoch(s), then cosine decay"
            )
    if unused:
        lines.append("not used by this run: " + ", ".join(_readable(n) for n in unused))
    return lines


def _readable(name: str) -> str:
    return name.removeprefix("freeze.").replace("_", " ")
