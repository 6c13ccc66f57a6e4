"""Saving what a person drops into the app under the workspace, with safe names.

Uploaded names come from the browser (a folder upload sends each file's relative path,
e.g. ``pets/cats/1.jpg``); they are untrusted, so every part is cleaned and nothing can
land outside the target folder.
"""

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tlcore import workspace

_UNSAFE = re.compile(r"[^\w\- .]+", re.UNICODE)


def safe_name(text: str, fallback: str = "unnamed") -> str:
    """A file or folder name made of letters, digits, spaces, ``-``, ``_`` and ``.``."""
    cleaned = _UNSAFE.sub("_", text).strip(" .")
    return cleaned[:80] or fallback


def safe_parts(relative: str) -> list[str]:
    """The cleaned parts of an uploaded relative path (``..``, ``.`` and empties dropped)."""
    parts = [p for p in re.split(r"[\\/]+", relative) if p not in ("", ".", "..")]
    return [safe_name(p) for p in parts]


def unique_folder(parent: Path, name: str) -> Path:
    """``parent/name``, or ``parent/name-2``, ``-3``... if that already exists."""
    candidate, n = parent / name, 2
    while candidate.exists():
        candidate, n = parent / f"{name}-{n}", n + 1
    return candidate


def save_folder_upload(files: Iterable[Any], name: str = "upload") -> Path:
    """Write a folder upload under ``datasets/`` and return the dataset's root folder.

    When every file sits in one common top folder (the folder the person picked), that
    folder is the root, so its subfolders are the classes.
    """
    files = list(files)
    root = unique_folder(workspace.datasets_dir(), safe_name(name))
    tops = set()
    for f in files:
        parts = safe_parts(f.name)
        if not parts:
            continue
        tops.add(parts[0] if len(parts) > 1 else "")
        target = root.joinpath(*parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(f.getvalue())
    if len(tops) == 1 and "" not in tops:
        return root / tops.pop()
    return root


def save_zip_upload(file: Any) -> Path:
    """Write an uploaded .zip under ``datasets/_uploads/`` and return its path."""
    folder = workspace.datasets_dir() / "_uploads"
    folder.mkdir(parents=True, exist_ok=True)
    path = unique_folder(folder, safe_name(Path(file.name).stem)).with_suffix(".zip")
    path.write_bytes(file.getvalue())
    return path


def save_class_images(dataset: str, class_name: str, files: Iterable[Any]) -> int:
    """Add images to ``datasets/<dataset>/<class_name>/``; return how many were written."""
    folder = workspace.datasets_dir() / safe_name(dataset) / safe_name(class_name)
    folder.mkdir(parents=True, exist_ok=True)
    count = 0
    for f in files:
        parts = safe_parts(f.name)
        target = unique_folder(folder, parts[-1] if parts else f"image-{count}")
        target.write_bytes(f.getvalue())
        count += 1
    return count


def built_classes(dataset: str) -> dict[str, int]:
    """Classes built so far in ``datasets/<dataset>/`` and their file counts."""
    root = workspace.datasets_dir() / safe_name(dataset)
    if not root.is_dir():
        return {}
    return {
        d.name: sum(1 for f in d.iterdir() if f.is_file())
        for d in sorted(root.iterdir())
        if d.is_dir()
    }


def subfolders(path: Path, limit: int = 60) -> list[Path]:
    """Visible subfolders of ``path``, sorted, at most ``limit`` (unreadable -> empty)."""
    try:
        found = sorted(
            (p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")),
            key=lambda p: p.name.lower(),
        )
    except OSError:
        return []
    return found[:limit]
