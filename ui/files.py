"""Saving what a person drops into the app under the workspace, with safe names.

Uploaded names come from the browser (a folder upload sends each file's relative path,
e.g. ``pets/cats/1.jpg``); they are untrusted, so every part is cleaned and nothing can
land outside the target folder. Cleaning keeps every name that is valid on disk as it is
(``🐱``, ``c++``, ``c#``, accents), so different classes stay different; only path
separators, control characters and the few characters Windows forbids become ``_``.
Nothing is ever written over: a name that is taken gets `` (2)``, `` (3)``... before its
extension, and each such rename is noted for the scan report (``tlcore.data.notes``).
"""

import re
import shutil
import unicodedata
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tlcore import fsutil, workspace
from tlcore.data.notes import Notes, write_notes
from tlcore.errors import DataError

# Separators, controls (newlines, tabs...) and what Windows refuses in a name.
_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\<>:"|?*]+')
_RESERVED = re.compile(r"^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\.|$)", re.IGNORECASE)
MAX_NAME_BYTES = 240  # file systems allow 255; leaves room for " (99)"
MAX_SUFFIX = 16


def safe_name(text: str, fallback: str = "unnamed") -> str:
    """A file or folder name that is valid on any disk, as close to ``text`` as possible.

    Long names are shortened in the middle of the stem, so the extension (which decides
    whether the file is read as an image) is kept.
    """
    cleaned = "".join(
        "_" if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c
        for c in _UNSAFE.sub("_", unicodedata.normalize("NFC", text))
    ).strip(" .")
    if _RESERVED.match(cleaned):
        cleaned = "_" + cleaned
    return _shorten(cleaned) or fallback


def _shorten(name: str) -> str:
    if len(name.encode("utf-8")) <= MAX_NAME_BYTES:
        return name
    stem, dot, suffix = name.rpartition(".")
    if not dot or not stem or len(suffix) > MAX_SUFFIX:
        stem, suffix = name, ""
    suffix = f".{suffix}" if suffix else ""
    room = MAX_NAME_BYTES - len(suffix.encode("utf-8"))
    return stem.encode("utf-8")[:room].decode("utf-8", "ignore").rstrip(" .") + suffix


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


def unique_file(parent: Path, name: str, taken: set[str] = frozenset()) -> Path:
    """``parent/name``, or ``parent/stem (2).ext``... if that exists (or is in ``taken``)."""
    stem, suffix = _split(name)
    candidate, n = name, 2
    while (parent / candidate).exists() or candidate.casefold() in taken:
        candidate, n = f"{stem} ({n}){suffix}", n + 1
    return parent / candidate


def _split(name: str) -> tuple[str, str]:
    path = Path(name)
    suffix = path.suffix if 0 < len(path.suffix) <= MAX_SUFFIX + 1 and path.stem else ""
    return name[: len(name) - len(suffix)], suffix


