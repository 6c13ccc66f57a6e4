"""The layer list on the Model page: a Freeze checkbox per layer, presets fill it, edits
make it custom, and the trainable / frozen counts follow.

Building a backbone needs TensorFlow, so it happens only here, on the Model page, behind
a spinner. The built network is cached per (backbone, size, weights) and only read:
``trainable_plan`` looks at layer names and blocks, it never changes the model, so one
cached copy can serve every session.
"""

from typing import Any

import streamlit as st

from tlcore.config import FreezeConfig
from tlcore.errors import TransferLabError
from tlcore.results import plots
from ui import model_config, warmup
from ui.state import wkey

# Keras' BatchNormalization: gamma and beta train, the moving mean and variance never do.
_BN_TYPES = ("BatchNormalization", "SyncBatchNormalization")
_NEVER_TRAINS = ("Normalization", "Rescaling", "InputLayer")


@st.cache_resource(max_entries=3, show_spinner=False)
def backbone(key: str, size: int, weights: str) -> Any:
    """Build the backbone once per (key, size, weights) for listing its layers."""
    from tlcore.models.backbone_models import build_backbone

    warmup.wait()
    # ImageNet weights do not change the layer list: build with random weights
    # (no download). "One of my models" / a model file need their weights to exist.
    listing_weights = weights if key in ("my_model", "keras_file") else "none"
    return build_backbone(key, size, weights=listing_weights)


@st.cache_data(max_entries=8, show_spinner=False)
def layer_rows(key: str, size: int, weights: str) -> list[dict[str, Any]]:
    """Every layer of the backbone as a plain dict (index, name, type, block, params)."""
    from tlcore.models.freezing import list_layers

    return [
        dict(layer.to_dict(), output_shape=str(tuple(layer.output_shape[1:])))
        for layer in list_layers(backbone(key, size, weights))
    ]


def plan(key: str, size: int, weights: str, freeze: FreezeConfig) -> list[bool]:
    """Whether each layer trains under ``freeze`` (BatchNorm rule applied)."""
    from tlcore.models.freezing import batchnorm_trains, trainable_plan

    rows = layer_rows(key, size, weights)
    trains = trainable_plan(backbone(key, size, weights), freeze)
    bn_trains = batchnorm_trains(freeze) or freeze.batchnorm_scale_trains
    return [
        t and (bn_trains or r["type"] not in _BN_TYPES) for t, r in zip(trains, rows, strict=True)
    ]


def counts(rows: list[dict[str, Any]], trains: list[bool], head: int) -> tuple[int, int]:
    """(trainable, frozen) parameters of backbone + head, as Keras would count them."""
    trainable = head
    frozen = 0
    for row, t in zip(rows, trains, strict=True):
        p = int(row["params"])
        if row["type"] in _NEVER_TRAINS:
            frozen += p
        elif row["type"] in _BN_TYPES:
            # gamma+beta may train; moving mean+variance never do
            half = p // 2
            trainable += half if t else 0
            frozen += p - (half if t else 0)
        elif t:
            trainable += p
        else:
            frozen += p
    return trainable, frozen


def head_params(rows: list[dict[str, Any]], num_classes: int) -> int:
    """Parameters of the new head: one Dense layer on the pooled features."""
    channels = 0
    for row in reversed(rows):
        shape = row["output_shape"].strip("()").split(",")
        try:
            channels = int(shape[-1] if shape[-1].strip() else shape[-2])
            break
        except (ValueError, IndexError):
            continue
    return channels * num_classes + num_classes


def block_names(rows: list[dict[str, Any]]) -> list[str]:
    """Block names in order, each once."""
    return list(dict.fromkeys(r["block"] for r in rows))


