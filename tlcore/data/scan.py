"""Scanning a dataset: which images are usable, which are not (and why), what to watch.

Layouts: ``root/<class>/...`` (images may sit in nested folders inside a class) or
``root/train|val|validation|test/<class>/...``; a ``.zip`` of either is extracted first
(``tlcore.data.zips``). Every file is accounted for: used as an image of a class, or skipped
with a reason. Files are checked in a thread pool (hashing and Pillow release the GIL)
with ``images.check_image``, which is cheap for large photos (see its docstring). Which
files are listed (links, bounds) is ``tlcore.data.walk``; the report's types are in
``tlcore.data.report`` and its sentences in ``tlcore.data.findings``.
"""

import hashlib
import os
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path

from tlcore.data.findings import (
    DUPLICATE_KINDS,
    MIN_CLASS_IMAGES,
    dataset_warnings,
    empty_class_error,
    reason_summary,
    too_few_images,
)
from tlcore.data.notes import read_notes
from tlcore.data.report import DatasetReport, DuplicateGroup, ImageItem, Skipped, class_names
from tlcore.data.scancache import check_files
from tlcore.data.walk import list_dataset
from tlcore.data.zips import extract_zip
from tlcore.errors import DataError
from tlcore.fsutil import printable

SPLIT_FOLDERS = {
    "train": "train",
    "val": "val",
    "validation": "val",
    "valid": "val",
    "test": "test",
}
SYSTEM_FILES = frozenset({"thumbs.db", "desktop.ini", "ehthumbs.db", "icon\r"})
OWN_MARKER_PREFIX = ".transferlab-"
Progress = Callable[[int, int], None]
__all__ = [  # the report's types and sentences live in their own modules; scan shows them
    "DUPLICATE_KINDS",
    "MIN_CLASS_IMAGES",
    "DatasetReport",
    "DuplicateGroup",
    "ImageItem",
    "Skipped",
    "class_names",
    "scan",
    "too_few_images",
]


def _is_hidden(name: str) -> bool:
    return name.startswith(".") or name == "__MACOSX" or name.lower() in SYSTEM_FILES


def _detect_layout(root: Path) -> str:
    try:
        folders = [p.name.lower() for p in root.iterdir() if p.is_dir() and not _is_hidden(p.name)]
    except OSError as e:
        raise DataError(f"Cannot read the folder '{root}' ({e.strerror}).") from None
    if "train" in folders and all(f in SPLIT_FOLDERS for f in folders):
        return "split_folders"
    return "class_folders"


def _class_dirs(root: Path, layout: str) -> dict[tuple[str | None, str], str]:
    """(split, class) -> class folder path relative to root, for every class folder.

    A folder name that is not UTF-8 (kept by Python as surrogates) gives the label
    ``printable(name)``: the folder is used as it is, and the label can be shown and saved.
    """
    out: dict[tuple[str | None, str], str] = {}
    splits = (
        [(None, root)]
        if layout == "class_folders"
        else [
            (SPLIT_FOLDERS[p.name.lower()], p)
            for p in sorted(root.iterdir())
            if p.is_dir() and p.name.lower() in SPLIT_FOLDERS
        ]
    )
    for split, folder in splits:
        for d in sorted(folder.iterdir()):
            if d.is_dir() and not _is_hidden(d.name):
                rel = printable(d.relative_to(root).as_posix() + "/")
                if (split, printable(d.name)) in out:
                    raise DataError(
                        f"The class folders {out[(split, printable(d.name))]!r} and {rel!r} "
                        "would get the same label (one name is not valid UTF-8 text). "
                        "Rename one of them, then scan again."
                    )
                out[(split, printable(d.name))] = rel
    return out


