"""What a run folder says about its run (``RunInfo``): one run loaded, or all listed.

A run whose status says ``running`` (or ``queued`` with a pid) but whose worker process is
gone, or whose pid now belongs to some other program, lists as ``interrupted``. A folder
whose files are damaged (not JSON, wrongly shaped, a finished run without its model; see
``tlcore.runs.damage``) lists as ``damaged`` with the reason in ``error``: it never stops
the other runs from being listed.
"""

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tlcore import workspace
from tlcore.config import TrainConfig
from tlcore.errors import RunError
from tlcore.runs import damage as checks
from tlcore.runs.run_files import is_run_folder, run_path

STATUSES = ("queued", "running", "stopped", "finished", "failed", "interrupted", "damaged")
ACTIVE = ("queued", "running")


@dataclass(frozen=True)
class RunInfo:
    """What a run folder says about its run (read-only snapshot)."""

    run_id: str
    path: Path
    status: str
    config: TrainConfig
    name: str
    group: str | None
    created: str | None
    started: str | None
    ended: str | None
    error: str | None
    pid: int | None
    epochs_run: int
    best_val_accuracy: float | None
    test_accuracy: float | None
    seconds: float | None
    trainable_params: int | None
    damaged_file: str | None = None  # e.g. "status.json" when ``status`` is "damaged"
    evaluation: str | None = None  # how test_accuracy was measured: test, cross-validation...

    @property
    def active(self) -> bool:
        """True while the run is queued or training."""
        return self.status in ACTIVE

    def summary(self) -> dict[str, Any]:
        """Return a JSON-ready dict (the ``runs --json`` row)."""
        return {
            "run_id": self.run_id,
            "status": self.status,
            "name": self.name,
            "group": self.group,
            "backbone": self.config.backbone,
            "strategy": self.config.freeze.strategy,
            "created": self.created,
            "started": self.started,
            "ended": self.ended,
            "error": self.error,
            "epochs_run": self.epochs_run,
            "best_val_accuracy": self.best_val_accuracy,
            "test_accuracy": self.test_accuracy,
            "seconds": self.seconds,
            "trainable_params": self.trainable_params,
            "damaged_file": self.damaged_file,
            "path": str(self.path),
        }


def worker_alive(pid: int | None) -> bool:
    """True if ``pid`` is a live TransferLab worker (not a dead pid reused by another app)."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists but owned by someone else: the cmdline check decides
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return os.name != "posix" or not Path("/proc").is_dir()
    return b"tlcore" in cmdline  # empty for a zombie: the worker has exited


def effective_status(status: dict[str, Any]) -> str:
    """Return the status to show: ``interrupted`` when an active run's worker is gone."""
    state = status.get("status", "queued")
    pid = status.get("pid")
    if (state == "running" or (state == "queued" and pid)) and not worker_alive(pid):
        return "interrupted"
    return state


def load_run(ref: str | os.PathLike) -> RunInfo:
    """Load one run by id or folder; ``RunError`` if it does not exist.

    A run whose files are damaged comes back with status ``damaged`` and the reason in
    ``error`` (and a placeholder config when ``spec.json`` itself is the damaged file).
    """
    path = run_path(ref)
    try:
        return _load(path)
    except Exception as e:  # whatever else is wrong with one folder, it is one run
        return _damaged(path, f"it cannot be read ({type(e).__name__}: {e})", None)


def _load(path: Path) -> RunInfo:
    config, group, spec_damage = checks.spec_summary(path)
    status, status_damage = checks.read_status(path)
    found = (
        ("spec.json", spec_damage),
        ("status.json", status_damage),
        ("metrics.json", checks.metrics_damage(path)),
        ("events.jsonl", checks.events_damage(path)),
        ("model.keras", checks.model_damage(path, status)),
    )
    damaged_file, reason = next(((f, r) for f, r in found if r), (None, None))
    if config is None:
        return _damaged(path, reason, damaged_file)
    return RunInfo(
        run_id=path.name,
        path=path,
        status="damaged" if reason else effective_status(status),
        config=config,
        name=config.name,
        group=group or status.get("group"),
        created=status.get("created"),
        started=status.get("started"),
        ended=status.get("ended"),
        error=_damage_text(reason) if reason else status.get("error"),
        pid=status.get("pid"),
        epochs_run=int(status.get("epochs_run") or 0),
        best_val_accuracy=status.get("best_val_accuracy"),
        test_accuracy=status.get("test_accuracy"),
        seconds=status.get("seconds"),
        trainable_params=status.get("trainable_params"),
        damaged_file=damaged_file,
        evaluation=status.get("evaluation") if isinstance(status.get("evaluation"), str) else None,
    )


def _damage_text(reason: str) -> str:
    return (
        f"This run folder is damaged: {reason}. Delete the run, or restore the file from a backup."
    )


def _damaged(path: Path, reason: str | None, damaged_file: str | None) -> RunInfo:
    try:
        created = datetime.fromtimestamp(path.stat().st_mtime, UTC).isoformat()
    except OSError:
        created = None
    return RunInfo(
        run_id=path.name, path=path, status="damaged",
        config=TrainConfig(data="", backbone="?", name=""), name="", group=None,
        created=created, started=None, ended=None,
        error=_damage_text(reason or "it cannot be read"),
        pid=None, epochs_run=0, best_val_accuracy=None, test_accuracy=None,
        seconds=None, trainable_params=None, damaged_file=damaged_file,
    )  # fmt: skip


def list_runs(group: str | None = None) -> list[RunInfo]:
    """Return all runs (or those of one comparison group), newest first.

    Damaged run folders are listed too (status ``damaged``, the reason in ``error``);
    folders that are not runs at all (no spec.json, no status.json) are left out.
    """
    runs = []
    for path in workspace.runs_dir().iterdir():
        if path.name.startswith("."):
            continue  # e.g. a deleted run's folder while it is being removed
        try:
            if not is_run_folder(path):
                continue
            info = load_run(path)
        except (RunError, OSError):
            continue  # deleted meanwhile
        if group is None or info.group == group:
            runs.append(info)
    runs.sort(key=lambda r: (r.created or "", r.run_id), reverse=True)
    return runs
