"""Start training in the background and ask it to stop (no TensorFlow here).

``start_run`` creates a run folder and launches ``python -m tlcore train --spec
<run>/spec.json`` as a detached process (its own session, so closing the app or the
terminal does not kill it; output goes to ``worker.log`` in the run folder) and returns
at once. ``start_comparison`` makes the split once, creates every run up front (queued,
same group, same split and seed) and launches ONE process that trains them one after
another: ``python -m tlcore.runs.worker SPEC...`` (so the machine never trains two at once).

The pid is written into ``status.json`` right after launch, so a worker that dies
before it starts still lists as ``interrupted`` rather than queued forever.
"""

import contextlib
import os
import subprocess
import sys
from pathlib import Path

from tlcore import workspace
from tlcore.config import FreezeConfig, TrainConfig
from tlcore.errors import ConfigError, RunError, TransferLabError
from tlcore.runs import store

_PACKAGE_PARENT = str(Path(__file__).resolve().parents[2])  # the folder holding tlcore/


def _launch(args: list[str], log_path: Path) -> int:
    env = dict(os.environ)
    env[workspace.ENV_VAR] = str(workspace.home())  # the same workspace, whatever the cwd
    env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_PARENT, env.get("PYTHONPATH")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, *args],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
            env=env,
            cwd=_PACKAGE_PARENT,
        )
    return proc.pid


def _record_pid(run_dir: Path, pid: int) -> None:
    # Only fill in the pid: the worker itself may already have written "running".
    store.update_status(run_dir, pid=pid)


def _launch_or_fail(args: list[str], infos: list[store.RunInfo]) -> int:
    try:
        return _launch(args, infos[0].path / "worker.log")
    except OSError as e:  # no process was started: do not leave runs queued forever
        for info in infos:
            store.update_status(
                info.path,
                status="failed",
                ended=store.now_iso(),
                error=f"Could not start the training process ({e}).",
            )
        raise RunError(f"Could not start the training process ({e}).") from None


def start_run(config: TrainConfig, split: object = None) -> str:
    """Create a run and train it in a background process; return the run id at once."""
    info = store.create_run(config, split=split)
    pid = _launch_or_fail(["-m", "tlcore", "train", "--spec", str(info.path / "spec.json")], [info])
    _record_pid(info.path, pid)
    return info.run_id


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
) -> tuple[str, list[store.RunInfo]]:
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
    """Create the runs of a comparison and train them one after another in the background.

    Returns:
        The group id (``store.list_runs(group=...)`` lists its runs).
    """
    group, infos = prepare_comparison(config, freezes, names)
    specs = [str(i.path / "spec.json") for i in infos]
    pid = _launch_or_fail(["-m", "tlcore.runs.worker", *specs], infos)
    for info in infos:
        _record_pid(info.path, pid)
        if info is not infos[0]:  # one process, one log: every run folder points at it
            with contextlib.suppress(OSError):
                os.symlink(infos[0].path / "worker.log", info.path / "worker.log")
    return group


def request_stop(ref: str | os.PathLike) -> None:
    """Ask a run to stop after its current batch (it keeps the best model so far)."""
    path = store.run_path(ref)
    (path / store.STOP_FLAG).write_text(store.now_iso() + "\n", encoding="utf-8")


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
            store.update_status(run_dir, status="stopped", ended=store.now_iso(), error=None)
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