def _place(parts: tuple[str, ...], layout: str) -> tuple[str | None, str | None, str | None]:
    """(split, class, reason-if-not-placed) for a file's path parts below root."""
    if layout == "class_folders":
        if len(parts) < 2:
            return None, None, "not in a class folder"
        return None, printable(parts[0]), None
    if len(parts) < 3:
        return None, None, "not in a class folder"
    return SPLIT_FOLDERS.get(parts[0].lower()), printable(parts[1]), None


def _duplicates(items: list[ImageItem], digests: list[str], root: Path) -> list[DuplicateGroup]:
    groups: dict[str, list[ImageItem]] = defaultdict(list)
    for item, digest in zip(items, digests, strict=True):
        groups[digest].append(item)
    out = []
    for members in groups.values():
        if len(members) < 2:
            continue
        if len({m.label for m in members}) > 1:
            kind = "across_classes"
        elif len({m.split for m in members}) > 1:
            kind = "across_splits"
        else:
            kind = "within_class"
        rel = tuple(sorted(Path(m.path).relative_to(root).as_posix() for m in members))
        out.append(DuplicateGroup(kind, rel))
    return sorted(out, key=lambda g: (list(DUPLICATE_KINDS).index(g.kind), g.paths))


# What ``str.splitlines`` splits on: a class name holding one would not survive a
# labels.txt (one name per line), so such names are refused at scan time.
_LINE_BREAKS = frozenset("\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029")


def _check_class_names(class_dirs: dict[tuple[str | None, str], str]) -> None:
    """Refuse class folder names that cannot be labels (line breaks, only spaces)."""
    for (_, name), rel in class_dirs.items():
        if any(c in _LINE_BREAKS for c in name):
            problem = "holds a line break"
        elif not name.strip():
            problem = "is only spaces"
        else:
            continue
        raise DataError(
            f"The class folder {rel!r} cannot be used: its name {problem}, and class names "
            "become the labels the model predicts. Rename the folder (to one line of "
            "text), then scan again."
        )


