"""From the choices in session state to a ``TrainConfig`` (and back, for recipes)."""

from typing import Any

import streamlit as st

from tlcore.config import AugmentConfig, FreezeConfig, TrainConfig
from tlcore.errors import TransferLabError
from ui import dataset
from ui.state import DEFAULT_TRAINING, DEFAULTS


def freeze_config() -> FreezeConfig:
    """The freezing plan chosen on the Model page (custom when the table was edited)."""
    s = st.session_state
    if s.get("frozen_layers") is not None:
        return FreezeConfig(
            strategy="custom",
            frozen_layers=tuple(s["frozen_layers"]),
            train_batchnorm=bool(s["train_batchnorm"]),
        )
    strategy = s["strategy"]
    return FreezeConfig(
        strategy=strategy,
        unfreeze_top=s["unfreeze_top"] if strategy == "fine-tune" else None,
        unfreeze_from=s["unfreeze_from"]
        if strategy == "fine-tune" and s["unfreeze_top"] is None
        else None,
        train_batchnorm=bool(s["train_batchnorm"]),
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
    s = st.session_state
    t = {**DEFAULT_TRAINING, **s["training"]}
    weights = s["weights"]
    if s["strategy"] == "scratch" and s.get("frozen_layers") is None:
        weights = "none"
    return TrainConfig(
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
        dropout=float(t["dropout"]),
        early_stopping_patience=int(t["early_stopping_patience"]),
        split=dataset.split_config(),
        name=name,
        auto_defaults=bool(t.get("auto", True)),
        chosen=chosen_by_hand(),
    )


def chosen_by_hand() -> tuple[str, ...]:
    """Settings the person set themselves, which the data's defaults must not change.

    With "choose from my data" on, only a split moved away from its starting values on
    the Data page counts as chosen; with it off, every setting is the person's.
    """
    s = st.session_state
    moved = any(s.get(k) != DEFAULTS[k] for k in ("val_percent", "test_percent"))
    return ("split.val_fraction", "split.test_fraction") if moved else ()


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
    # Forget the widgets' own values so they show the recipe's, not the previous ones.
    for key in [k for k in s if str(k).startswith(("set_", "aug_", "weights_", "unfreeze_"))]:
        del s[key]
    s["backbone"] = cfg.backbone
    s["weights"] = cfg.weights
    s["strategy"] = cfg.freeze.strategy if cfg.freeze.strategy != "custom" else "fine-tune"
    s["unfreeze_top"] = cfg.freeze.unfreeze_top
    s["unfreeze_from"] = cfg.freeze.unfreeze_from
    s["frozen_layers"] = list(cfg.freeze.frozen_layers) if cfg.freeze.strategy == "custom" else None
    s["train_batchnorm"] = cfg.freeze.train_batchnorm
    s["augment"] = cfg.augment.as_dict()
    s["training"] = {
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


def backbone_changed(_name: str = "backbone") -> None:
    """A new network: sensible weights and strategy for it; forget the old layer picks."""
    from tlcore.models.backbones import get_backbone

    s = st.session_state
    old = get_backbone(s["backbone"])
    s["backbone"] = s["_w_backbone"]
    new = get_backbone(s["backbone"])
    s["frozen_layers"] = None
    s["unfreeze_from"] = s["unfreeze_top"] = None
    s.pop("weights_kind", None)
    if new.weights_hint == "none":  # e.g. the Small CNN: nothing pretrained to keep
        s["weights"], s["strategy"] = "none", "scratch"
    elif new.pretrained and (not old.pretrained or old.key in ("my_model", "keras_file")):
        s["weights"], s["strategy"] = "imagenet", "feature-extraction"
    elif new.key in ("my_model", "keras_file"):
        s["weights"], s["strategy"] = "", "feature-extraction"


def choose_strategy(key: str) -> None:
    """Choose a preset strategy: its own freezing plan, nothing left of a custom one."""
    s = st.session_state
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
