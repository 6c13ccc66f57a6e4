"""The layer list on the Model page: which layers a plan freezes, as a table with counts.

Building a backbone needs TensorFlow, so it happens only here, on the Model page, behind
a spinner. The built network is cached per (backbone, size, weights) and only read:
``trainable_plan`` looks at layer names and blocks, it never changes the model, so one
cached copy can serve every session.
"""

from typing import Any

import streamlit as st
from tlcore.config import FreezeConfig

# Keras' BatchNormalization: gamma and beta train, the moving mean and variance never do.
_BN_TYPES = ("BatchNormalization", "SyncBatchNormalization")
_NEVER_TRAINS = ("Normalization", "Rescaling", "InputLayer")


@st.cache_resource(max_entries=3, show_spinner=False)
def backbone(key: str, size: int, weights: str) -> Any:
    """Build the backbone once per (key, size, weights) for listing its layers."""
    from tlcore.models.backbone_models import build_backbone

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
    bn_trains = batchnorm_trains(freeze)
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


def blocks(rows: list[dict[str, Any]]) -> list[str]:
    """Block names in order, each once."""
    return list(dict.fromkeys(r["block"] for r in rows))
