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


def unused_settings(config: TrainConfig) -> dict[str, str]:
    """Settings of ``config`` that do not take part in training it -> why not.

    Read off the phases the run will train (``plan_phases``), so what is called unused
    is exactly what the training loop does not read.
    """
    from tlcore.training.phases import plan_phases

    phases = plan_phases(config)
    backbone_trains = config.freeze.strategy != "feature-extraction"
    solved_only = len(phases) == 1 and phases[0].solve
    fine_tunes = len(phases) == 2 and backbone_trains
    out: dict[str, str] = {}
    if config.two_phase and not backbone_trains:
        out["two_phase"] = "nothing in the network trains, so there is no second phase"
    if not (fine_tunes and not phases[0].solve):
        out["head_epochs"] = "only a two-phase run has head-only epochs"
    if not fine_tunes:
        out["fine_tune_learning_rate"] = "no fine-tuning phase"
        out["fine_tune_optimizer"] = "no fine-tuning phase"
    if config.freeze.strategy != "fine-tune":
        out["freeze.unfreeze_top"] = out["freeze.unfreeze_from"] = "not fine-tuning the top"
    if config.freeze.strategy != "custom":
        out["freeze.frozen_layers"] = "no layer-by-layer selection"
    if not backbone_trains:
        out["freeze.batchnorm_scale_trains"] = "no BatchNorm layer trains"
    if solved_only:
        why = "the head is solved exactly, not trained by gradient"
        for name in ("epochs", "optimizer", "learning_rate", "schedule", "warmup_epochs"):
            out[name] = why
        out["early_stopping_patience"] = why
        out["dropout"] = (
            "the solved head has its own regularisation (dropout acts only in training by gradient)"
        )
    else:
        out["head_features"] = "only a head solved as the run's one phase reads them"
    if not solved_only or config.head_features != "auto":
        out["head_views"] = "only a solved head that chooses its features tries mirror images"
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

    settled = drop_unused(config)
    names = sorted(
        n
        for n in unused_settings(config)
        # Set by the person (not the default), and not already settled (epochs = 1 is the
        # solved head's own value): settling a settled config names nothing.
        if _value(config, n) != _value(_DEFAULT, n) and _value(config, n) != _value(settled, n)
    )
    return as_recipe_or_not(settled), names


def _value(config: TrainConfig, name: str) -> Any:
    if name.startswith("freeze."):
        return getattr(config.freeze, name.removeprefix("freeze."))
    return getattr(config, name)
