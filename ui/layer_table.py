"""The editable layer table: a Freeze checkbox per layer, presets fill it, edits make it custom."""

import pandas as pd
import streamlit as st
from tlcore.config import FreezeConfig
from tlcore.errors import TransferLabError
from tlcore.results import plots
from ui import layers, model_config


def render(key: str, size: int, weights: str, num_classes: int) -> None:
    """Draw the fine-tune options, the parameter counts and the layer table."""
    try:
        with st.spinner(
            "Loading the network's layers (the first time takes a few seconds "
            "while TensorFlow starts)…"
        ):
            rows = layers.layer_rows(key, size, weights)
    except TransferLabError as e:
        st.error(f"{e}")
        return
    s = st.session_state
    names = {r["name"] for r in rows}
    if s.get("frozen_layers") is not None and not set(s["frozen_layers"]) <= names:
        s["frozen_layers"] = None  # a selection made for another network
    if s["strategy"] == "fine-tune" and s.get("frozen_layers") is None:
        _fine_tune_options(rows)
    freeze = model_config.freeze_config()
    try:
        trains = layers.plan(key, size, weights, freeze)
    except TransferLabError as e:
        st.error(f"{e} Pick another block, or another strategy.")
        trains = layers.plan(key, size, weights, FreezeConfig())
    head = layers.head_params(rows, num_classes)
    trainable, frozen = layers.counts(rows, trains, head)
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


def _fine_tune_options(rows: list[dict]) -> None:
    s = st.session_state
    blocks = [b for b in layers.blocks(rows) if b != "stem"]
    default = (
        s["unfreeze_from"]
        if s["unfreeze_from"] in blocks
        else (blocks[-2] if len(blocks) > 1 else blocks[-1])
    )
    pick = st.selectbox(
        "Retrain from this block up (everything before it stays frozen)",
        blocks,
        index=blocks.index(default),
        key="unfreeze_block",
        help="Blocks near the end hold the most specific features; "
        "retraining fewer blocks is faster and safer with few images.",
    )
    s["unfreeze_from"], s["unfreeze_top"] = pick, None


def _block_picker(rows: list[dict]) -> None:
    blocks = layers.blocks(rows)
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