class _Placer:
    """Where each uploaded path goes below ``root``, keeping different names apart.

    Two different uploaded folders whose cleaned names coincide (``a:b`` and ``a?b``, or
    ``Cats`` and ``cats`` on a disk that ignores case) get different folders; a file
    whose place is taken gets a new name. Every such change is noted.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.folders: dict[tuple[str, ...], tuple[str, ...]] = {(): ()}  # given -> saved
        self.used: dict[tuple[str, ...], set[str]] = {(): set()}  # saved folder -> names
        self.notes = Notes()

    def _name_in(self, folder: tuple[str, ...], wanted: str, kind_folder: bool) -> str:
        used = self.used.setdefault(folder, set())
        parent = self.root.joinpath(*folder)
        if kind_folder:
            name, n = wanted, 2
            while name.casefold() in used or (parent / name).exists():
                name, n = f"{wanted} ({n})", n + 1
        else:
            name = unique_file(parent, wanted, used).name
        used.add(name.casefold())
        return name

    def place(self, given: str) -> Path | None:
        raw = [p for p in re.split(r"[\\/]+", given) if p not in ("", ".", "..")]
        if not raw:
            return None
        saved: tuple[str, ...] = ()
        for i in range(1, len(raw)):
            key = tuple(raw[:i])
            if key not in self.folders:
                wanted = safe_name(raw[i - 1])
                name = self._name_in(saved, wanted, True)
                self.folders[key] = (*saved, name)
                if name != wanted:  # once per folder, not once per file in it
                    self.notes.renamed.append(("/".join(key), "/".join(self.folders[key])))
            saved = self.folders[key]
        wanted = safe_name(raw[-1])
        name = self._name_in(saved, wanted, False)
        if name != wanted:
            self.notes.renamed.append(("/".join(raw), "/".join((*saved, name))))
        return self.root.joinpath(*saved, name)


def save_folder_upload(files: Iterable[Any], name: str = "upload") -> Path:
    """Write a folder upload under ``datasets/`` and return the dataset's root folder.

    When every file sits in one common top folder (the folder the person picked), that
    folder is the root, so its subfolders are the classes. Nothing is overwritten and no
    two names are merged: renamed files are noted for the scan report.
    """
    files = list(files)
    base = unique_folder(workspace.datasets_dir(), safe_name(name))
    placer = _Placer(base)
    tops = set()
    try:
        for f in files:
            target = placer.place(f.name)
            if target is None:
                continue
            rel = target.relative_to(base).parts
            tops.add(rel[0] if len(rel) > 1 else "")
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "xb") as out:  # "x": never write over a file
                out.write(f.getvalue())
    except OSError as e:  # nothing half-saved stays behind
        shutil.rmtree(base, ignore_errors=True)
        raise _save_error("the uploaded folder", e) from None
    root = base / tops.pop() if len(tops) == 1 and "" not in tops else base
    if root != base:  # the notes speak of paths below the dataset root
        top = root.name + "/"
        placer.notes.renamed = [
            (g.split("/", 1)[-1], s.removeprefix(top)) for g, s in placer.notes.renamed
        ]
    write_notes(root, placer.notes)
    return root


def save_zip_upload(file: Any) -> Path:
    """Write an uploaded .zip under ``datasets/_uploads/`` and return its path.

    Two uploads of the same name never overwrite each other (``pets (2).zip``).
    """
    folder = workspace.datasets_dir() / "_uploads"
    folder.mkdir(parents=True, exist_ok=True)
    stem = safe_name(Path(file.name).stem, fallback="upload")
    path = unique_file(folder, f"{stem}.zip")
    _write_new(path, file)
    return path


def unpack_zip_upload(file: Any) -> Path:
    """Save an uploaded .zip, unpack it safely and return the dataset folder.

    The uploaded copy is removed afterwards whatever happens, so a refused or failed
    zip leaves nothing in ``datasets/_uploads``.

    Raises:
        DataError: the zip is refused or cannot be unpacked (the message says why).
    """
    from tlcore.data.zips import extract_zip

    path = save_zip_upload(file)
    try:
        return extract_zip(path)
    finally:
        path.unlink(missing_ok=True)


def _write_new(path: Path, file: Any) -> None:
    """Write an upload to a file that must not exist yet; on failure leave nothing."""
    try:
        with open(path, "xb") as out:
            out.write(file.getvalue())
    except OSError as e:
        path.unlink(missing_ok=True)
        raise _save_error(f"'{file.name}'", e) from None


def _save_error(what: str, e: OSError) -> DataError:
    text = fsutil.os_error_text(e, workspace.datasets_dir())
    advice = " Free some space, then try again." if fsutil.is_disk_full(e) else ""
    return DataError(f"Could not save {what}: {text}.{advice}")


def save_class_images(dataset: str, class_name: str, files: Iterable[Any]) -> int:
    """Add images to ``datasets/<dataset>/<class_name>/``; return how many were written.

    A photo whose name is taken (added before, or twice now) gets a new name.
    """
    folder = workspace.datasets_dir() / safe_name(dataset) / safe_name(class_name)
    folder.mkdir(parents=True, exist_ok=True)
    count = 0
    for f in files:
        parts = safe_parts(f.name)
        _write_new(unique_file(folder, parts[-1] if parts else f"image-{count}.jpg"), f)
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
