"""Unpacking a dataset .zip safely.

A zip from the internet is untrusted. Before anything is written we read the zip's
central directory and refuse the whole archive if a member would land outside the target
(``../``, absolute paths, drive letters), if the declared total is over ``MAX_TOTAL_BYTES``
or if a member's compression ratio is over ``MAX_RATIO`` (photos barely compress; a
1000:1 member is a zip bomb). Declared sizes can lie, so the same limits are enforced
again on the bytes actually written while streaming. Extraction goes to a temporary
folder renamed into place at the end, so a refused or interrupted zip leaves nothing.

``__MACOSX/``, hidden files and symlink members are not extracted. One wrapping top
folder (``flowers/cats/...``) is stripped, so the result has the class (or train/val)
folders at its top. Members that cannot be written as they are — a symbolic link, a
name too long for the disk, a file with the name of a folder, an older copy of a name
that appears twice (the last one wins, as with every unzip tool) — are left out and
listed in the dataset's notes, so the scan report shows them among the skipped files.
Any other ``OSError`` while unpacking (a full disk, no permission) is one ``DataError``
sentence, and the temporary folder is removed.

Member names are read as their makers meant them (``tlcore.data.zipnames``).
"""

import hashlib
import os
import re
import shutil
import stat
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

from tlcore import fsutil, workspace
from tlcore.data.notes import Notes, write_notes
from tlcore.data.zipnames import member_name, open_zip
from tlcore.errors import DataError
from tlcore.fsutil import printable

MAX_TOTAL_BYTES = 20 * 1024**3  # 20 GB uncompressed
MAX_RATIO = 200  # uncompressed / compressed, per member
RATIO_MIN_BYTES = 1024**2  # tiny members may compress well (text, blank images): ignore
MAX_MEMBERS = 500_000
_CHUNK = 1024**2
EXTRACTED_MARKER = ".transferlab-extracted"  # scan ignores it


def _is_skipped(parts: tuple[str, ...]) -> bool:
    """__MACOSX resource forks, hidden files/folders (.DS_Store, ._x) and Thumbs.db."""
    return any(p == "__MACOSX" or p.startswith(".") for p in parts) or (
        parts[-1].lower() in ("thumbs.db", "desktop.ini")
    )


def _safe_parts(name: str) -> tuple[str, ...]:
    """The member's path parts; DataError if it would escape the target folder."""
    clean = name.replace("\\", "/")
    if clean.startswith("/") or re.match(r"^[A-Za-z]:", clean):
        raise DataError(
            f"The zip was refused: member '{name}' has an absolute path, "
            "which would be written outside the target folder."
        )
    parts = tuple(p for p in PurePosixPath(clean).parts if p not in ("", "."))
    if ".." in parts:
        raise DataError(
            f"The zip was refused: member '{name}' contains '..', "
            "which would be written outside the target folder."
        )
    return parts


Plan = list[tuple[zipfile.ZipInfo, tuple[str, ...]]]


def _plan(zf: zipfile.ZipFile, max_total: int, max_ratio: float, notes: Notes) -> Plan:
    """Check every member from the central directory; return (member, parts) to extract.

    Members left out for a reason a person should see are added to ``notes.skipped``.
    """
    infos = zf.infolist()
    if len(infos) > MAX_MEMBERS:
        raise DataError(
            f"The zip was refused: it has {len(infos)} members (the limit is {MAX_MEMBERS})."
        )
    plan, total = [], 0
    for info in infos:
        parts = _safe_parts(member_name(info))  # checked for every member, even skipped ones
        if info.is_dir() or not parts or _is_skipped(parts):
            continue
        if stat.S_ISLNK(info.external_attr >> 16):
            # A symlink could point anywhere on this machine.
            notes.skipped.append((member_name(info), "symbolic link (not extracted)"))
            continue
        if info.file_size >= RATIO_MIN_BYTES:
            ratio = info.file_size / max(info.compress_size, 1)
            if ratio > max_ratio:
                raise DataError(
                    f"The zip was refused: member '{member_name(info)}' would expand "
                    f"{ratio:.0f} times ({info.file_size:,} bytes), which looks like a zip "
                    f"bomb (the limit is {max_ratio:.0f} times)."
                )
        total += info.file_size
        if total > max_total:
            raise DataError(
                f"The zip was refused: at member '{member_name(info)}' it would expand to more "
                f"than {max_total:,} bytes (the limit)."
            )
        plan.append((info, parts))
    if not plan:
        raise DataError("The zip contains no files (only folders, hidden or system files).")
    return _without_clashes(_strip_wrapper(plan), notes)


