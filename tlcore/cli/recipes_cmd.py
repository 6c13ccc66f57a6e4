"""``python -m tlcore recipes``: the recipes ``train --recipe NAME`` takes, one a line."""

import argparse

from tlcore.cli.output import emit_json, say, table
from tlcore.training.recipes import OFFLINE_RECIPES, RECIPES, needs_download


def run(args: argparse.Namespace) -> int:
    """List every recipe: its name, what it is, and whether its weights need a download."""
    rows = [
        {
            "name": recipe.key,
            "description": recipe.display_name,
            "tutorial": recipe.tutorial,
            "weights": recipe.template.weights,
            "needs_download": needs_download(recipe.template),
        }
        for recipe in (*RECIPES.values(), *OFFLINE_RECIPES.values())
    ]
    if args.json:
        emit_json({"recipes": rows})
        return 0
    shown = [
        {
            "name": r["name"],
            "weights": _weights(r),
            "description": r["description"],
        }
        for r in rows
    ]
    say(table(shown, ["name", "weights", "description"]))
    say()
    say("Train one with `python -m tlcore train DATA --recipe NAME`; a name ending in _lite0")
    say("is the same recipe on EfficientNet-Lite0, whose weights come with TransferLab.")
    return 0


def _weights(row: dict) -> str:
    if row["weights"] != "imagenet":
        return "none (from scratch)"
    return "download first" if row["needs_download"] else "on this computer"