def scan(source: str | os.PathLike, progress: Progress | None = None) -> DatasetReport:
    """Scan a dataset folder or .zip and report usable images, skipped files and problems.

    Args:
        source: A folder (one subfolder per class, or train/val/test with class
            subfolders) or a .zip of one.
        progress: Optional ``callable(done, total)`` called as files are checked.

    Raises:
        DataError: the source is missing, empty, or has fewer than two usable classes.
    """
    if not os.fspath(source):  # Path("") would be the current folder: never meant
        raise DataError(
            "No dataset given (the path is empty): give a folder with one subfolder per "
            "class, or a .zip of one."
        )
    source = Path(source).expanduser()
    if not source.exists():
        raise DataError(f"'{source}' does not exist.")
    if source.is_file():
        if source.suffix.lower() != ".zip":
            raise DataError(
                f"'{source.name}' is a file; give a folder with one subfolder "
                "per class, or a .zip of one."
            )
        root = extract_zip(source)
    else:
        root = source.resolve()
    layout = _detect_layout(root)
    class_dirs = _class_dirs(root, layout)
    _check_class_names(class_dirs)
    listing = list_dataset(root, 1 if layout == "class_folders" else 2)
    # TransferLab's own marker files (zip extracted, demo generated) are not data.
    files = [p for p in listing.files if not p.name.startswith(OWN_MARKER_PREFIX)]
    if not files and not listing.skipped:
        raise DataError(
            f"'{root}' is empty: put the images of each class in its own "
            "subfolder, e.g. cats/ and dogs/."
        )

    skipped: list[Skipped] = []
    hidden_dirs: Counter = Counter()
    reasons: dict[str, Counter] = defaultdict(Counter)  # class folder -> skip reasons
    todo: list[tuple[Path, str | None, str]] = []
    odd_labels: set[str] = set()  # from folder names that are not UTF-8
    for path in files:
        parts = path.relative_to(root).parts
        rel = "/".join(parts)
        hidden_at = next((i for i, p in enumerate(parts[:-1]) if _is_hidden(p)), None)
        if hidden_at is not None:
            hidden_dirs[printable("/".join(parts[: hidden_at + 1]) + "/")] += 1
            continue
        split, label, reason = _place(parts, layout)
        if reason is None and _is_hidden(parts[-1]):
            reason = "hidden or system file"
        if reason is not None:
            skipped.append(Skipped(printable(rel), reason))
            continue
        todo.append((path, split, label))
        if label != parts[0 if layout == "class_folders" else 1]:
            odd_labels.add(label)

    for rel, reason in listing.skipped:  # links not followed, folders too deep, ...
        parts = tuple(rel.rstrip("/").split("/"))
        if any(_is_hidden(p) for p in parts[:-1]):
            continue  # inside a hidden folder: not data either way
        skipped.append(Skipped(printable(rel), reason))
        split, label, _ = _place((*parts, "-"), layout)
        reasons[class_dirs.get((split, label), "")][reason] += 1

    items: list[ImageItem] = []
    digests: list[str] = []
    checks = check_files([t[0] for t in todo], root, progress)
    for (path, split, label), (digest, reason) in zip(todo, checks, strict=True):
        if reason is None:
            items.append(ImageItem(str(path), label, split))
            digests.append(digest)
        else:
            skipped.append(Skipped(printable(path.relative_to(root).as_posix()), reason))
            reasons[class_dirs.get((split, label), "")][reason] += 1
    skipped += [
        Skipped(d, f"hidden folder ({n} file{'s' if n != 1 else ''})")
        for d, n in hidden_dirs.items()
    ]
    notes = read_notes(root)  # what an upload or a zip could not save as it was
    skipped += [Skipped(name, reason) for name, reason in notes.skipped]
    skipped.sort(key=lambda s: s.path)

    per_dir = Counter((i.split, i.label) for i in items)
    classes = dict(sorted(Counter(i.label for i in items).items()))
    empty = [d for key, d in class_dirs.items() if not per_dir[key]]
    extra_warnings = [
        f"The folder of class '{label}' has a name that is not UTF-8 text (from an old disk "
        f"or zip), so its label is shown as '{label}'; rename the folder for a readable label."
        for label in sorted(odd_labels & set(classes))
    ]
    if len(classes) < 2:
        if empty:
            raise DataError(empty_class_error(empty, reasons))
        if not class_dirs:
            raise DataError(
                f"No class folders in '{root}': put the images of each class in "
                "its own subfolder (e.g. cats/, dogs/); the folder names become "
                "the labels."
            )
        only = next(iter(classes))
        raise DataError(
            f"Only one class found ('{only}' with {classes[only]} images): a "
            "classifier needs at least two classes, each in its own subfolder."
        )
    for d in empty:
        label = d.rstrip("/").split("/")[-1]
        if label not in classes:
            extra_warnings.append(
                f"No images found in '{d}' ({reason_summary(reasons[d])}); "
                f"class '{label}' is left out."
            )
    split_counts = {}
    if layout == "split_folders":
        for split in ("train", "val", "test"):
            counts = Counter(i.label for i in items if i.split == split)
            if counts or split == "train":
                split_counts[split] = {c: counts.get(c, 0) for c in classes}
    duplicates = _duplicates(items, digests, root)
    fp = hashlib.blake2b(digest_size=8)
    for item, digest in sorted(zip(items, digests, strict=True), key=lambda t: t[0].path):
        fp.update(
            f"{Path(item.path).relative_to(root).as_posix()}|{item.label}|"
            f"{item.split}|{digest}\n".encode("utf-8", "surrogateescape")
        )
    return DatasetReport(
        root=str(root),
        layout=layout,
        classes=classes,
        items=items,
        skipped=skipped,
        duplicates=duplicates,
        warnings=notes.warnings()
        + extra_warnings
        + dataset_warnings(classes, split_counts, duplicates),
        fingerprint=fp.hexdigest(),
        split_counts=split_counts,
        source=str(source.resolve()),
    )
