"""Start training in the background and ask it to stop (no TensorFlow here).

``start_run`` creates a run folder, puts it in line (``tlcore.runs.queue``) and makes
sure a worker process is there to train it, and returns at once. The worker is detached
(its own session: closing the app or the terminal does not stop it), keeps TensorFlow
loaded between runs, trains one run at a time by default and writes each run's output
to ``worker.log`` in its folder. ``start_comparison`` makes the split once and creates
every run up front (queued, same group, same split and seed), in line one after another.

A run waiting in line has no pid yet; the worker writes its pid when it takes the run.
``main`` (``python -m tlcore.runs.worker SPEC...``) still trains given specs one after
another in the foreground, for scripts.
"""

import contextlib
import os
import sys
import time
from pathlib import Path

from tlcore import fsutil, workspace
from tlcore.config import FreezeConfig, TrainConfig
from tlcore.errors import ConfigError, RunError, TransferLabError
from tlcore.runs import queue, run_files, run_info, store

TWIN_SECONDS = 10.0  # the same run asked for twice this quickly is a double click


def _queue_or_fail(infos: list[run_info.RunInfo]) -> None:
    try:
        for info in infos:
            queue.enqueue(info)
        queue.ensure_worker()
    except RunError as e:
        _fail(infos, e)
    except OSError as e:  # e.g. the disk is full
        text = fsutil.os_error_text(e, e.filename or workspace.home())
        _fail(infos, RunError(f"Could not put the run in line: {text}."))


def _fail(infos: list[run_info.RunInfo], error: RunError) -> None:
    """Nothing will train these runs: take them out of line, mark them failed, raise."""
    waiting = set(queue.waiting_run_ids())
    for info in infos:
        if info.run_id in waiting:
            queue.withdraw(info.run_id)
        with contextlib.suppress(OSError):
            run_files.update_status(
                info.path, status="failed", ended=run_files.now_iso(), error=str(error)
            )
    raise error


def start_run(config: TrainConfig, split: object = None, defaults: object = None) -> str:
    """Create a run and put it in line for the background worker; return its id at once.

    The same config and split asked for again within ``TWIN_SECONDS`` while the first is
    still waiting or has just been taken by a worker (a double click, a second tab, even
    at the same instant from two processes) gives the first run's id, not a new run.
    ``defaults``: the data's defaults already applied to ``config``, kept for their reasons.
    """
    with queue.starting():  # the check and the start are one step for every process
        twin = _recent_twin(config, split)
        if twin is not None:
            return twin
        info = store.create_run(config, split=split, defaults=defaults)
        _queue_or_fail([info])
    return info.run_id


def _recent_twin(config: TrainConfig, split: object) -> str | None:
    wanted = {"config": config.to_dict(), "split": split.to_dict() if split else None}
    for run_id in reversed(queue.claimed_run_ids() + queue.waiting_run_ids()):
        try:
            info = run_info.load_run(run_id)
            spec = run_files.read_spec(run_id)
        except TransferLabError:
            continue
        age = time.time() - _created_at(info)
        if age <= TWIN_SECONDS and {k: spec.get(k) for k in wanted} == wanted:
            return run_id
    return None


def _created_at(info: run_info.RunInfo) -> float:
    from datetime import datetime

    try:
        return datetime.fromisoformat(info.created or "").timestamp()
    except ValueError:
        return 0.0


def comparison_configs(
    config: TrainConfig, freezes: list[FreezeConfig], names: list[str] | None = None
) -> list[TrainConfig]:
    """Return one config per freezing plan (same everything else, named)."""
    if not freezes:
        raise ConfigError("Choose at least one strategy to compare.")
    names = list(names or [])
    if names and len(names) != len(freezes):
        raise ConfigError("Give one name per strategy to compare.")
    configs = []
    for i, freeze in enumerate(freezes):
        name = names[i] if names else freeze.strategy
        configs.append(config.replace(freeze=freeze, name=name))
    return configs


def prepare_comparison(
    config: TrainConfig, freezes: list[FreezeConfig], names: list[str] | None = None
) -> tuple[str, list[run_info.RunInfo]]:
    """Scan once, split once, and create every run of a comparison (queued, one group)."""
    from tlcore.data.scan import scan
    from tlcore.data.split import make_split

    configs = comparison_configs(config, freezes, names)
    for c in configs:
        c.validate()
        store._check_names(c)
    report = scan(config.data)
    split = make_split(report, config.split)
    group = "cmp-" + store.new_run_id(config)
    infos = [store.create_run(c, split=split, group=group, report=report) for c in configs]
    return group, infos


def start_comparison(
    config: TrainConfig, freezes: list[FreezeConfig], names: list[str] | None = None
) -> str:
    """Create the runs of a comparison and put them in line, in order, for the worker.

    Returns:
        The group id (``run_info.list_runs(group=...)`` lists its runs).
    """
    group, infos = prepare_comparison(config, freezes, names)
    _queue_or_fail(infos)
    return group


def request_stop(ref: str | os.PathLike) -> None:
    """Ask a run to stop after its current batch (it keeps the best model so far).

    A run still waiting in line is taken out of it and ends ``stopped`` at once.
    """
    path = run_files.run_path(ref)
    (path / run_files.STOP_FLAG).write_text(run_files.now_iso() + "\n", encoding="utf-8")
    if queue.withdraw(path.name):
        run_files.update_status(path, status="stopped", ended=run_files.now_iso(), error=None)


def main(argv: list[str] | None = None) -> int:
    """Train the given spec files one after another (the comparison worker)."""
    from tlcore.runs.job import stop_on_signals

    with stop_on_signals():  # also between runs: a signal stops the rest of the group
        _train_all(list(sys.argv[1:] if argv is None else argv))
    return 0


def _train_all(specs: list[str]) -> None:
    from tlcore.runs.job import train_spec

    for spec in specs:
        run_dir = Path(spec).resolve().parent
        if _signalled():  # a signal (not a stop flag on one run) stops the whole group
            run_files.update_status(
                run_dir, status="stopped", ended=run_files.now_iso(), error=None
            )
            continue
        try:
            train_spec(run_dir)
        except TransferLabError as e:  # e.g. deleted meanwhile: go on with the others
            print(f"error: {e}", file=sys.stderr)


def _signalled() -> bool:
    from tlcore.runs import job

    return job.signal_received()


if __name__ == "__main__":
    sys.exit(main())
