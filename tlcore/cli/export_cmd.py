"""``python -m tlcore export RUN --format ...``: write the model and check parity."""

import argparse

from tlcore.cli.output import emit_json, say


def run(args: argparse.Namespace) -> int:
    """Export; print where and how well the export agrees with the Keras model."""
    from tlcore.results.export import export_run

    result = export_run(args.run, args.format, args.out)
    if args.json:
        emit_json(result.to_dict())
        return 0
    say(f"exported {result.format} -> {result.path} (labels.txt beside it)")
    if result.agreement is None:
        say("parity: not checked (the run has no test or validation images)")
    else:
        say(
            f"parity: the exported model agrees with the Keras model on "
            f"{result.agreement:.1%} of {result.n_images} held-out images"
        )
    return 0
