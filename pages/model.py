"""Model page: which pretrained network, which weights, what to freeze, augmentation, settings."""

import streamlit as st

from tlcore.errors import TransferLabError
from tlcore.models.backbones import BACKBONES, get_backbone
from tlcore.results import plots
from ui import (
    augment_preview,
    dataset,
    layer_table,
    model_config,
    recipe_view,
    strategy_probe,
    training_settings,
    warmup,
    weights_choice,
)
from ui.shell import page_setup
from ui.state import bound, widget_key

page_setup()

st.title("2 · Your model")
st.markdown(
    "You do not start from nothing: a **pretrained network** has already learned to see "
    "edges, textures and shapes from over a million photos. You keep most of it and train "
    "a small new part (the *head*) to recognise your classes."
)

if not st.session_state.get("data_path"):
    st.warning("First choose your images, so the model knows how many classes to learn.")
    st.page_link("pages/data.py", label="Go to 1 · Data", icon=":material/image:")
    st.stop()
try:
    report = dataset.current_report()
except TransferLabError as e:
    st.error(f"{e} Choose another dataset on the Data page.")
    st.page_link("pages/data.py", label="Go to 1 · Data", icon=":material/image:")
    st.stop()
tf_note = st.empty()
if not warmup.ready():
    # What the next seconds are spent on (building the layer list needs TensorFlow).
    tf_note.info(warmup.NOTE, icon=":material/hourglass_top:")

# --- Recipes: the one in use (or no longer), and the list ---------------------------------
recipe_slot = st.container()  # filled at the end, once every setting below is read
recipe_view.picker()

# --- Backbone ----------------------------------------------------------------------------
st.subheader("Network")
keys = list(BACKBONES)
st.selectbox(
    "Network",
    keys,
    format_func=lambda k: BACKBONES[k].display_name,
    help="Pretrained networks (most of the list) already know what photos look like; the "
    "Small CNN learns from nothing; or start from a model of your own. Bigger networks are "
    "usually more accurate but slower to train on a CPU.",
    **{**bound("backbone"), "on_change": model_config.backbone_changed},
)
spec = get_backbone(st.session_state["backbone"])
size = model_config.image_size()
c1, c2, c3 = st.columns([4, 1, 1])
c1.markdown(spec.description)
size_metric = c2.empty()  # the exact count once the layers are listed; till then the registry's
if spec.params_millions:
    size_metric.metric("Size", f"{spec.params_millions:.2f} M", help="Millions of parameters.")
c3.metric(
    "Image size",
    f"{size} px",
    help="Images are resized to this square."
    + (" Set by the model you start from." if model_config.fixed_size() else ""),
)
with st.expander("Compare the networks"):
    st.dataframe(
        [
            {
                "network": b.display_name,
                "size (M parameters)": b.params_millions or None,
                "image size": b.default_size,
                "what it is good for": b.description,
            }
            for b in BACKBONES.values()
        ],
        hide_index=True,
    )
weights_choice.choose(spec.key, size, spec.pretrained)
if model_config.image_size() != size:
    st.rerun()  # the model to start from changed the size: redraw the header with it
needs_source = spec.key in ("my_model", "keras_file")

# --- Strategy ----------------------------------------------------------------------------
st.subheader("What to retrain")
from tlcore.models.freezing import STRATEGIES, unavailable_reason  # noqa: E402  (no TensorFlow)

strategy_probe.render(spec, report)
custom = st.session_state.get("frozen_layers") is not None
# "Custom" is offered only once the person has edited the layer table; a strategy that
# cannot run with this network is not offered (its reason is said below the list).
unavailable = {k: unavailable_reason(k, spec) for k in STRATEGIES if unavailable_reason(k, spec)}
presets = [k for k in STRATEGIES if (k != "custom" or custom) and k not in unavailable]
if st.session_state["strategy"] in unavailable:
    st.session_state["strategy"] = "feature-extraction"


def _strategy_widget(spec) -> str:
    # A list without some strategy is another widget: a choice the browser still holds
    # from the longer list (e.g. "From scratch") must not come back as a choice in this one.
    return widget_key("strategy") + "".join(
        f"_no_{k}" for k in STRATEGIES if unavailable_reason(k, spec)
    )


def _preset_changed(widget: str) -> None:
    picked = st.session_state[widget]
    # The browser may still report the list shown for the network before (see above):
    # only the list of the network chosen now can change the strategy.
    if widget != _strategy_widget(get_backbone(st.session_state["backbone"])):
        return
    if picked == "custom" or picked not in STRATEGIES:
        return
    model_config.choose_strategy(picked)


strategy_widget = _strategy_widget(spec)
st.session_state[strategy_widget] = "custom" if custom else st.session_state["strategy"]
st.radio(
    "Strategy",
    presets,
    key=strategy_widget,
    on_change=_preset_changed,
    args=(strategy_widget,),
    format_func=lambda k: STRATEGIES[k].display_name,
    captions=[
        STRATEGIES[k].description
        if k != "custom"
        else "Your own selection from the layer table below. Pick a preset to start over."
        for k in presets
    ],
    help="*Freezing* a layer means keeping its pretrained weights unchanged.",
)
for reason in unavailable.values():
    st.caption(f":material/block: {reason}")

# --- Layers --------------------------------------------------------------------------------
if needs_source and not st.session_state["weights"]:
    st.info("The layer list appears once you have picked the model to start from (above).")
else:
    total = layer_table.render(spec.key, size, st.session_state["weights"], len(report.classes))
    if total:
        size_metric.metric(
            "Size",
            f"{total / 1e6:.2f} M",
            help=f"{total:,} parameters (weights) in the network, without the new head.",
        )
tf_note.empty()

# --- Augmentation ------------------------------------------------------------------------
st.subheader("Augmentation")
augment_preview.render(report)

# --- Training settings ------------------------------------------------------------------
training_settings.render(spec)
if model_config.image_size() != size:
    st.rerun()  # the size was just chosen below: redraw the figure and layers above with it
left, right = st.columns(2)
left.page_link("pages/train.py", label="Next: train it", icon=":material/arrow_forward:")
right.page_link("pages/compare.py", label="…or compare strategies", icon=":material/balance:")
_ = plots  # the parameter chart is drawn by layer_table
with recipe_slot:
    recipe_view.header(model_config.build_config())
