"""From the choices in session state to a ``TrainConfig`` (and back, for recipes).

The config built here is what a run trains with: ``build_config`` passes every setting
the session holds (none is dropped on the way), a recipe stays named only while nothing
it pins has changed, and leaving a recipe or switching network or strategy resets what
only made sense for the old choice, with a notice that says what was reset.
"""

from typing import Any, NamedTuple

import streamlit as st

from tlcore.config import AugmentConfig, FreezeConfig, TrainConfig
from tlcore.errors import TransferLabError
from ui import dataset
from ui.state import DEFAULT_TRAINING, DEFAULTS, current, renew_widgets


def freeze_config() -> FreezeConfig:
    """The freezing plan chosen on the Model page (custom when the table was edited)."""
    s = st.session_state
    if s.get("frozen_layers") is not None:
        return FreezeConfig(
            strategy="custom",
            frozen_layers=tuple(s["frozen_layers"]),
            train_batchnorm=bool(s["train_batchnorm"]),
            batchnorm_scale_trains=bool(s.get("batchnorm_scale_trains")),
        )
    strategy = s["strategy"]
    return FreezeConfig(
        strategy=strategy,
        unfreeze_top=s["unfreeze_top"] if strategy == "fine-tune" else None,
        unfreeze_from=s["unfreeze_from"]
        if strategy == "fine-tune" and s["unfreeze_top"] is None
        else None,
        train_batchnorm=bool(s["train_batchnorm"]),
        batchnorm_scale_trains=bool(s.get("batchnorm_scale_trains")),
    )


def augment_config() -> AugmentConfig:
    """The augmentation switched on (name -> strength)."""
    return AugmentConfig.of(**st.session_state["augment"])


def fixed_size() -> int | None:
    """The input size set by the model started from, or None when the person chooses it.

    "One of my models" trains at the size its run trained at; a Keras model file at the
    size it declares. Any other size would not fit the network.
    """
    s = st.session_state
    key, weights = s["backbone"], s["weights"] or ""
    try:
        if key == "my_model" and weights.startswith("run:"):
            from tlcore.models.my_models import run_id_of, run_image_size

            return run_image_size(run_id_of(weights))
        if key == "keras_file" and weights:
            from tlcore.models.backbone_models import file_input_size

            return file_input_size(weights)
    except TransferLabError:
        return None
    return None


def image_size() -> int:
    """The input size: set by the model started from, else the chosen one, else the
    backbone's default."""
    from tlcore.models.backbones import get_backbone

    size = fixed_size() or st.session_state["training"].get("image_size")
    return int(size) if size else get_backbone(st.session_state["backbone"]).default_size


def build_config(name: str = "") -> TrainConfig:
    """The full training config from the choices on the Data and Model pages."""
    from tlcore.training.recipes import as_recipe_or_not

    s = st.session_state
    t = {**DEFAULT_TRAINING, **s["training"]}
    weights = s["weights"]
    if s["strategy"] == "scratch" and s.get("frozen_layers") is None:
        weights = "none"
    config = TrainConfig(
        data=s["data_path"] or "",
        backbone=s["backbone"],
        weights=weights,
        image_size=fixed_size() or t["image_size"],
        resize_mode=t["resize_mode"],
        freeze=freeze_config(),
        augment=augment_config(),
        two_phase=bool(t["two_phase"]),
        head_epochs=int(t["head_epochs"]),
        epochs=int(t["epochs"]),
        batch_size=int(t["batch_size"]),
        learning_rate=float(t["learning_rate"]),
        fine_tune_learning_rate=float(t["fine_tune_learning_rate"]),
        fine_tune_optimizer=t["fine_tune_optimizer"],
        optimizer=t["optimizer"],
        pooling=t["pooling"],
        head_units=tuple(int(u) for u in t["head_units"]),
        dropout=float(t["dropout"]),
        early_stopping_patience=int(t["early_stopping_patience"]),
        class_weighting=t["class_weighting"],
        schedule=t["schedule"],
        warmup_epochs=int(t["warmup_epochs"]),
        solve_head=bool(t["solve_head"]),
        cross_validate=bool(t["cross_validate"]),
        cv_folds=int(t["cv_folds"]),
        head_features=t["head_features"],
        head_views="auto" if t.get("try_mirror") else "none",
        split=dataset.split_config(),
        name=name,
        auto_defaults=bool(t.get("auto", True)),
        chosen=chosen_by_hand() + (("head_views",) if t.get("try_mirror") else ()),
        recipe=s.get("recipe") or "",
    )
    return as_recipe_or_not(config)


