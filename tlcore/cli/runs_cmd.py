"""``python -m tlcore runs``: list training runs, newest first; ``runs delete RUN``."""

import argparse

from tlcore.cli.output import emit_json, say, table
from tlcore.errors import RunError
from tlcore.runs import run_info, store


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value:.1%}"


def run(args: argparse.Namespace) -> int:
    """List runs (id, status, backbone, strategy, accuracies, when), or delete one."""
    if args.action == "delete":
        return _delete(args)
    if args.run:
        raise RunError(f"Unknown words after `runs`: '{args.run}'. Did you mean `runs delete RUN`?")
    infos = run_info.list_runs()
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


def _delete(args: argparse.Namespace) -> int:
    """Delete one run, damaged or not (a folder that is a link: the link only)."""
    if not args.run:
        raise RunError(
            "Say which run to delete: `python -m tlcore runs delete RUN` "
            "(`python -m tlcore runs` lists the run ids)."
        )
    run_id = store.delete_run(args.run)
    if args.json:
        emit_json({"deleted": run_id})
    else:
        say(f"Deleted run {run_id}.")
    return 0
