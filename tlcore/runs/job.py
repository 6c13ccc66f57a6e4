"""Train one run: the worker's whole job, from spec to saved model and metrics.

``train(config, run_dir)`` scans and splits the data (or uses the run's saved split),
decodes once, builds the classifier under the chosen ``tf.distribute`` strategy, trains
phase by phase (``train``, or ``head`` then ``fine-tune``), keeps the best epoch by
validation loss, evaluates on the test split and writes ``metrics.json``. It always ends
the run in a final state (``finished | stopped | failed``), whatever happens inside:
everything runs in ``try/finally``.

A stop request (``stop.flag`` in the run folder, SIGTERM or SIGINT) stops after the
current batch; the best model so far is kept and evaluated, and the run ends ``stopped``.
"""

import contextlib
import functools
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from tlcore import fsutil, workspace
from tlcore.config import TrainConfig
from tlcore.errors import RunError, TransferLabError
from tlcore.runs import run_files, run_info
from tlcore.training.events import EventLog

_SIGNALLED = threading.Event()


def signal_received() -> bool:
    """True once SIGTERM/SIGINT asked this process to stop."""
    return _SIGNALLED.is_set()


def _on_signal(signum: int, frame: Any) -> None:
    if _SIGNALLED.is_set() and signum == signal.SIGINT:
        raise KeyboardInterrupt  # a second Ctrl-C: stop now
    _SIGNALLED.set()


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """Within this block SIGTERM / SIGINT ask training to stop after the current batch.

    The previous handlers come back afterwards. Only the main thread may set handlers
    (inside Streamlit's script threads this does nothing; the app stops runs by flag).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    if previous[signal.SIGTERM] is not _on_signal:
        _SIGNALLED.clear()  # outermost block: a fresh start
    for s in previous:
        signal.signal(s, _on_signal)
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def train_spec(
    ref: str | os.PathLike, echo: Callable[[dict], None] | None = None
) -> run_info.RunInfo:
    """Train the queued run whose folder (or ``spec.json``) is ``ref``; return its final info.

    Raises:
        RunError: no such run, or it has already run (a run folder holds one training).
    """
    run_dir = run_files.run_path(ref)
    state = run_files.read_status(run_dir).get("status")
    if state != "queued":
        raise RunError(
            f"Run {run_dir.name} has already run ({state}); start a new run "
            "with the same settings instead."
        )
    spec = run_files.read_spec(run_dir)
    config = TrainConfig.from_dict(spec["config"])
    split = None
    if spec.get("split"):
        from tlcore.data.split import Split

        split = Split.from_dict(spec["split"])
    return train(config, run_dir, split=split, echo=echo)


def train(
    config: TrainConfig,
    run_dir: str | os.PathLike,
    split: Any = None,
    echo: Callable[[dict], None] | None = None,
    fast_path: bool = True,
) -> run_info.RunInfo:
    """Train ``config`` into ``run_dir`` (created by ``store.create_run``).

    Args:
        config: what to train.
        run_dir: the run folder.
        split: the exact split to use; None = scan ``config.data`` and split it now.
        echo: called with every event (the CLI prints epochs with it).
        fast_path: allow training on cached frozen-layer outputs (off: always on images).

    Returns:
        The run's final ``RunInfo`` (status finished, stopped or failed).
    """
    with stop_on_signals():
        return _train(config, Path(run_dir), split, echo, fast_path)


def _train(
    config: TrainConfig,
    run_dir: Path,
    split: Any,
    echo: Callable[[dict], None] | None,
    fast_path: bool,
) -> run_info.RunInfo:
    t0 = time.time()
    log = EventLog(run_dir / "events.jsonl", t0=t0, echo=echo)
    try:
        run_files.update_status(
            run_dir, status="running", pid=os.getpid(), started=run_files.now_iso(), ended=None,
            error=None,
        )  # fmt: skip
        log.emit("start", run_id=run_dir.name, pid=os.getpid())
    except OSError as e:  # e.g. the disk is full: the run cannot even be recorded
        raise RunError(
            f"Could not start run {run_dir.name}: {fsutil.os_error_text(e, run_dir)}. "
            "Free some space, then start it again."
        ) from None
    status, error = "failed", None
    try:
        # A queued run stopped before its turn (e.g. in a comparison) never starts.
        status = (
            "stopped" if _stop_wanted(run_dir) else _run(config, run_dir, split, log, fast_path)
        )
    except TransferLabError as e:
        error = str(e)
    except KeyboardInterrupt:
        status, error = "stopped", None
    except BaseException as e:  # the run must end in a final state, whatever happened
        error = _explain(e)
        traceback.print_exc(file=sys.stderr)  # the full story goes to worker.log
    finally:
        if not run_dir.is_dir():  # whatever failed, it failed because the folder went
            raise RunError(f"Run {run_dir.name} was deleted while it trained; it was stopped.")
        try:
            run_files.update_status(
                run_dir,
                status=status,
                error=error,
                ended=run_files.now_iso(),
                seconds=round(time.time() - t0, 2),
            )
            log.emit("end", status=status, **({"error": error} if error else {}))
        except OSError as e:  # a full disk must not hide why the run ended
            print(f"error: could not record the end of the run ({e}): {error}", file=sys.stderr)
    return run_info.load_run(run_dir)


def _explain(e: BaseException) -> str:
    name = type(e).__name__
    if fsutil.is_disk_full(e):
        return (
            f"The disk is full ({fsutil.free_space_text(workspace.home())}): training stopped. "
            "Free some space (deleting the workspace's cache/ folder is safe), then train again."
        )
    if isinstance(e, MemoryError) or name == "ResourceExhaustedError":
        return (
            "Out of memory while training: use a smaller batch size, a smaller image "
            "size or a smaller backbone."
        )
    first = (str(e).strip().splitlines() or [""])[0][:300]
    return f"Training failed ({name}: {first})."


def _stop_wanted(run_dir: Path) -> bool:
    # A run folder deleted while it trains: stop, and write nothing that would re-make it.
    return signal_received() or run_files.stop_requested(run_dir) or not run_dir.is_dir()


def _run(
    config: TrainConfig, run_dir: Path, split: Any, log: EventLog, fast_path: bool = True
) -> str:
    from tlcore.training import distribute

    distribute.setup_devices()  # before anything initialises TensorFlow's runtime
    config.validate()
    if split is None:
        split = _make_split(config, run_dir)
    # labels.json is exact for any name; labels.txt (one per line) is for exporting, and
    # exact too because the scan refuses class names with line breaks.
    fsutil.atomic_write_json(run_dir / "labels.json", list(split.classes), make_parent=False)
    labels = "\n".join(split.classes) + "\n"
    fsutil.atomic_write_text(run_dir / "labels.txt", labels, make_parent=False)

    from tlcore.training.loop import fit_phases

    status = functools.partial(run_files.update_status, run_dir)
    return fit_phases(config, run_dir, split, log, lambda: _stop_wanted(run_dir), status, fast_path)


def _make_split(config: TrainConfig, run_dir: Path) -> Any:
    from tlcore.data.scan import scan
    from tlcore.data.split import make_split

    report = scan(config.data)
    split = make_split(report, config.split)
    spec = run_files.read_spec(run_dir)
    spec["split"] = split.to_dict()
    spec["dataset"] = {
        "root": str(report.root),
        "fingerprint": report.fingerprint,
        "classes": list(split.classes),
    }
    fsutil.atomic_write_json(run_dir / "spec.json", spec, make_parent=False)
    return split


def require_finished_model(ref: str | os.PathLike) -> Path:
    """Return the run's ``model.keras``; ``RunError`` when it has none yet."""
    run_dir = run_files.run_path(ref)
    path = run_dir / "model.keras"
    status = run_files.read_status(run_dir)
    name = _run_name(run_dir)
    if status.get("status") == "failed":
        # e.g. a two-phase run that failed in fine-tuning keeps its phase-1 model.keras;
        # using it silently would pass off a half-trained model as the run's result.
        reason = status.get("error") or "no reason was recorded"
        raise RunError(
            f"Run '{name}' failed ({reason.rstrip('.')}), so it has no finished model; "
            "train it again or choose another run."
        )
    if not path.is_file():
        raise RunError(f"Run '{name}' has no saved model yet.")
    return path


def _run_name(run_dir: Path) -> str:
    try:
        return run_info.load_run(run_dir).name or run_dir.name
    except TransferLabError:
        return run_dir.name
