"""The run store: one folder per training run under ``workspace/runs/``.

A run folder is the single source of truth the app, the CLI and the worker share:
``spec.json`` (config + dataset + split), ``status.json`` (state, pid, times, summary
numbers kept current by the worker so listing runs never parses logs), ``events.jsonl``,
``metrics.json``, ``model.keras``, ``labels.txt``. No TensorFlow here: the app's sidebar
lists runs on every page.

A run whose status says ``running`` (or ``queued`` with a pid) but whose worker process is
gone, or whose pid now belongs to some other program, lists as ``interrupted``. A folder
whose files are damaged (not JSON, wrongly shaped, a finished run without its model; see
``tlcore.runs.damage``) lists as ``damaged`` with the reason in ``error``: it never stops
the other runs from being listed.
"""

import os
import secrets
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tlcore import fsutil, workspace
from tlcore.config import TrainConfig
from tlcore.errors import RunError
from tlcore.runs import damage as checks
from tlcore.runs import deletion

STATUSES = ("queued", "running", "stopped", "finished", "failed", "interrupted", "damaged")
ACTIVE = ("queued", "running")
STOP_FLAG = "stop.flag"

_STRATEGY_TAGS = {
    "feature-extraction": "fe",
    "fine-tune": "ft",
    "full": "full",
    "scratch": "scratch",
    "custom": "custom",
}


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


def now_iso() -> str:
    """Return the current UTC time as an ISO string.

    Microseconds, because runs of a comparison are created within one second and their
    creation order is the order they train and are listed in.
    """
    return datetime.now(UTC).isoformat(timespec="microseconds")


def new_run_id(config: TrainConfig) -> str:
    """Return a readable unique id, e.g. ``20261122-163501-mobilenet_v2-fe-3f2a``."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    tag = _STRATEGY_TAGS.get(config.freeze.strategy, "run")
    return f"{stamp}-{config.backbone}-{tag}-{secrets.token_hex(2)}"


def create_run(
    config: TrainConfig,
    split: Any = None,
    group: str | None = None,
    report: Any = None,
    defaults: Any = None,
) -> RunInfo:
    """Create a queued run folder with ``spec.json`` and ``status.json``.

    Args:
        config: the training config (validated here).
        split: a ``tlcore.data.split.Split`` to train on exactly; None = make one at start.
        group: comparison group id shared by runs trained together.
        report: the dataset's ``DatasetReport`` if already scanned (for its fingerprint).
        defaults: the ``Defaults`` already applied to ``config`` (kept with the run, for
            their reasons); with ``config.auto_defaults`` they are chosen here.
    """
    _check_names(config)  # before the data's defaults: a scan can take a while
    from tlcore.training.unused import settle

    if config.auto_defaults:
        config, defaults = _resolve_defaults(config, split, report)
    config, unused = settle(config)
    config.validate()
    root = workspace.runs_dir()
    while True:
        run_id = new_run_id(config)
        path = root / run_id
        try:
            path.mkdir()
            break
        except FileExistsError:
            continue
        except OSError as e:
            raise _create_error(e, root) from None
    classes = (
        list(split.classes)
        if split is not None
        else (_class_names(report) if report is not None else None)
    )
    spec = {
        "config": config.to_dict(),
        "dataset": {
            "root": str(getattr(report, "root", config.data)),
            "fingerprint": getattr(report, "fingerprint", None),
            "classes": classes,
        },
        "split": split.to_dict() if split is not None else None,
        "group": group,
        "defaults": defaults.to_dict() if defaults is not None else None,
        "unused": unused,
    }
    try:
        _write_new_run(path, spec, group)
    except OSError as e:  # nothing half-made stays behind
        shutil.rmtree(path, ignore_errors=True)
        raise _create_error(e, root) from None
    return load_run(path)


def _create_error(e: OSError, root: Path) -> RunError:
    advice = " Free some space, then start again." if fsutil.is_disk_full(e) else ""
    return RunError(f"Could not create the run folder: {fsutil.os_error_text(e, root)}.{advice}")


def _write_new_run(path: Path, spec: dict[str, Any], group: str | None) -> None:
    fsutil.atomic_write_json(path / "spec.json", spec)
    fsutil.atomic_write_json(
        path / "status.json",
        {
            "status": "queued",
            "created": now_iso(),
            "started": None,
            "ended": None,
            "error": None,
            "pid": None,
            "group": group,
            "epochs_run": 0,
            "best_val_accuracy": None,
            "test_accuracy": None,
            "seconds": None,
            "trainable_params": None,
        },
    )


def _resolve_defaults(config: TrainConfig, split: Any, report: Any) -> tuple[TrainConfig, Any]:
    """Settings chosen from the dataset (``auto_defaults``), once, as the run is made."""
    if not config.auto_defaults:
        return config, None
    from tlcore.data.scan import scan
    from tlcore.training.defaults import resolve

    if split is not None:  # a comparison's shared split: every run keeps it as it is
        keep = ("split.val_fraction", "split.test_fraction", "cross_validate")
        config = config.replace(chosen=tuple(dict.fromkeys((*config.chosen, *keep))))
    return resolve(config, report if report is not None else scan(config.data))


def _check_names(config: TrainConfig) -> None:
    """Refuse unknown backbone / strategy names, and a file to start from that cannot be
    used, before a run folder and a worker are made for them."""
    from tlcore.models.backbones import get_backbone  # registries: no TensorFlow
    from tlcore.models.freezing import get_strategy

    get_backbone(config.backbone)
    if not get_strategy(config.freeze.strategy).forces_random_weights:
        from tlcore.models.start_check import check_start

        check_start(config.backbone, config.weights, config.image_size)


def _class_names(report: Any) -> list[str]:
    return sorted(report.classes)


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


def delete_run(ref: str | os.PathLike) -> str:
    """Delete a run (id or folder), damaged or not, and return its id; a run folder that
    is a link: the link only (see ``tlcore.runs.deletion``).

    Raises:
        RunError: it is not a run of this workspace, or its worker is still training it.
    """
    entry = deletion.run_entry(ref)
    if not entry.is_symlink() and is_run_folder(entry):
        info = load_run(entry)
        if info.active and worker_alive(info.pid):
            raise RunError(f"Run {info.run_id} is still {info.status}: stop it before deleting.")
    # A ticket still in line stays: the worker finds no run there and drops it.
    deletion.remove(entry)
    return entry.name


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
