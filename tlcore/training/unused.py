"""Settings that play no part in a run: named, and reset so nothing hides in a spec.

A choice made for one strategy can outlive it (two phases and a fine-tune rate left from a
recipe, then feature extraction chosen): the run would carry values it never uses, and a
page reading them would say things that do not happen ("Phase 2, retraining the chosen
layers" with nothing to retrain). ``unused_settings`` names them with the reason;
``drop_unused`` puts them back to ``TrainConfig``'s defaults, so two configs that train
the same way are equal, and ``spec.json`` lists the names under ``"unused"``.
"""

import dataclasses
from typing import Any

from tlcore.config import FreezeConfig, TrainConfig

_DEFAULT = TrainConfig(data="")
_DEFAULT_FREEZE = FreezeConfig()


def _backbone_trains(config: TrainConfig) -> bool:
    return config.freeze.strategy != "feature-extraction"


def _second_phase(config: TrainConfig) -> bool:
    """A fine-tuning phase follows a head phase (by gradient, or the solved head)."""
    if not _backbone_trains(config):
        return False
    solved_first = config.solve_head and not config.augment.enabled
    return config.two_phase or (solved_first and config.epochs >= 2)


def _head_solved_only(config: TrainConfig) -> bool:
    return (
        config.solve_head
        and not config.augment.enabled
        and config.freeze.strategy == "feature-extraction"
    )


def unused_settings(config: TrainConfig) -> dict[str, str]:
    """Settings of ``config`` that do not take part in training it -> why not."""
    out: dict[str, str] = {}
    if not _backbone_trains(config) and config.two_phase:
        out["two_phase"] = "nothing in the network trains, so there is no second phase"
    if not (config.two_phase and _backbone_trains(config)):
        out["head_epochs"] = "only a two-phase run has head-only epochs"
    if not _second_phase(config):
        out["fine_tune_learning_rate"] = "no fine-tuning phase"
        out["fine_tune_optimizer"] = "no fine-tuning phase"
    if config.freeze.strategy != "fine-tune":
        out["freeze.unfreeze_top"] = out["freeze.unfreeze_from"] = "not fine-tuning the top"
    if config.freeze.strategy != "custom":
        out["freeze.frozen_layers"] = "no layer-by-layer selection"
    if not _backbone_trains(config):
        out["freeze.batchnorm_scale_trains"] = "no BatchNorm layer trains"
    if not _head_solved_only(config):
        out["head_features"] = "only a head solved as the run's one phase reads them"
    if _head_solved_only(config):
        why = "the head is solved exactly, not trained by gradient"
        for name in ("epochs", "optimizer", "learning_rate", "schedule", "warmup_epochs"):
            out[name] = why
        out["early_stopping_patience"] = why
    return out


def drop_unused(config: TrainConfig) -> TrainConfig:
    """``config`` with every unused setting at ``TrainConfig``'s default."""
    unused = unused_settings(config)
    top: dict[str, Any] = {}
    freeze: dict[str, Any] = {}
    for name in unused:
        if name.startswith("freeze."):
            field = name.removeprefix("freeze.")
            freeze[field] = getattr(_DEFAULT_FREEZE, field)
        else:
            top[name] = getattr(_DEFAULT, name)
    if "epochs" in top:
        top["epochs"] = 1  # the solved head is the run's one epoch
    if freeze:
        top["freeze"] = dataclasses.replace(config.freeze, **freeze)
    return dataclasses.replace(config, **top)


def settle(config: TrainConfig) -> tuple[TrainConfig, list[str]]:
    """The config a run stores: unused settings reset, ``recipe`` kept only while the
    config still is that recipe; and the names of the unused settings that had been set
    (differ from the defaults), for the person to see."""
    from tlcore.training.recipes import as_recipe_or_not

    names = sorted(n for n in unused_settings(config) if _value(config, n) != _value(_DEFAULT, n))
    return as_recipe_or_not(drop_unused(config)), names


def _value(config: TrainConfig, name: str) -> Any:
    if name.startswith("freeze."):
        return getattr(config.freeze, name.removeprefix("freeze."))
    return getattr(config, name)
