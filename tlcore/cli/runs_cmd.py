"""``python -m tlcore runs``: list training runs, newest first."""

import argparse

from tlcore.cli.output import emit_json, say, table
from tlcore.runs import store


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value:.1%}"


def run(args: argparse.Namespace) -> int:
    """List runs (id, status, backbone, strategy, accuracies, when)."""
    infos = store.list_runs()
    rows = [i.summary() for i in infos]
    if not args.json:
        if not rows:
            say("No runs yet. Start one with `python -m tlcore train DATA --backbone NAME`.")
        else:
            shown = [
                {
                    **r,
                    "best_val_accuracy": _pct(r["best_val_accuracy"]),
                    "test_accuracy": _pct(r["test_accuracy"]),
                    "created": (r["created"] or "").replace("T", " ")[:19],
                }
                for r in rows
            ]
            say(
                table(
                    shown,
                    [
                        "run_id",
                        "status",
                        "backbone",
                        "strategy",
                        "best_val_accuracy",
                        "test_accuracy",
                        "created",
                    ],
                )
            )
            for info in infos:
                if info.status == "damaged":
                    say(f"{info.run_id}: {info.error}")
        return 0
    emit_json(rows)
    return 0
