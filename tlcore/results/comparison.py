"""A comparison's scored table and verdict: what ``compare --json`` prints and the page shows.

Each run of a comparison group becomes a row with its accuracy, a 95% interval and the
number of images it was measured on (``tlcore.results.verdict``); the runs' per-image
answers (``predictions.json``) pair the strategies on the images they share.
"""

from collections.abc import Sequence
from typing import Any

from tlcore import fsutil
from tlcore.models.freezing import STRATEGIES
from tlcore.results.verdict import sort_by_verdict, verdict, wilson_interval
from tlcore.runs import run_files, run_info
from tlcore.runs.compare import row as base_row
from tlcore.training.run_metrics import PREDICTIONS_FILE

CONTRACT = (
    "strategy",
    "status",
    "run_id",
    "accuracy",
    "interval",
    "images",
    "seconds",
    "trainable_params",
)
"""The keys of each run in ``compare --json`` (scripts and the benchmark rely on them)."""


def display_name(strategy: str) -> str:
    """The strategy's name for people ("Fine-tune the top"), its key if unknown."""
    known = STRATEGIES.get(strategy)
    return known.display_name if known is not None else strategy


def _images(metrics: dict[str, Any]) -> int:
    matrix = metrics.get("confusion_matrix") or []
    return int(sum(sum(r) for r in matrix))


def _correct(run_dir: Any) -> dict[str, bool] | None:
    """Image path -> answered right, from the run's ``predictions.json`` (None if absent)."""
    path = run_dir / PREDICTIONS_FILE
    if not path.is_file():
        return None
    try:
        images = fsutil.read_json(path).get("images") or []
    except (OSError, ValueError):
        return None
    return {str(im["path"]): im.get("true") == im.get("predicted") for im in images}


def status_text(info: run_info.RunInfo) -> str:
    """The run's status, ``finished at budget`` when its time budget ended it."""
    if info.status == "finished" and run_files.read_status(info.path).get("ended_by") == "budget":
        return "finished at budget"
    return info.status


def scored_row(info: run_info.RunInfo) -> dict[str, Any]:
    """One strategy's row: the table's columns plus accuracy, interval and images.

    ``correct`` (image -> right) is kept for the paired verdict; ``public_row`` drops it.
    """
    row = base_row(info)
    metrics = run_files.read_metrics(info.path) or {}
    row["status"] = status_text(info)
    if not info.name or info.name == row["strategy"]:
        row["name"] = display_name(row["strategy"])
    accuracy = metrics.get("test_accuracy", metrics.get("accuracy"))
    row.update(accuracy=None, interval=None, images=0, evaluation=metrics.get("split"))
    # Cross-validated: the accuracy is a mean over folds, with its spread (no validation
    # images, so no best validation accuracy either).
    row.update(folds=metrics.get("folds"), accuracy_std=metrics.get("accuracy_std"))
    if accuracy is None or info.status != "finished":
        return row
    images = _images(metrics)
    # Cross-validated: every image was answered once by a model that did not train on it,
    # so the out-of-fold answers are scored like test images (one interval for all rows).
    right = metrics.get("pooled_accuracy", accuracy)
    interval = wilson_interval(round(float(right) * images), images)
    row.update(
        accuracy=float(accuracy),
        interval=[round(interval[0], 4), round(interval[1], 4)],
        images=images,
        correct=_correct(info.path),
    )
    return row


def public_row(row: dict[str, Any]) -> dict[str, Any]:
    """A row without its per-image answers (for JSON and tables)."""
    return {k: v for k, v in row.items() if k != "correct"}


def report(infos: Sequence[run_info.RunInfo]) -> dict[str, Any]:
    """``{"runs": [...], "verdict": "..."}`` for these runs, in the order given."""
    rows = [scored_row(i) for i in infos]
    return {"runs": [public_row(r) for r in rows], "verdict": verdict(rows)}


def group_report(group: str) -> dict[str, Any]:
    """The report of a comparison group, its runs in the order they were created."""
    infos = sorted(run_info.list_runs(group=group), key=lambda i: (i.created or "", i.run_id))
    return report(infos)


def ranked(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows in the verdict's order: best first, unscored last."""
    return [dict(r) for r in sort_by_verdict(rows)]
