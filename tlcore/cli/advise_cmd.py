"""``python -m tlcore advise DATA``: which strategy suits these images, measured in seconds.

Runs the strategy probe (``tlcore.training.probe``) with the network the model options
name and prints what it measured and the strategy it points to
(``tlcore.training.strategy_advice``), the same sentences the Model page shows.
"""

import argparse

from tlcore.cli import model_config
from tlcore.cli.output import emit_json, say, stage_printer


def run(args: argparse.Namespace) -> int:
    """Probe the dataset; print the measurements and the advice (or one JSON line)."""
    from tlcore.data.scan import scan
    from tlcore.training.probe import run_probe
    from tlcore.training.strategy_advice import advise

    report = scan(args.data)
    progress = stage_printer(quiet=args.json)

    result = run_probe(model_config(args, args.data), report, progress)
    advice = advise(result)
    if args.json:
        emit_json({**result.to_dict(), "advice": advice.to_dict()})
        return 0
    for line in advice.lines:
        say(line)
    say(f"(measured in {result.seconds:.1f} s)")
    return 0
