"""``python -m tlcore layers``: a backbone's layers and what a freezing plan trains."""

import argparse

from tlcore.cli import model_config
from tlcore.cli.output import emit_json, say, table


def run(args: argparse.Namespace) -> int:
    """List the layers with trainable flags and blocks; print the parameter counts."""
    from tlcore.models.backbone_models import build_backbone
    from tlcore.models.backbones import get_backbone
    from tlcore.models.classifier import effective_weights, image_size_for
    from tlcore.models.freezing import apply_freeze, get_strategy, list_layers, param_counts

    config = model_config(args)
    spec = get_backbone(config.backbone)
    strategy = get_strategy(config.freeze.strategy)
    config.freeze.validate()
    size = image_size_for(config)
    weights = effective_weights(config)
    # Pretrained weights change neither the list nor the counts: build standard backbones
    # with random weights so the listing is instant and works offline.
    build_weights = weights if spec.key in ("my_model", "keras_file") else "none"
    backbone = build_backbone(spec.key, size, build_weights)
    apply_freeze(backbone, config.freeze)
    layers = list_layers(backbone)
    trainable, frozen = param_counts(backbone)

    rows = [
        {
            "#": li.index,
            "name": li.name,
            "type": li.type,
            "output": "x".join(str(d) for d in li.output_shape[1:]),
            "params": li.params,
            "trainable": "yes" if li.trainable else "-",
            "block": li.block,
        }
        for li in layers
    ]
    say(table(rows, ["#", "name", "type", "output", "params", "trainable", "block"]))
    say()
    say(
        f"{spec.display_name} at {size} px, weights {weights}, strategy "
        f"{strategy.display_name}: {trainable:,} trainable and {frozen:,} frozen backbone "
        "parameters (the new classification head trains as well)."
    )
    if args.json:
        emit_json(
            {
                "backbone": spec.key,
                "image_size": size,
                "weights": weights,
                "strategy": strategy.key,
                "layers": [
                    {
                        "name": li.name,
                        "type": li.type,
                        "params": li.params,
                        "trainable": li.trainable,
                        "block": li.block,
                    }
                    for li in layers
                ],
                "trainable_params": trainable,
                "non_trainable_params": frozen,
            }
        )
    return 0
