"""Listing a dataset's files: links never move a photo to another class; the walk ends.

A symbolic link below a class folder is followed only when its target stays inside that
class's folder: a link from ``cats/`` to ``../dogs`` (or to ``/``) would label dog photos
"cat" and leave ``dogs`` empty, so it is left out and reported instead. A class folder
that is itself a link is followed when it points outside the dataset (a dataset put
together from folders elsewhere), not when it points to another folder of the dataset.
A folder reached a second time (a link loop) is not entered again. The walk stops at
``MAX_DEPTH`` folders below the root (deeper folders are reported) and refuses a tree of
more than ``MAX_ENTRIES`` files and folders (``scan /`` must not read the whole disk).
"""

import os
from dataclasses import dataclass, field
from pathlib import Path

from tlcore.errors import DataError

MAX_DEPTH = 32  # folders below the dataset root
MAX_ENTRIES = 500_000  # files and folders looked at, in all (a zip may hold as many members)

LINK_OUT_OF_CLASS = "link to outside its class folder (not followed)"
LINK_INTO_DATASET = "link to another folder of this dataset (not followed)"
LINK_AROUND_DATASET = "link to a folder holding this dataset (not followed)"
LINK_AGAIN = "link to a folder scanned already (a loop; not followed)"
LINK_BROKEN = "broken link"
NOT_REGULAR = "not a regular file (device, pipe or socket)"


@dataclass
class Listing:
    """Regular files to check, and what was left out: (path relative to root, reason)."""

    files: list[Path] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def list_dataset(
    root: Path,
    class_depth: int,
    max_depth: int | None = None,
    max_entries: int | None = None,
) -> Listing:
    """List the files below ``root`` in sorted order (see the module docstring).

    Args:
        root: The dataset folder (resolved: no link in its own path).
        class_depth: How deep class folders are: 1 (``root/<class>``) or 2
            (``root/<split>/<class>``).
        max_depth: Folders deeper than this below ``root`` are not entered
            (default ``MAX_DEPTH``).
        max_entries: Refuse the tree beyond this many files and folders
            (default ``MAX_ENTRIES``).

    Raises:
        DataError: the tree holds more than ``max_entries`` files and folders.
    """
    max_depth = MAX_DEPTH if max_depth is None else max_depth
    max_entries = MAX_ENTRIES if max_entries is None else max_entries
    out = Listing()
    seen: set[Path] = {root}
    count = 0

    def visit(folder: Path, real: Path, depth: int, boundary: Path | None) -> None:
        nonlocal count
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as e:
            out.skipped.append((_rel(folder, root) + "/", f"unreadable folder ({e.strerror})"))
            return
        for entry in entries:
            count += 1
            if count > max_entries:
                raise DataError(
                    f"Stopped scanning '{root}' after {max_entries:,} files and folders, more "
                    "than a dataset holds: give the folder of your photos (one subfolder per "
                    "class), not a whole disk."
                )
            path = Path(entry.path)
            try:
                target = _follow(entry, real, root, boundary)
                is_dir = entry.is_dir()
                is_file = not is_dir and entry.is_file()
            except _LeftOut as why:
                out.skipped.append((_rel(path, root), str(why)))
                continue
            except OSError:
                out.skipped.append((_rel(path, root), LINK_BROKEN))
                continue
            if is_file:
                out.files.append(path)
            elif not is_dir:
                out.skipped.append((_rel(path, root), NOT_REGULAR))
            elif target in seen:
                out.skipped.append((_rel(path, root) + "/", LINK_AGAIN))
            elif depth + 1 > max_depth:
                out.skipped.append(
                    (_rel(path, root) + "/", f"folder deeper than {max_depth} levels (not scanned)")
                )
            else:
                seen.add(target)
                # Below a class folder, links must stay inside the class's real folder.
                inner = target if depth + 1 == class_depth else boundary
                visit(path, target, depth + 1, inner)

    visit(root, root, 0, None)
    return out


class _LeftOut(Exception):
    """A link not followed; the message is the reason shown in the report."""


def _follow(entry: os.DirEntry, real_parent: Path, root: Path, boundary: Path | None) -> Path:
    """The real path of ``entry``; ``_LeftOut`` if it is a link that must not be followed."""
    if not entry.is_symlink():
        return real_parent / entry.name
    try:
        target = Path(entry.path).resolve(strict=True)
    except (OSError, RuntimeError):  # missing target, or a loop of links
        raise _LeftOut(LINK_BROKEN) from None
    if boundary is not None:
        if not target.is_relative_to(boundary):
            raise _LeftOut(LINK_OUT_OF_CLASS)
    # Above the class folders (a class folder itself, a split folder, a loose file), a
    # link into the dataset would give one folder's photos two labels.
    elif target.is_relative_to(root):
        raise _LeftOut(LINK_INTO_DATASET)
    elif root.is_relative_to(target):
        raise _LeftOut(LINK_AROUND_DATASET)
    return target


def _rel(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()
