"""Removing a run folder: the workspace's own entry, never what a link points to.

``tlcore.runs.store.delete_run`` refuses a run its worker still trains, then calls these.

A run folder may be a symbolic link (runs moved to another disk), a damaged folder,
or a folder a worker is still writing into. Deleting one:

- removes a link itself, never the folder it points to (possibly outside the workspace);
- refuses any folder that is not directly in the workspace's ``runs/`` folder;
- first renames the folder out of the way (one atomic step: from then on a worker still
  training it finds no run folder, stops that run and re-creates nothing), then removes
  the renamed folder, retrying while a writer that had a file open finishes.
"""

import contextlib
import os
import secrets
import shutil
import time
from pathlib import Path

from tlcore import workspace
from tlcore.errors import RunError

TRASH_PREFIX = ".deleted-"  # renamed folders being removed (``list_runs`` skips dot-names)


def run_entry(ref: str | os.PathLike) -> Path:
    """The entry of ``runs/`` that ``ref`` (a run id or a run folder's path) names.

    The entry itself is returned, not resolved: for a link, the link.

    Raises:
        RunError: ``ref`` names nothing in this workspace's runs folder.
    """
    root = workspace.runs_dir()
    text = os.fspath(ref)
    is_id = Path(text).name == text and text not in ("", ".", "..")
    entry = root / text if is_id else Path(os.path.abspath(text))
    outside = entry.parent.resolve() != root.resolve()
    if outside or entry.name.startswith(".") or not os.path.lexists(entry):
        where = f"is not a run folder of this workspace ({root})" if outside else "is no run"
        raise RunError(f"'{text}' {where}; see `python -m tlcore runs` for the run ids.")
    return entry


def remove(entry: Path) -> None:
    """Remove a run folder entry of ``runs/`` (from ``run_entry``); a link: the link only.

    Raises:
        RunError: it is a file, or it cannot be renamed away.
    """
    if entry.is_symlink():
        entry.unlink()  # what it points to is not the workspace's to delete
        return
    if not entry.is_dir():
        raise RunError(f"'{entry}' is a file, not a run folder; nothing was deleted.")
    trash = entry.with_name(f"{TRASH_PREFIX}{entry.name}-{secrets.token_hex(3)}")
    try:
        os.rename(entry, trash)
    except FileNotFoundError:
        return  # deleted meanwhile
    except OSError as e:
        raise RunError(f"Could not delete run {entry.name} ({e.strerror or e}).") from None
    remove_trash(trash)


def remove_trash(folder: Path, attempts: int = 5) -> None:
    """Remove a renamed run folder; a file still being closed by a writer can make one
    pass fail with "directory not empty", so a few passes are tried."""
    for _ in range(attempts):
        try:
            shutil.rmtree(folder)  # never follows links inside the folder
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.1)
    with contextlib.suppress(OSError):
        shutil.rmtree(folder, ignore_errors=True)
