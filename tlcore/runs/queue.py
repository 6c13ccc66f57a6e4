"""The training queue: runs wait in line for a long-lived worker that keeps TensorFlow loaded.

Starting a run in the background (``tlcore.runs.worker.start_run`` / ``start_comparison``)
creates its folder as before and puts a ticket in ``<workspace>/queue/waiting/``, named
by time so the oldest comes first. ``ensure_worker`` then starts a worker process
(``python -m tlcore.runs.queue``, detached, in its own session) unless enough workers are
running already: each worker holds one of ``TRANSFERLAB_MAX_RUNS`` slot locks (default 1:
on a CPU, one training at a time uses every core), so a double click or a second tab can
queue a run but never start a second training process.

A worker takes tickets one after another (a ticket is claimed by renaming it, which only
one process can do) and trains each run in-process with ``tlcore.runs.job.train_spec``,
writing the same run folder a separate ``python -m tlcore train --spec`` would, with its
output in the run's ``worker.log``. TensorFlow, Keras and the backbone code stay loaded
between runs, which is most of what a small run costs (see BENCHMARKS.md). After
``TRANSFERLAB_WORKER_IDLE_SECONDS`` (default 300; a value that is not a number of seconds
is said once in ``queue/worker.log`` and the default used) without a ticket it exits. It
does not belong to the app: closing the tab or restarting the server leaves it working, and a
ticket written while no worker runs waits on disk until ``ensure_worker`` is called again
(the app's sidebar does so every few seconds while tickets wait).

SIGTERM / SIGINT stop the current run after its batch (it ends ``stopped``), the runs of
the same comparison still waiting are marked stopped too, and the worker exits; other
tickets stay for the next worker.
"""

import contextlib
import math
import os
import subprocess
import sys
import time
import traceback
from collections.abc import Iterator
from pathlib import Path

from tlcore import fsutil, workspace
from tlcore.errors import RunError, TransferLabError
from tlcore.runs import locks, run_files, run_info, tickets

MAX_RUNS_ENV = "TRANSFERLAB_MAX_RUNS"
IDLE_ENV = "TRANSFERLAB_WORKER_IDLE_SECONDS"
DEFAULT_IDLE_SECONDS = 300.0
POLL_SECONDS = 0.25  # how soon an idle worker sees a new ticket
_PACKAGE_PARENT = str(Path(__file__).resolve().parents[2])  # the folder holding tlcore/


def max_runs() -> int:
    """How many runs may train at once (``TRANSFERLAB_MAX_RUNS``, default 1)."""
    try:
        return max(1, int(os.environ.get(MAX_RUNS_ENV) or 1))
    except ValueError:
        return 1


_warned: set[str] = set()  # bad settings already reported by this process


def worker_idle_seconds() -> float:
    """How long an idle worker waits for a ticket (``TRANSFERLAB_WORKER_IDLE_SECONDS``).

    A value that is not a number of seconds (``5m``, ``-1``, ``nan``) must not kill every
    worker before it trains anything: the default is used and the bad value is said once.
    """
    raw = (os.environ.get(IDLE_ENV) or "").strip()
    if not raw:
        return DEFAULT_IDLE_SECONDS
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if math.isfinite(value) and value >= 0:
        return value
    if raw not in _warned:
        _warned.add(raw)
        print(
            f"warning: {IDLE_ENV}={raw!r} is not a number of seconds (e.g. 300); "
            f"using {DEFAULT_IDLE_SECONDS:g}.",
            file=sys.stderr,
        )
    return DEFAULT_IDLE_SECONDS


def _dir(name: str) -> Path:
    path = workspace.home() / "queue" / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def enqueue(info: run_info.RunInfo) -> None:
    """Put a created (queued) run in line, after every run queued before it."""
    ticket = _dir("waiting") / tickets.name_for(info.run_id)
    fsutil.atomic_write_text(ticket, str(info.path) + "\n")  # a worker never reads half


def waiting() -> list[Path]:
    """Tickets of runs waiting for a worker, oldest first (nothing else found there)."""
    return tickets.scan(_dir("waiting"))[0]


def waiting_run_ids() -> list[str]:
    """The run ids in line, oldest first."""
    return [tickets.run_id_of(t) for t in waiting()]


def claimed_run_ids() -> list[str]:
    """The run ids a worker took from the line (their tickets end ``-<worker pid>``)."""
    found = tickets.scan(_dir("claimed"))[0]
    return [tickets.run_id_of(t).rpartition("-")[0] for t in found]


def starting() -> contextlib.AbstractContextManager[None]:
    """Hold the workspace's start lock (waiting for it) for one check-then-start.

    Looking for the same run started a moment ago and putting a new one in line must be
    one step: two Start presses at the same instant (two tabs, two processes) would
    otherwise both find nothing and make two runs.
    """
    return locks.held(_dir("slots").parent / "start.lock")


def _slot_paths() -> list[Path]:
    return [_dir("slots") / f"slot-{i}.lock" for i in range(max_runs())]


def _free_slot() -> bool:
    for path in _slot_paths():
        with locks.probe(path) as got:
            if got:
                return True
    return False


def workers_busy() -> int:
    """How many worker slots are held now (workers alive, training or idle)."""
    busy = 0
    for path in _slot_paths():
        with locks.probe(path) as got:
            busy += not got
    return busy