def chosen_by_hand() -> tuple[str, ...]:
    """Settings the person set themselves, which the data's defaults must not change.

    With "choose from my data" on, only a split moved away from its starting values on
    the Data page counts as chosen; with it off, every setting is the person's.
    """
    s = st.session_state
    moved = any(s.get(k) != DEFAULTS[k] for k in ("val_percent", "test_percent"))
    by_hand = s.get("split_by_hand") or moved
    return ("split.val_fraction", "split.test_fraction") if by_hand else ()


def resolved_config() -> tuple[TrainConfig, Any]:
    """The config a run would train with: the data's defaults applied (and their reasons).

    Returns ``(config, None)`` when the person sets everything themselves, or when no
    dataset is chosen yet.
    """
    from tlcore.training.defaults import resolve

    cfg = build_config()
    report = dataset.current_report()
    if report is None or not cfg.auto_defaults:
        return cfg, None
    return resolve(cfg, report)


def apply_config(cfg: TrainConfig) -> None:
    """Put a config's choices (e.g. a recipe's template) into session state."""
    s = st.session_state
    _forget_widgets()
    s["backbone"] = cfg.backbone
    s["weights"] = cfg.weights
    s["strategy"] = cfg.freeze.strategy if cfg.freeze.strategy != "custom" else "fine-tune"
    s["unfreeze_top"] = cfg.freeze.unfreeze_top
    s["unfreeze_from"] = cfg.freeze.unfreeze_from
    s["frozen_layers"] = list(cfg.freeze.frozen_layers) if cfg.freeze.strategy == "custom" else None
    s["train_batchnorm"] = cfg.freeze.train_batchnorm
    s["batchnorm_scale_trains"] = cfg.freeze.batchnorm_scale_trains
    s["augment"] = cfg.augment.as_dict()
    s["recipe"] = cfg.recipe or None
    s["training"] = {
        "auto": cfg.auto_defaults,
        "optimizer": cfg.optimizer,
        "fine_tune_optimizer": cfg.fine_tune_optimizer,
        "pooling": cfg.pooling,
        "head_units": list(cfg.head_units),
        "class_weighting": cfg.class_weighting,
        "schedule": cfg.schedule,
        "warmup_epochs": cfg.warmup_epochs,
        "solve_head": cfg.solve_head,
        "cross_validate": cfg.cross_validate,
        "cv_folds": cfg.cv_folds,
        "head_features": cfg.head_features,
        "try_mirror": cfg.head_views == "auto",
        "epochs": cfg.epochs,
        "batch_size": cfg.batch_size,
        "learning_rate": cfg.learning_rate,
        "two_phase": cfg.two_phase,
        "head_epochs": cfg.head_epochs,
        "fine_tune_learning_rate": cfg.fine_tune_learning_rate,
        "early_stopping_patience": cfg.early_stopping_patience,
        "dropout": cfg.dropout,
        "image_size": cfg.image_size,
        "resize_mode": cfg.resize_mode,
    }


NOTICE = "_model_notice"
"""Session key of a one-time notice on the Model page (what a switch reset)."""


def _forget_widgets() -> None:
    """Forget the widgets' own values so they show the session's choices anew."""
    renew_widgets()
    s = st.session_state
    for key in [k for k in s if str(k).startswith(("set_", "aug_", "weights_", "unfreeze_"))]:
        del s[key]


