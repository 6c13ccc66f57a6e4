"""Compare freezing strategies: same data, same split, same seed, one after another.

The runs are ordinary runs of one group (``run_info.list_runs(group=...)``), so the app shows
them like any other; ``comparison_rows`` turns them into the table the UI and the CLI
print. ``compare`` trains in this process (the CLI); the app uses
``tlcore.runs.worker.start_comparison`` to do the same in the background.
"""

from collections.abc import Callable
from typing import Any

from tlcore.config import FreezeConfig, TrainConfig
from tlcore.runs import run_files, run_info


def row(info: run_info.RunInfo) -> dict[str, Any]:
    """One table row: strategy/name, run id, parameters, epochs, accuracies, seconds."""
    metrics = run_files.read_metrics(info.path) or {}
    return {
        "strategy": info.config.freeze.strategy,
        "name": info.name or info.config.freeze.strategy,
        "run_id": info.run_id,
        "status": info.status,
        "trainable_params": info.trainable_params,
        "epochs": info.epochs_run,
        "best_val_accuracy": info.best_val_accuracy,
        "test_accuracy": metrics.get("test_accuracy", info.test_accuracy),
        "seconds": info.seconds,
    }


def comparison_rows(group: str) -> list[dict[str, Any]]:
    """The table of a comparison group, in the order its runs were created."""
    infos = sorted(run_info.list_runs(group=group), key=lambda i: (i.created or "", i.run_id))
    return [row(i) for i in infos]


def compare(
    config: TrainConfig,
    freezes: list[FreezeConfig],
    names: list[str] | None = None,
    on_start: Callable[[run_info.RunInfo], None] | None = None,
    echo: Callable[[dict], None] | None = None,
) -> list[dict[str, Any]]:
    """Train every strategy in turn in this process; return the table rows.

    A stop (Ctrl-C / SIGTERM) during one run stops it and skips the rest (marked stopped).
    """
    from tlcore.runs.job import signal_received, stop_on_signals, train_spec
    from tlcore.runs.worker import prepare_comparison

    _, infos = prepare_comparison(config, freezes, names)
    with stop_on_signals():
        done = _train_in_turn(infos, on_start, echo, signal_received, train_spec)
    return [row(i) for i in done]


def _train_in_turn(
    infos: list[run_info.RunInfo], on_start: Any, echo: Any, signalled: Any, train_spec: Any
) -> list[run_info.RunInfo]:
    done = []
    for info in infos:
        if signalled():
            run_files.update_status(info.path, status="stopped", ended=run_files.now_iso())
        else:
            if on_start is not None:
                on_start(info)
            train_spec(info.path, echo=echo)
        done.append(run_info.load_run(info.path))
    return done