def _without_clashes(plan: Plan, notes: Notes) -> Plan:
    """Drop earlier copies of a name given twice, and files named like a folder."""
    last = {parts: i for i, (_, parts) in enumerate(plan)}
    folders = {parts[:k] for _, parts in plan for k in range(1, len(parts))}
    kept = []
    for i, (info, parts) in enumerate(plan):
        if last[parts] != i:
            notes.skipped.append(
                (
                    member_name(info),
                    "the zip holds another file of this name; the last one was used",
                )
            )
        elif parts in folders:
            notes.skipped.append((member_name(info), "a folder of the same name is in the zip"))
        else:
            kept.append((info, parts))
    return kept


def _fits_on_disk(plan: Plan, tmp: Path, notes: Notes) -> Plan:
    """Leave out members whose name or path is too long for this computer's disk."""
    try:
        name_max = os.pathconf(tmp, "PC_NAME_MAX")
        path_max = os.pathconf(tmp, "PC_PATH_MAX")
    except (OSError, ValueError, AttributeError):  # no pathconf (Windows): common limits
        name_max, path_max = 255, 4096
    kept = []
    for info, parts in plan:
        if any(len(os.fsencode(p)) > name_max for p in parts):
            notes.skipped.append((member_name(info), f"name longer than {name_max} bytes"))
        elif len(os.fsencode(str(tmp.joinpath(*parts)))) >= path_max:
            notes.skipped.append((member_name(info), f"path longer than {path_max} bytes"))
        else:
            kept.append((info, parts))
    return kept


def _strip_wrapper(
    plan: list[tuple[zipfile.ZipInfo, tuple[str, ...]]],
) -> list[tuple[zipfile.ZipInfo, tuple[str, ...]]]:
    """Drop one top folder shared by every member, if folders remain below it."""
    tops = {parts[0] for _, parts in plan}
    if len(tops) == 1 and all(len(p) >= 2 for _, p in plan) and any(len(p) >= 3 for _, p in plan):
        return [(info, parts[1:]) for info, parts in plan]
    return plan


def _copy_member(
    zf: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    target: Path,
    written: int,
    max_total: int,
    max_ratio: float,
) -> int:
    """Stream one member to ``target`` enforcing the limits on real bytes; return total."""
    size = 0
    limit = max(RATIO_MIN_BYTES, info.compress_size * max_ratio)
    try:
        with zf.open(info) as src, open(target, "wb") as dst:
            while chunk := src.read(_CHUNK):
                size += len(chunk)
                if size > limit or written + size > max_total:
                    raise DataError(
                        f"The zip was refused: member '{member_name(info)}' expands "
                        "beyond its declared size or the size limit."
                    )
                dst.write(chunk)
    except zipfile.BadZipFile as e:
        raise DataError(f"The zip is damaged at member '{member_name(info)}' ({e}).") from None
    return written + size