def ensure_worker() -> int | None:
    """Start a worker if runs wait and a slot is free; return its pid (None: not needed).

    Raises:
        RunError: the worker process could not be started.
    """
    if not waiting() or not _free_slot():
        return None
    env = dict(os.environ)
    env[workspace.ENV_VAR] = str(workspace.home())  # the same workspace, whatever the cwd
    env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_PARENT, env.get("PYTHONPATH")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    try:
        with open(workspace.home() / "queue" / "worker.log", "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "tlcore.runs.queue"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
                env=env,
                cwd=_PACKAGE_PARENT,
            )
    except OSError as e:
        raise RunError(f"Could not start the training process ({e}).") from None
    return proc.pid


def withdraw(run_id: str) -> bool:
    """Take a run out of line before a worker got it; False if it was not waiting."""
    return any(_claim_this(t) for t in waiting() if tickets.run_id_of(t) == run_id)


def _claim() -> Path | None:
    """Take the oldest ticket (renamed into ``claimed/``, so no one else gets it).

    What is not a ticket is moved to ``queue/bad/`` (and said in the worker's log).
    """
    found, strays = tickets.scan(_dir("waiting"))
    for entry, reason in strays:
        tickets.set_aside(entry, _dir("bad"), reason)
    for ticket in found:
        taken = _dir("claimed") / f"{ticket.name}-{os.getpid()}"
        try:
            os.rename(ticket, taken)
        except FileNotFoundError:
            continue  # another worker was quicker
        return taken
    return None


@contextlib.contextmanager
def _output_to(log_path: Path) -> Iterator[None]:
    """Send this process' stdout and stderr (C-level too) to ``log_path`` meanwhile."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    try:
        with open(log_path, "ab") as log:
            os.dup2(log.fileno(), 1)
            os.dup2(log.fileno(), 2)
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])


def _train(ticket: Path) -> run_info.RunInfo | None:
    from tlcore.runs.job import train_spec

    try:
        run_dir = tickets.read(ticket)
    except (RunError, OSError) as e:
        tickets.set_aside(ticket, _dir("bad"), str(e))
        return None
    try:
        with _output_to(run_dir / "worker.log"):
            _fresh_keras()
            return train_spec(run_dir)
    except (TransferLabError, OSError) as e:  # e.g. deleted while it waited
        print(f"error: {e}", file=sys.stderr)
    except Exception:  # e.g. a hand-edited spec.json: one run, never the worker
        traceback.print_exc(file=sys.stderr)
    finally:
        with contextlib.suppress(OSError):
            ticket.unlink(missing_ok=True)
    return None


def _fresh_keras() -> None:
    """Each run starts from a clean Keras state (layer names, graphs), as in a new process."""
    import gc

    import keras

    keras.backend.clear_session()
    gc.collect()


def _stop_rest_of_group(group: str | None) -> None:
    """After a signal: the waiting runs of the same comparison end ``stopped``."""
    if not group:
        return
    for ticket in waiting():
        with contextlib.suppress(OSError, TransferLabError):
            run_dir = tickets.read(ticket)
            if run_info.load_run(run_dir).group == group and _claim_this(ticket):
                run_files.update_status(
                    run_dir, status="stopped", ended=run_files.now_iso(), error=None
                )


def _claim_this(ticket: Path) -> bool:
    try:
        ticket.unlink()
    except FileNotFoundError:
        return False
    return True


def _forget_dead_claims() -> None:
    """Tickets claimed by workers that died (their run lists as interrupted)."""
    for taken in _dir("claimed").iterdir():
        with contextlib.suppress(ValueError, OSError):
            if not run_info.worker_alive(int(taken.name.rsplit("-", 1)[1])):
                taken.unlink()


def serve(idle_seconds: float | None = None) -> int:
    """Train waiting runs until none came for ``idle_seconds``; return how many ran."""
    from tlcore.runs.job import signal_received, stop_on_signals

    idle = worker_idle_seconds() if idle_seconds is None else idle_seconds
    slot = _hold_slot()
    if slot is None:
        return 0  # enough workers already
    trained = 0
    root = workspace.home()
    try:
        _forget_dead_claims()
        with stop_on_signals():
            last_work = time.monotonic()
            while not signal_received():
                if not (root / "queue").is_dir():
                    break  # the workspace was deleted: nothing to serve (and not re-made)
                ticket = _claim()
                if ticket is not None:
                    info = _train(ticket)
                    trained += 1
                    if signal_received():
                        _stop_rest_of_group(info.group if info else None)
                    last_work = time.monotonic()
                elif time.monotonic() - last_work > idle:
                    os.close(slot)  # no longer a worker; a ticket written now starts one
                    slot = None
                    if not waiting() or (slot := _hold_slot()) is None:
                        break
                    last_work = time.monotonic()
                else:
                    time.sleep(POLL_SECONDS)
    finally:
        if slot is not None:
            os.close(slot)
    return trained


def _hold_slot() -> int | None:
    """Lock a free slot for as long as this process serves; its fd (None: no slot)."""
    return locks.hold_first_free(_slot_paths())


def main() -> int:
    """``python -m tlcore.runs.queue``: be a worker until idle."""
    serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
