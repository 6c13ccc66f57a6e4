"""``train DATA --recipe NAME``: the recipe's config, changed only by the options typed.

A recipe pins every setting (``tlcore.training.recipes.PINNED``), so the CLI's own
defaults must not touch it: only the options typed on the command line change it, and
then (as on the app's Model page) the run is no longer the recipe — ``settle`` drops the
name from the stored ``spec.json`` and ``changed_line`` says what was changed.
"""

import argparse
import dataclasses
from typing import Any

from tlcore.config import TrainConfig
from tlcore.errors import ConfigError
from tlcore.training.recipes import Recipe, differences, get_recipe, needs_download

OPTION_FIELDS: dict[str, tuple[str, ...]] = {
    "backbone": ("backbone",),
    "weights": ("weights",),
    "strategy": ("freeze.strategy",),
    # The two ways of saying where fine-tuning starts replace each other.
    "unfreeze": ("freeze.unfreeze_top", "freeze.unfreeze_from"),
    "unfreeze_from": ("freeze.unfreeze_top", "freeze.unfreeze_from"),
    "train_batchnorm": ("freeze.train_batchnorm",),
    "image_size": ("image_size",),
    "epochs": ("epochs",),
    "batch_size": ("batch_size",),
    "lr": ("learning_rate",),
    "fine_tune_lr": ("fine_tune_learning_rate",),
    "head": ("solve_head",),
    "head_features": ("head_features",),
    "try_mirror_images": ("head_views",),
    "cv_folds": ("cross_validate", "cv_folds", "split.val_fraction", "split.test_fraction"),
    "no_auto": ("auto_defaults",),
    "optimizer": ("optimizer",),
    "augment": ("augment",),
    "two_phase": ("two_phase",),
    "head_epochs": ("head_epochs",),
    "dropout": ("dropout",),
    "patience": ("early_stopping_patience",),
    "budget": ("budget_seconds",),
    "class_weights": ("class_weighting",),
    "resize": ("resize_mode",),
    "seed": ("seed", "split.seed"),
    "val_split": ("split.val_fraction",),
    "test_split": ("split.test_fraction",),
    "split_file": ("split.split_file",),
    "no_cache": ("use_cache",),
    "tensorboard": ("tensorboard",),
    "name": ("name",),
}
"""Train option (argparse dest) -> the ``TrainConfig`` fields it sets."""

_LABELS = {"backbone": "network", "freeze": "what trains"}


def recipe_config(args: argparse.Namespace, plain: TrainConfig) -> TrainConfig:
    """Recipe ``args.recipe`` on the data, with the fields of every typed option taken
    from ``plain`` (the config the same options build without a recipe).

    Raises:
        ConfigError: unknown recipe, or its ImageNet weights are not on this computer.
    """
    recipe = get_recipe(args.recipe)
    config = recipe.config(plain.data)
    typed = getattr(args, "typed", frozenset())
    for option in sorted(typed & OPTION_FIELDS.keys()):
        for name in OPTION_FIELDS[option]:
            config = _set(config, name, _get(plain, name))
    _check_weights(config, recipe)
    return config


def changed_line(asked: str, stored: TrainConfig, typed: frozenset[str]) -> str | None:
    """One line saying the run is no longer recipe ``asked`` and what was changed, with
    the options typed that changed it (None while the stored config still is it)."""
    if not asked or stored.recipe == asked:
        return None
    recipe = get_recipe(asked)
    changed = ", ".join(_changed(n, typed) for n in differences(stored, recipe))
    return (
        f"No longer the recipe “{recipe.display_name}” ({asked}): you changed {changed}; "
        "the run trains with your settings and its spec.json names no recipe."
    )


def _check_weights(config: TrainConfig, recipe: Recipe) -> None:
    """Refuse a recipe whose network would download its weights when an offline twin
    exists (the app offers that twin too), before anything starts."""
    twin = recipe.offline_variant()
    if twin is None or config.backbone != recipe.template.backbone:
        return
    if needs_download(config):
        from tlcore.models.backbones import get_backbone

        raise ConfigError(
            f"The ImageNet weights of {get_backbone(config.backbone).display_name} are not "
            f"on this computer and would need a download: use --recipe {twin.key}, the same "
            "recipe on EfficientNet-Lite0, whose weights come with TransferLab."
        )


def _changed(name: str, typed: frozenset[str]) -> str:
    """``name`` as a person reads it, with the options typed that set it."""
    label = _LABELS.get(name, name.replace("_", " "))
    options = [
        "--" + option.replace("_", "-")
        for option in sorted(typed & OPTION_FIELDS.keys())
        if any(f == name or f.startswith(name + ".") for f in OPTION_FIELDS[option])
    ]
    return f"{label} ({', '.join(options)})" if options else label


def _get(config: TrainConfig, name: str) -> Any:
    head, _, field = name.partition(".")
    return getattr(getattr(config, head), field) if field else getattr(config, head)


def _set(config: TrainConfig, name: str, value: Any) -> TrainConfig:
    head, _, field = name.partition(".")
    if field:
        value = dataclasses.replace(getattr(config, head), **{field: value})
    return config.replace(**{head: value})
