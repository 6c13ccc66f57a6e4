"""The files of one run folder: finding the folder, reading them, updating ``status.json``.

A run folder is the single source of truth the app, the CLI and the worker share:
``spec.json`` (config + dataset + split), ``status.json`` (state, pid, times, summary
numbers kept current by the worker so listing runs never parses logs), ``events.jsonl``,
``metrics.json``, ``model.keras``, ``labels.txt``. No TensorFlow here: the app's sidebar
lists runs on every page.
"""

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tlcore import fsutil, workspace
from tlcore.errors import RunError
from tlcore.runs import damage as checks

STOP_FLAG = "stop.flag"


def now_iso() -> str:
    """Return the current UTC time as an ISO string.

    Microseconds, because runs of a comparison are created within one second and their
    creation order is the order they train and are listed in.
    """
    return datetime.now(UTC).isoformat(timespec="microseconds")


def is_run_folder(path: Path) -> bool:
    """True if ``path`` holds a ``spec.json`` or a ``status.json``."""
    return (path / "spec.json").is_file() or (path / "status.json").is_file()


def run_path(ref: str | os.PathLike) -> Path:
    """Return the folder of a run given its id or folder; ``RunError`` if there is none."""
    ref_path = Path(ref)
    root = workspace.runs_dir()
    for candidate in (ref_path, root / str(ref)):
        if is_run_folder(candidate):
            # An entry of runs/ that links elsewhere keeps its own name (its run id).
            whole = candidate.absolute()
            return whole if whole.parent == root else candidate.resolve()
    if ref_path.name == "spec.json" and ref_path.is_file():
        return ref_path.parent.resolve()
    raise RunError(f"No run '{ref}' in {workspace.runs_dir()} (see `python -m tlcore runs`).")


def read_spec(ref: str | os.PathLike) -> dict[str, Any]:
    """Return the run's ``spec.json`` as a dict; ``RunError`` if it is not one."""
    return _read_object(run_path(ref) / "spec.json")


def read_status(ref: str | os.PathLike) -> dict[str, Any]:
    """Return the run's raw ``status.json`` (no interrupted detection); ``RunError`` if
    it is not a JSON object."""
    return _read_object(run_path(ref) / "status.json")


def update_status(run_dir: Path, **changes: Any) -> dict[str, Any]:
    """Merge ``changes`` into ``status.json`` atomically; return the new status.

    Raises:
        FileNotFoundError: the run folder was deleted (it is not made again).
    """
    path = Path(run_dir) / "status.json"
    try:
        status = fsutil.read_json(path)
    except (OSError, ValueError):
        status = {}
    if not isinstance(status, dict):
        status = {}  # a damaged file is replaced by what the writer knows
    status.update(changes)
    fsutil.atomic_write_json(path, status, make_parent=False)
    return status


def _read(path: Path) -> Any:
    try:
        return fsutil.read_json(path)
    except FileNotFoundError:
        raise RunError(f"The run folder {path.parent} has no {path.name}.") from None
    except ValueError:
        raise RunError(f"{path} is damaged (not valid JSON).") from None
    except OSError as e:
        raise RunError(f"{path} cannot be read ({e.strerror or e}).") from None


def _read_object(path: Path) -> dict[str, Any]:
    data = _read(path)
    if not isinstance(data, dict):
        raise RunError(f"{path} is damaged (not a JSON object).")
    return data


def read_events(ref: str | os.PathLike, start: int = 0) -> tuple[list[dict[str, Any]], int]:
    """Return events appended since byte offset ``start`` and the next offset.

    Damaged lines are left out (``load_run`` reports them), so readers get only events
    of the shape they expect.
    """
    events, offset = fsutil.read_jsonl(run_path(ref) / "events.jsonl", start)
    return [e for e in events if checks.event_problem(e) is None], offset


def read_metrics(ref: str | os.PathLike) -> dict[str, Any] | None:
    """Return the run's ``metrics.json``; None before evaluation or when it is damaged
    (then ``load_run`` lists the run as damaged and says why)."""
    path = run_path(ref) / "metrics.json"
    try:
        metrics = fsutil.read_json(path)
    except (OSError, ValueError):
        return None
    return None if checks.metrics_problem(metrics) else metrics


def read_split(ref: str | os.PathLike) -> Any:
    """Return the run's ``Split`` (from spec.json, else split.json), or None."""
    from tlcore.data.split import Split  # data layer; imported late (it may not exist yet)

    path = run_path(ref)
    data = read_spec(path).get("split")
    try:
        if data is None and (path / "split.json").is_file():
            data = fsutil.read_json(path / "split.json")
        return Split.from_dict(data) if data else None
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as e:
        raise RunError(f"The split saved with run {path.name} is damaged ({e}).") from None


def stop_requested(run_dir: Path) -> bool:
    """True once someone asked this run to stop (flag file present)."""
    return (Path(run_dir) / STOP_FLAG).exists()
