"""Moving an image to another class, or out of the dataset, with a record and an undo.

Nothing is moved unless a person asked (the Data page's confirm button calls these).
Every move is one line of ``<workspace>/moves.jsonl``, so it can be undone later, also
after the app restarts. No file is ever overwritten: when the name is taken where an
image goes (or comes back to), it gets a free one (``cat.jpg`` -> ``cat (2).jpg``).

An excluded image goes to ``<dataset>/.transferlab-excluded/`` (the scan skips hidden
folders), keeping its path inside the dataset, so nothing is deleted.
"""

import os
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

from tlcore import fsutil, workspace
from tlcore.errors import DataError

EXCLUDED = ".transferlab-excluded"
RECORD = "moves.jsonl"


@dataclass(frozen=True)
class Move:
    """One move: ``source`` -> ``dest`` (absolute paths); ``to_class`` None = excluded."""

    id: str
    source: str
    dest: str
    to_class: str | None
    time: float


def record_path() -> Path:
    """Where the moves are recorded."""
    return workspace.home() / RECORD


def free_name(path: Path) -> Path:
    """``path`` if nothing is there, else ``stem (2).ext``, ``stem (3).ext``, ..."""
    if not os.path.lexists(path):
        return path
    n = 2
    while os.path.lexists(candidate := path.with_name(f"{path.stem} ({n}){path.suffix}")):
        n += 1
    return candidate


def class_folder(root: str | Path, path: str | Path) -> Path:
    """The class folder that holds ``path`` (``root/<class>`` or ``root/<split>/<class>``)."""
    from tlcore.data.scan import SPLIT_FOLDERS

    root, path = Path(root), Path(path)
    parts = path.relative_to(root).parts
    depth = 2 if parts[0].lower() in SPLIT_FOLDERS and len(parts) > 2 else 1
    return root.joinpath(*parts[:depth])


def move_to_class(root: str | Path, path: str | Path, to_class: str) -> Move:
    """Move the image ``path`` of the dataset at ``root`` into the class ``to_class``
    (next to its current class folder, so a split folder stays the same).

    Raises:
        DataError: the image is gone, outside the dataset, or the class name is unusable.
    """
    name = to_class.strip()
    if not name or name in (".", "..") or "/" in name or os.sep in name or name.startswith("."):
        raise DataError(f"'{to_class}' cannot be a class folder name: use plain words.")
    root_p, src = _existing(root, path)
    target = class_folder(root_p, src).parent / name
    return _move(src, free_name(target / src.name), name)


def exclude(root: str | Path, path: str | Path) -> Move:
    """Take the image out of the dataset, into ``<root>/.transferlab-excluded/``."""
    root_p, src = _existing(root, path)
    dest = root_p / EXCLUDED / src.relative_to(root_p)
    return _move(src, free_name(dest), None)


def history() -> list[Move]:
    """Moves not undone, oldest first."""
    records, _ = fsutil.read_jsonl(record_path())
    undone = {r["undo"] for r in records if "undo" in r}
    return [Move(**r["move"]) for r in records if "move" in r and r["move"]["id"] not in undone]


def undo(move_id: str | None = None) -> Move:
    """Put an image back where a move took it from (default: the last move).

    Returns the move back (its ``dest`` is where the image is now: the original path, or
    a free name next to it if another file took that name meanwhile).

    Raises:
        DataError: nothing to undo, or the moved image is no longer where it was put.
    """
    moves = history()
    if not moves:
        raise DataError("There is no move to undo.")
    move = moves[-1] if move_id is None else next((m for m in moves if m.id == move_id), None)
    if move is None:
        raise DataError(f"No move '{move_id}' to undo (undone already, or never made).")
    here = Path(move.dest)
    if not here.is_file():
        raise DataError(
            f"Cannot undo: '{here.name}' is no longer at {here.parent} (moved or deleted "
            "outside TransferLab)."
        )
    back = free_name(Path(move.source))
    back.parent.mkdir(parents=True, exist_ok=True)
    _rename(here, back)
    fsutil.append_jsonl(record_path(), {"undo": move.id, "time": time.time(), "to": str(back)})
    return Move(move.id, str(here), str(back), None, time.time())


def _existing(root: str | Path, path: str | Path) -> tuple[Path, Path]:
    """The dataset root and the image, both resolved; the image must be in the root."""
    root_p, src = Path(root).resolve(), Path(path).resolve()
    if not src.is_relative_to(root_p) or src == root_p:
        raise DataError(f"'{path}' is not an image of the dataset at '{root}'.")
    if not src.is_file():
        raise DataError(f"'{src.name}' is no longer at {src.parent}: scan the folder again.")
    return root_p, src


def _move(src: Path, dest: Path, to_class: str | None) -> Move:
    dest.parent.mkdir(parents=True, exist_ok=True)
    _rename(src, dest)
    move = Move(uuid.uuid4().hex[:12], str(src), str(dest), to_class, time.time())
    fsutil.append_jsonl(record_path(), {"move": asdict(move)})
    return move


def _rename(src: Path, dest: Path) -> None:
    """Move without overwriting: a hard link fails if ``dest`` exists (no race with
    another writer), then the old name goes. Across disks: copy, then remove."""
    try:
        os.link(src, dest)
    except FileExistsError:
        raise DataError(f"'{dest}' appeared meanwhile; nothing was moved. Try again.") from None
    except OSError:  # another disk or a file system without hard links
        import shutil

        with open(src, "rb") as f_in, open(dest, "xb") as f_out:
            shutil.copyfileobj(f_in, f_out)
        shutil.copystat(src, dest)
    os.unlink(src)
