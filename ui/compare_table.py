"""The Compare page's results table: each column says what it was measured on.

A cross-validated run has no validation images, so it has no best validation
accuracy; its accuracy is the mean over folds with a spread. The columns follow the
runs shown: a column no run has is left out, and the accuracy column is named by how
the accuracies were measured.
"""

from collections.abc import Callable, Sequence
from typing import Any

from ui import run_status


def _pct(v: float | None) -> str:
    return f"{v:.1%}" if v is not None else ""


def _cross_validated(row: dict[str, Any]) -> bool:
    return bool(row.get("folds"))


def measured_on(row: dict[str, Any]) -> str:
    """How a row's accuracy was measured, in a few words."""
    if row.get("accuracy") is None:
        return ""
    return "cross-validated" if _cross_validated(row) else "on the test images"


def accuracy_column(rows: Sequence[dict[str, Any]]) -> str:
    """The accuracy column's name: how the shown accuracies were measured."""
    scored = [r for r in rows if r.get("accuracy") is not None]
    cv = [r for r in scored if _cross_validated(r)]
    if scored and len(cv) == len(scored):
        return "accuracy (cross-validated: mean ± spread over folds)"
    if scored and not cv:
        return "accuracy (test images)"
    return "accuracy"


def _accuracy(row: dict[str, Any], mixed: bool) -> str:
    if row.get("accuracy") is None:
        return ""
    if not _cross_validated(row):
        return _pct(row["accuracy"]) + (" (test images)" if mixed else "")
    spread = row.get("accuracy_std")
    text = _pct(row["accuracy"]) + (f" ± {spread:.1%}" if spread is not None else "")
    return text + (f" ({row['folds']}-fold cross-validated)" if mixed else "")


def table(rows: Sequence[dict[str, Any]], status: Callable[[dict[str, Any]], str]) -> list[dict]:
    """The table's rows (``rows``: ranked ``comparison`` rows with a ``name``)."""
    accuracy = accuracy_column(rows)
    mixed = accuracy == "accuracy"
    with_val = any(r.get("best_val_accuracy") is not None for r in rows)
    out = []
    for t in rows:
        row = {
            "strategy": t["name"],
            "status": status(t),
            accuracy: _accuracy(t, mixed),
            "95% interval": ""
            if t["interval"] is None
            else f"{t['interval'][0]:.0%}–{t['interval'][1]:.0%}",
            "images": t["images"] or "",
            "trainable params": f"{t['trainable_params']:,}" if t["trainable_params"] else "",
            "epochs": t["epochs"],
        }
        if with_val:  # a column no run has would only be an empty column
            row["best validation accuracy"] = _pct(t.get("best_val_accuracy"))
        row["time"] = run_status.duration(t["seconds"]) if t["seconds"] else ""
        out.append(row)
    return out
