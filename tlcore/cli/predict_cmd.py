"""``python -m tlcore predict RUN_OR_MODEL IMAGE...``: top-k classes per image."""

import argparse

from tlcore.cli.output import emit_json, say


def run(args: argparse.Namespace) -> int:
    """Print each image's top-k labels; with --json, the list of predictions."""
    from tlcore.results.predict import load_predictor

    predictor = load_predictor(args.model)
    predictions = predictor.predict_paths(args.images, top_k=args.top_k)
    if args.json:
        emit_json([p.to_dict() for p in predictions])
        return 0
    for p in predictions:
        others = ", ".join(f"{label} {prob:.1%}" for label, prob in p.top_k[1:])
        say(f"{p.path}: {p.label} ({p.probability:.1%})" + (f"  [{others}]" if others else ""))
    return 0