def leave_recipe(why: str) -> None:
    """Forget what the recipe in use set (back to the defaults) and say so once.

    Called when the network or the strategy changes: a recipe's epochs, optimizer, phases
    and head belong to its network and strategy, and must not ride along silently.
    """
    from tlcore.training.recipes import get_recipe

    s = st.session_state
    key = s.get("recipe")
    if not key:
        return
    name = get_recipe(key).display_name
    s["recipe"] = None
    s["training"] = dict(DEFAULT_TRAINING)
    s["augment"] = {}
    s["train_batchnorm"] = s["batchnorm_scale_trains"] = False
    _forget_widgets()
    s[NOTICE] = (
        f"{why}, so this is no longer the recipe “{name}”: its training settings "
        "(epochs, optimizer, learning rates, phases, head layers) and its augmentation are "
        "back to the defaults, chosen from your images."
    )


def reset_to_defaults() -> None:
    """Every Model-page choice back to a fresh session's (the dataset and split stay)."""
    s = st.session_state
    for key in (
        "backbone",
        "weights",
        "recipe",
        "strategy",
        "unfreeze_top",
        "unfreeze_from",
        "frozen_layers",
        "train_batchnorm",
        "batchnorm_scale_trains",
    ):
        s[key] = DEFAULTS[key]
    s["augment"] = {}
    s["training"] = dict(DEFAULT_TRAINING)
    s.pop("weights_kind", None)
    _forget_widgets()
    s[NOTICE] = "Every model choice is back to the defaults."


def backbone_changed(_name: str, key: str) -> None:
    """A new network: sensible weights and strategy for it; forget the old layer picks."""
    from tlcore.models.backbones import get_backbone

    s = st.session_state
    if not current(_name, key) or s[key] == s["backbone"]:
        return  # a stale widget of an earlier generation, or nothing changed
    old = get_backbone(s["backbone"])
    s["backbone"] = s[key]
    new = get_backbone(s["backbone"])
    s["frozen_layers"] = None
    s["unfreeze_from"] = s["unfreeze_top"] = None
    s.pop("weights_kind", None)
    renew_widgets()
    leave_recipe(f"You chose {new.display_name}")
    if new.weights_hint == "none":  # e.g. the Small CNN: nothing pretrained to keep
        s["weights"], s["strategy"] = "none", "scratch"
    elif new.pretrained and (not old.pretrained or old.key in ("my_model", "keras_file")):
        s["weights"], s["strategy"] = "imagenet", "feature-extraction"
    elif new.key in ("my_model", "keras_file"):
        s["weights"], s["strategy"] = "", "feature-extraction"


def choose_strategy(key: str) -> None:
    """Choose a preset strategy: its own freezing plan, nothing left of a custom one."""
    from tlcore.models.freezing import get_strategy

    s = st.session_state
    if key != s["strategy"]:
        leave_recipe(f"You chose {get_strategy(key).display_name.lower()}")
        renew_widgets()
    s["strategy"] = key
    s["frozen_layers"] = s["unfreeze_top"] = s["unfreeze_from"] = None


def describe(cfg: TrainConfig) -> dict[str, Any]:
    """A short, readable summary of a config for captions."""
    from tlcore.models.backbones import get_backbone

    return {
        "backbone": get_backbone(cfg.backbone).display_name,
        "strategy": cfg.freeze.strategy,
        "weights": cfg.weights,
        "epochs": cfg.epochs,
    }


class PlannedRun(NamedTuple):
    """What Start would run (``planned_run``)."""

    config: TrainConfig  # what the run folder will store: defaults applied, unused reset
    defaults: Any  # the data's ``Defaults`` with their reasons (None: set by hand)
    unused: list[str]  # settings that were set but this run does not use
    split: Any  # the exact split it trains on (None without a dataset)
    asked: TrainConfig  # the config before unused settings were reset: what Start hands
    # to the run, so its spec.json names the same unused settings as the page


def planned_run() -> PlannedRun:
    """What Start would run. Every page that shows the split or the settings reads them
    here, so they agree."""
    from tlcore.data.split import make_split
    from tlcore.training.unused import settle

    asked, defaults = resolved_config()
    cfg, unused = settle(asked)
    report = dataset.current_report()
    split = make_split(report, cfg.split) if report is not None else None
    return PlannedRun(cfg, defaults, unused, split, asked)
