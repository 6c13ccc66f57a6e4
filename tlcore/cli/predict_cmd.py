"""``python -m tlcore predict RUN_OR_MODEL IMAGE...``: top-k classes per image."""

import argparse

from tlcore.cli.output import emit_json, say
from tlcore.errors import ConfigError


def run(args: argparse.Namespace) -> int:
    """Print each image's top-k labels; with --json, the list of predictions."""
    from tlcore.results.predict import load_predictor

    if args.top_k < 1:
        raise ConfigError(f"--top-k must be 1 or more (got {args.top_k}).")
    if not all(args.images):  # "" would be read as the current folder
        raise ConfigError("An image path is empty: give image files, e.g. photo.jpg.")
    predictor = load_predictor(args.model)
    predictions = predictor.predict_paths(args.images, top_k=args.top_k)
    if args.json:
        emit_json([p.to_dict() for p in predictions])
        return 0
    for p in predictions:
        others = ", ".join(f"{label} {prob:.1%}" for label, prob in p.top_k[1:])
        say(f"{p.path}: {p.label} ({p.probability:.1%})" + (f"  [{others}]" if others else ""))
    return 0
