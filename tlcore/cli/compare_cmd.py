"""``python -m tlcore compare``: several strategies, same split and seed, one table."""

import argparse
import sys
from typing import Any

from tlcore.cli.output import emit_json, say, table
from tlcore.cli.train_cmd import config_from_args, echo_event
from tlcore.config import FreezeConfig, TrainConfig
from tlcore.errors import ConfigError
from tlcore.training.budget import DEFAULT_BUDGET_SECONDS

COLUMNS = [
    "strategy",
    "accuracy",
    "interval",
    "images",
    "trainable_params",
    "epochs",
    "seconds",
    "status",
    "run_id",
]


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.1%}"


def run(args: argparse.Namespace) -> int:
    """Train each strategy in turn (foreground) and print the comparison table."""
    from tlcore.results import comparison
    from tlcore.runs.compare import compare
    from tlcore.runs.run_info import load_run

    names = [s.strip() for s in args.strategies.split(",") if s.strip()]
    if not names:
        raise ConfigError(
            "Give at least one strategy, e.g. --strategies feature-extraction,fine-tune,full."
        )
    config = config_from_args(args, strategy=names[0])
    if args.budget is None:
        config = config.replace(budget_seconds=DEFAULT_BUDGET_SECONDS)
    freezes = [
        FreezeConfig(
            strategy=n,
            unfreeze_top=args.unfreeze,
            unfreeze_from=args.unfreeze_from,
            train_batchnorm=args.train_batchnorm,
        )
        for n in names
    ]
    from tlcore.data.scan import scan
    from tlcore.runs.comparison_plan import paired_scoring

    report = scan(config.data)
    config, scoring = paired_scoring(config, report)
    if not args.json:
        say(scoring)
    _check_budget(config, freezes, names, report, quiet=args.json)
    rows = compare(
        config,
        freezes,
        names,
        on_start=None if args.json else lambda i: say(f"--- {i.name}: {i.run_id}"),
        echo=None if args.json else echo_event,
    )
    failed = [r for r in rows if r["status"] == "failed"]
    result = comparison.report([load_run(r["run_id"]) for r in rows])
    if args.json:
        emit_json(result)
    else:
        _print(result)
    if failed:
        print(
            f"error: {len(failed)} of {len(rows)} runs failed; the first said: "
            f"{load_run(failed[0]['run_id']).error}",
            file=sys.stderr,
        )
        return 2
    return 0


def _check_budget(
    config: TrainConfig, freezes: list[FreezeConfig], names: list[str], report: Any, quiet: bool
) -> None:
    """Say what the budget allows before anything starts; refuse one that fits no epoch."""
    from tlcore.runs.comparison_plan import check_fits, preview, total_sentence

    plans = preview(config, freezes, names, report)
    check_fits(plans)
    if not quiet:
        say(total_sentence(config, plans))
        for p in plans:
            say(f"  {p.sentence}")


def _print(result: dict) -> None:
    from tlcore.results.comparison import ranked

    say()
    say(
        table(
            [
                {
                    **r,
                    "accuracy": _pct(r["accuracy"]),
                    "interval": "-"
                    if r["interval"] is None
                    else f"{r['interval'][0]:.0%}-{r['interval'][1]:.0%}",
                    "trainable_params": f"{r['trainable_params'] or 0:,}",
                    "seconds": f"{r['seconds'] or 0:.1f}",
                }
                for r in ranked(result["runs"])
            ],
            COLUMNS,
        )
    )
    say()
    say(result["verdict"])
