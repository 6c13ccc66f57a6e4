"""The run store: making a run folder under ``workspace/runs/``, and deleting one.

``create_run`` checks the config, settles its defaults, picks a readable unique id and
writes ``spec.json`` and a queued ``status.json``; ``delete_run`` removes a run no worker
is training. A folder's files are read by ``tlcore.runs.run_files``; what they say about
the run (``RunInfo``: interrupted, damaged) by ``tlcore.runs.run_info``.
"""

import os
import secrets
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

from tlcore import fsutil, workspace
from tlcore.config import TrainConfig
from tlcore.errors import RunError
from tlcore.runs import deletion
from tlcore.runs.run_files import is_run_folder, now_iso
from tlcore.runs.run_info import RunInfo, load_run, worker_alive

_STRATEGY_TAGS = {
    "feature-extraction": "fe",
    "fine-tune": "ft",
    "full": "full",
    "scratch": "scratch",
    "custom": "custom",
}


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
