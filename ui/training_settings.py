"""Training settings under an "Advanced" expander: chosen from the images by default."""

from typing import Any

import streamlit as st

from tlcore.config import OPTIMIZERS, RESIZE_MODES
from tlcore.errors import TransferLabError
from ui import model_config
from ui.state import DEFAULT_TRAINING, wkey

LEARNING_RATES = [1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2]


def render(spec: Any) -> None:
    """Draw the settings; values go to ``st.session_state["training"]``."""
    t = {**DEFAULT_TRAINING, **st.session_state["training"]}
    with st.expander(
        "Advanced training settings (the defaults are fine to start)", icon=":material/settings:"
    ):
        t["auto"] = st.toggle(
            "Choose the training settings from my images (recommended)",
            bool(t["auto"]),
            key=wkey("set_auto"),
            help="Epochs, batch size, learning rates, early stopping, how the head is "
            "trained and how accuracy is measured, picked for how many images you have. "
            "Turn off to set them yourself.",
        )
        st.session_state["training"] = t
        if t["auto"]:
            _explain_auto()
        else:
            _optimizer_settings(t)
        _image_settings(spec, t)
        if not t["auto"]:
            _phase_settings(t)
    st.session_state["training"] = t


def _explain_auto() -> None:
    """The settings the data chose, one plain line each."""
    try:
        _cfg, defaults = model_config.resolved_config()
    except TransferLabError as e:
        st.caption(f"Chosen when training starts ({e})")
        return
    if defaults is None:
        st.caption("Chosen from your images when training starts.")
        return
    lines = list(dict.fromkeys(defaults.reasons.values()))
    st.markdown("**Chosen for your images:**\n" + "\n".join(f"- {line}" for line in lines))


def _optimizer_settings(t: dict[str, Any]) -> None:
    c1, c2, c3 = st.columns(3)
    t["epochs"] = c1.number_input(
        "Epochs",
        1,
        500,
        int(t["epochs"]),
        key=wkey("set_epochs"),
        help="One epoch = the model sees every training image once. More epochs learn "
        "more, until the model starts memorising (early stopping watches for that).",
    )
    t["batch_size"] = c2.select_slider(
        "Batch size",
        sorted({4, 8, 16, 32, 64, 128, int(t["batch_size"])}),
        int(t["batch_size"]),
        key=wkey("set_batch"),
        help="Images looked at together before each small update. Smaller uses less memory.",
    )
    t["learning_rate"] = c3.select_slider(
        "Learning rate",
        _with(t["learning_rate"]),
        float(t["learning_rate"]),
        key=wkey("set_lr"),
        format_func=lambda v: f"{v:g}",
        help="How big each update step is. Too high: training jumps around; too low: "
        "slow. Retraining pretrained layers needs a low one (1e-4 or less).",
    )
    c4, c5 = st.columns(2)
    t["optimizer"] = c4.selectbox(
        "Optimizer",
        OPTIMIZERS,
        OPTIMIZERS.index(t["optimizer"]),
        key=wkey("set_optimizer"),
        format_func={"adam": "Adam", "rmsprop": "RMSprop", "sgd": "SGD"}.get,
        help="How each update is computed from the gradients. Adam suits most runs.",
    )
    from tlcore.training.run_summary import setting_text

    c5.markdown(f"**Head:** {setting_text(model_config.build_config(), 'pooling')}")
    t["solve_head"] = st.checkbox(
        "Solve the head exactly on the frozen network's features (no epochs for the head)",
        bool(t["solve_head"]),
        key=wkey("set_solve_head"),
        disabled=bool(t["head_units"]) or t["pooling"] != "avg",
        help="Multinomial logistic regression with its regularisation chosen by "
        "cross-validation; only with augmentation off and a one-layer head.",
    )
    t["early_stopping_patience"] = st.number_input(
        "Early stopping patience",
        0,
        50,
        int(t["early_stopping_patience"]),
        key=wkey("set_patience"),
        help="Stop when the validation loss has not improved for "
        "this many epochs, and keep the best epoch (0 = never stop early).",
    )


def _image_settings(spec: Any, t: dict[str, Any]) -> None:
    c1, c2 = st.columns(2)
    fixed = model_config.fixed_size()
    if fixed:
        c1.markdown(f"**Image size:** {fixed} px")
        c1.caption("Set by the model you start from: it only takes this size.")
    else:
        size = int(t["image_size"] or spec.default_size)
        sizes = sorted(
            v
            for v in {spec.default_size, size, 32, 64, 96, 128, 160, 192, 224, 299}
            if v >= spec.min_size
        )
        t["image_size"] = c1.select_slider(
            "Image size (px)",
            sizes,
            size,
            key=wkey(f"set_size_{spec.key}"),
            help="Bigger sees more detail but trains slower.",
        )
        if t["image_size"] == spec.default_size:
            t["image_size"] = None  # follow the network's default if it changes
    t["resize_mode"] = c2.selectbox(
        "Make images square by",
        RESIZE_MODES,
        RESIZE_MODES.index(t["resize_mode"]),
        key=wkey("set_resize"),
        format_func={
            "pad": "padding (keeps everything)",
            "crop": "cropping the centre",
            "stretch": "stretching",
        }.get,
    )
    t["try_mirror"] = st.checkbox(
        "Also try mirror images (a solved head averages each image with its mirror image "
        "if cross-validation says that helps)",
        bool(t["try_mirror"]),
        key=wkey("set_try_mirror"),
        help="Costs one more pass of the network over your images. Leave it off when a "
        "mirror image can be a different class: arrows, letters, left vs right hands.",
    )


def _phase_settings(t: dict[str, Any]) -> None:
    t["two_phase"] = st.checkbox(
        "Two phases: train the head first, then retrain the chosen layers gently",
        bool(t["two_phase"]),
        key=wkey("set_two_phase"),
        help="The Keras guide's recipe: a new, random head would send large, noisy "
        "updates into the pretrained layers, so it learns alone first.",
    )
    if t["two_phase"]:
        c1, c2 = st.columns(2)
        t["head_epochs"] = c1.number_input(
            "Head-only epochs", 1, 100, int(t["head_epochs"]), key=wkey("set_head_epochs")
        )
        t["fine_tune_learning_rate"] = c2.select_slider(
            "Second-phase learning rate",
            _with(t["fine_tune_learning_rate"]),
            float(t["fine_tune_learning_rate"]),
            key=wkey("set_ft_lr"),
            format_func=lambda v: f"{v:g}",
        )
        names = ("same as the first phase", *OPTIMIZERS)
        picked = st.selectbox(
            "Second-phase optimizer",
            names,
            names.index(t["fine_tune_optimizer"] or names[0]),
            key=wkey("set_ft_optimizer"),
        )
        t["fine_tune_optimizer"] = None if picked == names[0] else picked
    t["dropout"] = st.slider(
        "Dropout before the head",
        0.0,
        0.7,
        float(t["dropout"]),
        0.05,
        key=wkey("set_dropout"),
        help="Randomly ignores some features while training, "
        "which makes the model rely on many clues, not one.",
    )
    st.checkbox(
        "Let BatchNorm layers train too (rarely helps)",
        key=wkey("_w_train_batchnorm"),
        value=bool(st.session_state["train_batchnorm"]),
    )
    st.session_state["train_batchnorm"] = st.session_state[wkey("_w_train_batchnorm")]


def _with(value: float) -> list[float]:
    """The learning-rate choices including ``value`` itself: a recipe's 1e-5 or a run's
    0.00071 is shown as it is, never moved to the nearest choice."""
    return sorted({*LEARNING_RATES, float(value)})