def zip_digest(zip_path: Path) -> str:
    """A short content hash of the zip (names its extraction folder)."""
    h = hashlib.blake2b(digest_size=8)
    with open(zip_path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def extract_zip(
    zip_path: str | os.PathLike,
    dest: str | os.PathLike | None = None,
    *,
    max_total_bytes: int = MAX_TOTAL_BYTES,
    max_ratio: float = MAX_RATIO,
) -> Path:
    """Safely extract a dataset zip and return the folder holding its contents.

    Args:
        zip_path: The .zip file.
        dest: Folder to create. Default: ``<workspace>/datasets/<zip name>-<hash>``; an
            archive extracted before is not extracted again.
        max_total_bytes: Refuse archives expanding beyond this many bytes.
        max_ratio: Refuse members compressed more than this (uncompressed / compressed).

    Raises:
        DataError: not a zip, unsafe member (named, with the reason), or over a limit.
    """
    zip_path = Path(zip_path)
    if not zip_path.is_file():
        raise DataError(f"'{zip_path}' does not exist or is not a file.")
    if dest is None:
        stem = re.sub(r"[^\w.-]+", "_", zip_path.stem).strip("._") or "dataset"
        dest = workspace.datasets_dir() / f"{stem}-{zip_digest(zip_path)}"
    dest = Path(dest).resolve()
    if (dest / EXTRACTED_MARKER).exists():
        return dest
    if dest.exists() and any(dest.iterdir()):
        raise DataError(f"Cannot extract into '{dest}': the folder is not empty.")
    try:
        zf = open_zip(zip_path)
    except (zipfile.BadZipFile, OSError):
        raise DataError(f"'{zip_path.name}' is not a readable .zip file.") from None
    with zf, zf.fp:
        notes = Notes()
        plan = _plan(zf, max_total_bytes, max_ratio, notes)
        try:
            return _unpack(zf, zip_path, dest, plan, notes, max_total_bytes, max_ratio)
        except OSError as e:  # not at a member: making the folder, renaming it, ...
            raise _unpack_error(zip_path, dest, e) from None


def _unpack_error(zip_path: Path, dest: Path, e: OSError, member: str = "") -> DataError:
    where = f" (at member '{member}')" if member else ""
    advice = (
        " Free some space (deleting the workspace's cache/ folder is safe), then try again."
        if fsutil.is_disk_full(e)
        else ""
    )
    return DataError(
        f"Could not unpack '{zip_path.name}': {fsutil.os_error_text(e, dest.parent)}"
        f"{where}.{advice}"
    )


def _unpack(
    zf: zipfile.ZipFile,
    zip_path: Path,
    dest: Path,
    plan: Plan,
    notes: Notes,
    max_total_bytes: int,
    max_ratio: float,
) -> Path:
    """Write ``plan`` into a temporary folder next to ``dest``, then rename it into place."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    need = sum(info.file_size for info, _ in plan)
    if need > shutil.disk_usage(dest.parent).free:
        raise DataError(
            f"Could not unpack '{zip_path.name}': it needs {need / 1e6:,.0f} MB and the disk "
            f"has {fsutil.free_space_text(dest.parent)}. Free some space, then try again."
        )
    tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp"))
    try:
        plan = _fits_on_disk(plan, tmp, notes)
        if not plan:
            raise DataError(
                "The zip contains no file that can be unpacked here ("
                + "; ".join(f"'{n}': {r}" for n, r in notes.skipped[:3])
                + ")."
            )
        written = 0
        for info, parts in plan:
            target = tmp.joinpath(*parts)
            # Belt and braces: the joined path must stay inside the temporary folder.
            if not target.resolve().is_relative_to(tmp.resolve()):
                raise DataError(
                    f"The zip was refused: member '{member_name(info)}' would be "
                    "written outside the target folder."
                )
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                written = _copy_member(zf, info, target, written, max_total_bytes, max_ratio)
            except OSError as e:
                raise _unpack_error(zip_path, dest, e, member_name(info)) from None
        write_notes(tmp, notes)
        (tmp / EXTRACTED_MARKER).write_text(printable(zip_path.name) + "\n", encoding="utf-8")
        fsutil.publish_dir(tmp, dest, EXTRACTED_MARKER)  # dest is empty (checked above)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest
