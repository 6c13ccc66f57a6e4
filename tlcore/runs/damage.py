"""What a damaged run folder looks like: each file's check, with the reason in words.

A run folder is written by TransferLab, but people (and full disks, and editors) can
change its files. Every page and ``python -m tlcore runs`` read them, so one wrongly
shaped file must never break the reading of the others: the store calls these checks
and lists such a run as ``damaged`` with the reason returned here. Each check returns
``None`` when the content is usable, else a short reason such as ``"status.json is not
a JSON object"``. Only the shapes the readers rely on are checked, nothing more.

The file readers below remember what they parsed by (mtime, size), and how far
``events.jsonl`` was checked, because the app lists every run every few seconds.
"""

import json
import math
from pathlib import Path
from typing import Any

from tlcore import fsutil
from tlcore.config import TrainConfig

STATUS_STATES = ("queued", "running", "stopped", "finished", "failed", "interrupted")
_STATUS_TEXT = ("created", "started", "ended", "error", "group")
_STATUS_NUMBERS = ("best_val_accuracy", "test_accuracy", "seconds")
_STATUS_COUNTS = ("pid", "epochs_run", "trainable_params")
_SPEC_TEXT = ("data", "backbone", "weights", "name", "resize_mode", "optimizer")
# Event fields the pages compute with (progress bars, curves, ETA).
_EVENT_NUMBERS = (
    "time", "elapsed", "epoch", "epochs", "first_epoch", "batch", "batches", "done",
    "total", "loss", "accuracy", "val_loss", "val_accuracy", "seconds", "eta_seconds",
    "images_per_second", "learning_rate", "trainable_params", "non_trainable_params",
)  # fmt: skip


def is_number(value: Any) -> bool:
    """A JSON number (``bool`` is not one), finite."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def status_problem(status: Any) -> str | None:
    """Why ``status.json``'s content cannot be used, or None."""
    if not isinstance(status, dict):
        return f"status.json is not a JSON object (it holds {_kind(status)})"
    state = status.get("status", "queued")
    if state not in STATUS_STATES:
        return f"status.json has an unknown status {_short(state)}"
    for key in _STATUS_TEXT:
        if status.get(key) is not None and not isinstance(status[key], str):
            return f"{key} in status.json is not text ({_short(status[key])})"
    for key in _STATUS_NUMBERS:
        if status.get(key) is not None and not is_number(status[key]):
            return f"{key} in status.json is not a number ({_short(status[key])})"
    for key in _STATUS_COUNTS:
        if status.get(key) is not None and not _is_count(status[key]):
            return f"{key} in status.json is not a whole number ({_short(status[key])})"
    return None


def spec_config(spec: Any) -> tuple[TrainConfig | None, str | None]:
    """The run's ``TrainConfig`` from ``spec.json``'s content, or (None, why not)."""
    if not isinstance(spec, dict):
        return None, f"spec.json is not a JSON object (it holds {_kind(spec)})"
    raw = spec.get("config")
    if not isinstance(raw, dict):
        return None, "spec.json has no training config"
    for key in _SPEC_TEXT:
        if key in raw and not isinstance(raw[key], str):
            return None, f"{key} in spec.json is not text ({_short(raw[key])})"
    try:
        config = TrainConfig.from_dict(raw)
        config.validate()
    except Exception as e:  # from_dict / validate on hand-edited values: any error
        return None, f"spec.json has an unusable training config ({_short_error(e)})"
    if spec.get("group") is not None and not isinstance(spec["group"], str):
        return None, "group in spec.json is not text"
    if spec.get("split") is not None and not isinstance(spec["split"], dict):
        return None, "split in spec.json is not a JSON object"
    return config, None


def metrics_problem(metrics: Any) -> str | None:
    """Why ``metrics.json``'s content cannot be shown, or None."""
    if not isinstance(metrics, dict):
        return f"metrics.json is not a JSON object (it holds {_kind(metrics)})"
    for key in ("accuracy", "val_accuracy", "test_accuracy", "seconds"):
        if metrics.get(key) is not None and not is_number(metrics[key]):
            return f"{key} in metrics.json is not a number ({_short(metrics[key])})"
    for key in ("best_epoch", "epochs_run", "trainable_params", "non_trainable_params"):
        if metrics.get(key) is not None and not _is_count(metrics[key]):
            return f"{key} in metrics.json is not a whole number"
    classes = metrics.get("classes") or []
    if not isinstance(classes, list) or not all(isinstance(c, str) for c in classes):
        return "metrics.json has class names that are not a list of text"
    matrix = metrics.get("confusion_matrix") or []
    if not isinstance(matrix, list) or not all(
        isinstance(row, list) and len(row) == len(matrix) and all(_is_count(v) for v in row)
        for row in matrix
    ):
        return "metrics.json has a confusion matrix that is not a square table of counts"
    if classes and matrix and len(matrix) != len(classes):
        return "metrics.json has a confusion matrix of another size than its classes"
    per_class = metrics.get("per_class") or {}
    if not isinstance(per_class, dict) or not all(
        isinstance(v, dict) and all(is_number(x) for x in v.values()) for v in per_class.values()
    ):
        return "metrics.json has per-class scores that are not numbers"
    for key, fields in (("misclassified", ("path", "true", "predicted")), ("diagnosis", ())):
        rows = metrics.get(key) or []
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            return f"{key} in metrics.json is not a list of objects"
        for r in rows:
            if any(not isinstance(r.get(f), str) for f in fields):
                return f"an entry of {key} in metrics.json lacks its text fields"
            if r.get("confidence") is not None and not is_number(r["confidence"]):
                return f"an entry of {key} in metrics.json has a confidence that is not a number"
    return None


def event_problem(event: Any) -> str | None:
    """Why one line of ``events.jsonl`` cannot be used, or None."""
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        return "is not an event (a JSON object with a type)"
    for key in _EVENT_NUMBERS:
        if event.get(key) is not None and not is_number(event[key]):
            return f"has an event whose {key} is not a number ({_short(event[key])})"
    return None


def read_status(path: Path) -> tuple[dict[str, Any], str | None]:
    """(status, damage) of a run folder's ``status.json`` (status empty when damaged)."""
    try:
        status = fsutil.read_json(path / "status.json")
    except FileNotFoundError:
        return {}, "status.json is missing"
    except ValueError:
        return {}, "status.json is not valid JSON"
    except OSError as e:
        return {}, f"status.json cannot be read ({e.strerror or e})"
    problem = status_problem(status)
    return ({}, problem) if problem else (status, None)


# Files are parsed again only when they change (mtime, size): the sidebar lists runs
# every few seconds. spec.json holds the whole split (megabytes for a big dataset).
_SPEC_CACHE: dict[Path, tuple[tuple[int, int], TrainConfig | None, str | None, str | None]] = {}
_METRICS_CACHE: dict[Path, tuple[tuple[int, int], str | None]] = {}
# events.jsonl only grows: remember how far it was checked (offset, lines, first problem).
_EVENTS_CHECKED: dict[Path, tuple[int, int, str | None]] = {}


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)


def spec_summary(path: Path) -> tuple[TrainConfig | None, str | None, str | None]:
    """(config, group, damage) of ``spec.json``."""
    spec_path = path / "spec.json"
    stamp = _stamp(spec_path)
    if stamp is None:
        return None, None, "spec.json is missing"
    cached = _SPEC_CACHE.get(path)
    if cached is not None and cached[0] == stamp:
        return cached[1], cached[2], cached[3]
    try:
        spec = fsutil.read_json(spec_path)
    except ValueError:
        config, group, problem = None, None, "spec.json is not valid JSON"
    except OSError as e:
        config, group, problem = None, None, f"spec.json cannot be read ({e.strerror or e})"
    else:
        config, problem = spec_config(spec)
        group = spec.get("group") if config is not None else None
    _SPEC_CACHE[path] = (stamp, config, group, problem)
    return config, group, problem


def metrics_damage(path: Path) -> str | None:
    """Why the folder's ``metrics.json`` cannot be shown, or None (also when absent)."""
    metrics_path = path / "metrics.json"
    stamp = _stamp(metrics_path)
    if stamp is None:
        return None  # not evaluated (yet)
    cached = _METRICS_CACHE.get(path)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    try:
        problem = metrics_problem(fsutil.read_json(metrics_path))
    except ValueError:
        problem = "metrics.json is not valid JSON"
    except OSError as e:
        problem = f"metrics.json cannot be read ({e.strerror or e})"
    _METRICS_CACHE[path] = (stamp, problem)
    return problem


def events_damage(path: Path) -> str | None:
    """The first damaged line of ``events.jsonl``, checking only what was appended."""
    events_path = path / "events.jsonl"
    offset, lines, problem = _EVENTS_CHECKED.get(path, (0, 0, None))
    try:
        size = events_path.stat().st_size
        if size < offset:  # replaced by a shorter file: check it from the start
            offset, lines, problem = 0, 0, None
        if size == offset or problem:
            return problem
        with open(events_path, "rb") as f:
            f.seek(offset)
            data = f.read()
    except FileNotFoundError:
        return None
    except OSError as e:
        return f"events.jsonl cannot be read ({e.strerror or e})"
    end = data.rfind(b"\n") + 1  # a last line still being written is checked next time
    for raw in data[:end].split(b"\n")[:-1]:
        lines += 1
        if not raw.strip():
            continue
        try:
            reason = event_problem(json.loads(raw))
        except ValueError:  # also bytes that are not UTF-8
            reason = "is not valid JSON"
        if reason:
            problem = f"events.jsonl line {lines} {reason}"
            break
    _EVENTS_CHECKED[path] = (offset + end, lines, problem)
    return problem


def model_damage(path: Path, status: dict[str, Any]) -> str | None:
    """A run that ended keeping a model but has no ``model.keras``."""
    state = status.get("status")
    kept_one = state == "finished" or (state == "stopped" and (status.get("epochs_run") or 0))
    if kept_one and not (path / "model.keras").is_file():
        return f"the run {state} but its model.keras is missing"
    return None


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, list):
        return "a list"
    return f"the {type(value).__name__} {_short(value)}"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _short_error(e: Exception) -> str:
    text = (str(e).strip().splitlines() or [type(e).__name__])[0]
    return text if len(text) <= 120 else text[:117] + "..."
