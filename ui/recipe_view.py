"""Recipes on the Model page: pick one, see its own values and the tutorial step each comes
from, and know at once whether it is still the recipe.

A recipe whose network downloads its weights says so when it is picked (not after Start)
and offers the download or the closest offline recipe on EfficientNet-Lite0.
"""

import streamlit as st

from tlcore.config import TrainConfig
from tlcore.training.recipes import (
    PINNED,
    RECIPES,
    Recipe,
    differences,
    get_recipe,
    needs_download,
)
from tlcore.training.run_summary import setting_text
from ui import model_config, weights_choice

# Settings shown in the recipe's table, in reading order (pooling stands for the head).
_SHOWN = [n for n in PINNED if n not in ("head_units", "auto_defaults", "cross_validate")]
_LABELS = {
    "backbone": "Network",
    "weights": "Starting weights",
    "image_size": "Image size",
    "resize_mode": "Images made square by",
    "freeze": "What trains",
    "augment": "Augmentation",
    "two_phase": "Two phases",
    "head_epochs": "Head-only epochs",
    "epochs": "Epochs in all",
    "batch_size": "Batch size",
    "optimizer": "Optimizer",
    "learning_rate": "Learning rate",
    "fine_tune_learning_rate": "Fine-tuning learning rate",
    "fine_tune_optimizer": "Fine-tuning optimizer",
    "pooling": "Head",
    "dropout": "Dropout",
    "early_stopping_patience": "Early stopping patience",
    "class_weighting": "Class weights",
    "solve_head": "Head solved exactly",
    "schedule": "Learning-rate schedule",
    "warmup_epochs": "Warm-up epochs",
}


def _use(recipe: Recipe) -> None:
    model_config.apply_config(recipe.config(st.session_state["data_path"]))


def recipe_table(config: TrainConfig, recipe: Recipe) -> list[dict[str, str]]:
    """Rows of (setting, value, where it comes from) for a recipe's config."""
    return [
        {
            "setting": _LABELS.get(name, name),
            "value": setting_text(config, name),
            "from the tutorial": recipe.steps.get(name, "—"),
        }
        for name in _SHOWN
    ]


def header(config: TrainConfig) -> None:
    """Say which recipe is in use, or that the settings are no longer the recipe."""
    s = st.session_state
    notice = s.pop(model_config.NOTICE, None)
    if notice:
        st.info(notice, icon=":material/restart_alt:")
    key = s.get("recipe")
    if not key:
        return
    recipe = get_recipe(key)
    if config.recipe == key:
        st.success(
            f"**Recipe: {recipe.display_name}** — every setting as in {recipe.tutorial}. "
            "Nothing is chosen automatically.",
            icon=":material/menu_book:",
        )
        with st.expander("The recipe's settings, and the tutorial step each comes from"):
            st.dataframe(recipe_table(config, recipe), hide_index=True, width="stretch")
        return
    changed = ", ".join(_LABELS.get(n, n).lower() for n in differences(config, recipe))
    st.warning(
        f"**No longer the recipe “{recipe.display_name}”**: you changed {changed}. "
        "The run trains with your settings as shown.",
        icon=":material/edit:",
    )
    c1, c2 = st.columns(2)
    if c1.button("Back to the recipe", key="recipe_back", icon=":material/undo:"):
        _use(recipe)
        st.rerun()
    if c2.button("Back to the defaults", key="defaults_back", icon=":material/restart_alt:"):
        model_config.reset_to_defaults()
        st.rerun()


def picker() -> None:
    """The recipe list: what each is, whether it downloads, and the buttons to use it.

    A plain list, not an expander: an expander can close by itself on a rerun, hiding the
    buttons of the recipe just picked.
    """
    key = st.selectbox(
        ":material/menu_book: Start from a classic recipe (optional)",
        [None, *RECIPES],
        format_func=lambda k: (
            "— no recipe: choose below —" if k is None else RECIPES[k].display_name
        ),
        key="recipe_pick",
    )
    if key is not None:
        _details(RECIPES[key])
    custom = st.session_state.get("recipe") or not st.session_state["training"].get("auto")
    if custom and st.button("Back to the defaults", key="defaults_reset"):
        model_config.reset_to_defaults()
        st.rerun()


def _details(recipe: Recipe) -> None:
    """What the picked recipe is, whether it downloads, and the buttons to use it."""
    with st.container(border=True):
        st.caption(f"{recipe.when} From {recipe.tutorial}.")
        offline = recipe.offline_variant()
        if offline is not None and needs_download(recipe.template):
            st.warning(
                f"This recipe's network, {setting_text(recipe.template, 'backbone')}, "
                "downloads its ImageNet weights first (needs internet). Offline, use the "
                "same recipe on EfficientNet-Lite0, whose weights come with TransferLab.",
                icon=":material/cloud_download:",
            )
            c1, c2 = st.columns(2)
            if c1.button("Download the weights and use it", key="recipe_download"):
                size = recipe.template.image_size or 224  # every downloading recipe sets it
                if weights_choice.download_imagenet(recipe.template.backbone, size):
                    _use(recipe)
                    st.rerun()
                st.error(st.session_state.get("weights_error", "The download failed."))
            if c2.button("Use it on EfficientNet-Lite0 (offline)", key="recipe_offline"):
                _use(offline)
                st.rerun()
        elif st.button("Use this recipe", key="recipe_apply"):
            _use(recipe)
            st.rerun()