def render(key: str, size: int, weights: str, num_classes: int) -> int | None:
    """Draw the fine-tune options, the parameter counts and the layer table.

    Returns:
        The backbone's exact number of parameters (None if it could not be built).
    """
    try:
        with st.spinner(
            "Loading the network's layers (the first time takes a few seconds "
            "while TensorFlow starts)…"
        ):
            rows = layer_rows(key, size, weights)
    except TransferLabError as e:
        st.error(f"{e}")
        return None
    s = st.session_state
    names = {r["name"] for r in rows}
    if s.get("frozen_layers") is not None and not set(s["frozen_layers"]) <= names:
        s["frozen_layers"] = None  # a selection made for another network
    if s["strategy"] == "fine-tune" and s.get("frozen_layers") is None:
        _fine_tune_options(rows)
    freeze = model_config.freeze_config()
    try:
        trains = plan(key, size, weights, freeze)
    except TransferLabError as e:
        st.error(f"{e} Pick another block, or another strategy.")
        trains = plan(key, size, weights, FreezeConfig())
    head = head_params(rows, num_classes)
    trainable, frozen = counts(rows, trains, head)
    c1, c2, c3 = st.columns(3)
    c1.metric(
        "Parameters that train",
        f"{trainable:,}",
        help="Weights changed by training, including the new head "
        f"({head:,} for your {num_classes} classes).",
    )
    c2.metric("Frozen parameters", f"{frozen:,}", help="Pretrained weights kept as they are.")
    c3.metric("Layers that train", f"{sum(trains)} of {len(rows)}")
    st.plotly_chart(plots.params_figure(trainable, frozen), width="stretch", key="params_chart")
    if any("BatchNormalization" in r["type"] for r in rows):  # the Small CNN has none
        st.caption(
            ":material/lock: BatchNorm layers stay frozen even in retrained blocks: "
            "their statistics come from millions of images, and a few small batches of "
            "yours would spoil them."
            if not (s["train_batchnorm"] or s["strategy"] == "scratch")
            else "BatchNorm layers train too (from scratch, or as chosen in Advanced)."
        )

    with st.expander(
        f"The {len(rows)} layers — tick *Freeze* to keep a layer's weights",
        expanded=s.get("frozen_layers") is not None,
    ):
        _block_picker(rows)
        import pandas as pd  # here, not at the top: the Model page paints before it loads

        table = pd.DataFrame(
            {
                "Freeze": [not t for t in trains],
                "layer": [r["name"] for r in rows],
                "block": [r["block"] for r in rows],
                "type": [r["type"] for r in rows],
                "output": [r["output_shape"] for r in rows],
                "params": [r["params"] for r in rows],
            }
        )
        # A new key whenever the plan changes resets the editor to the plan's ticks.
        editor_key = f"layers_{key}_{size}_{hash((freeze, tuple(trains)))}"
        edited = st.data_editor(
            table,
            key=editor_key,
            hide_index=True,
            width="stretch",
            height=380,
            disabled=["layer", "block", "type", "output", "params"],
            column_config={
                "Freeze": st.column_config.CheckboxColumn(
                    "Freeze", help="Frozen = keep the pretrained weights unchanged."
                ),
                "params": st.column_config.NumberColumn("params", format="%d"),
            },
        )
        now_frozen = [r["name"] for r, f in zip(rows, edited["Freeze"], strict=True) if f]
        was_frozen = [r["name"] for r, f in zip(rows, table["Freeze"], strict=True) if f]
        if now_frozen != was_frozen:
            s["frozen_layers"] = now_frozen
            st.rerun()
    return sum(int(r["params"]) for r in rows)


def start_options(rows: list[dict], unfreeze_from: str | None, unfreeze_top: int | None) -> dict:
    """Where fine-tuning can start -> its label: the blocks, plus the exact point a recipe
    or an earlier run set (a layer index such as "100", a layer name, or the last N
    layers), which must be shown as it is, never rounded to a block."""
    blocks = [b for b in block_names(rows) if b != "stem"]
    options: dict = {}
    if unfreeze_top is not None:
        first = max(0, len(rows) - unfreeze_top)
        options[f"top:{unfreeze_top}"] = (
            f"the last {unfreeze_top} layers (from layer {first}, {rows[first]['name']})"
        )
    elif unfreeze_from is not None and unfreeze_from not in blocks:
        target = unfreeze_from.strip()
        index = (
            int(target)
            if target.isdigit() and int(target) < len(rows)
            else next((r["index"] for r in rows if r["name"] == target), None)
        )
        if index is not None:
            options[unfreeze_from] = f"layer {index} ({rows[index]['name']}) and up"
    options.update({b: b for b in blocks})
    return options


def _fine_tune_options(rows: list[dict]) -> None:
    s = st.session_state
    options = start_options(rows, s["unfreeze_from"], s["unfreeze_top"])
    keys = list(options)
    current = f"top:{s['unfreeze_top']}" if s["unfreeze_top"] is not None else s["unfreeze_from"]
    if current not in options:
        current = keys[-2] if len(keys) > 1 else keys[-1]
    pick = st.selectbox(
        "Retrain from this point up (everything before it stays frozen)",
        keys,
        index=keys.index(current),
        format_func=options.get,
        key=wkey("unfreeze_block"),
        help="Blocks near the end hold the most specific features; "
        "retraining fewer blocks is faster and safer with few images.",
    )
    if pick.startswith("top:"):
        s["unfreeze_from"], s["unfreeze_top"] = None, int(pick[4:])
    else:
        s["unfreeze_from"], s["unfreeze_top"] = pick, None


def _block_picker(rows: list[dict]) -> None:
    blocks = block_names(rows)
    c1, c2 = st.columns([3, 1])
    pick = c1.selectbox(
        "Freeze everything up to and including block",
        blocks,
        index=max(0, len(blocks) - 2),
        key="freeze_upto",
    )
    if c2.button("Freeze up to here", key="freeze_upto_apply"):
        last = max(i for i, r in enumerate(rows) if r["block"] == pick)
        st.session_state["frozen_layers"] = [r["name"] for r in rows[: last + 1]]
        st.rerun()
