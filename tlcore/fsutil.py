"""Atomic file writes and an append-only JSON-lines log.

A reader (the app, another process) must never see a half-written ``status.json`` or
``metrics.json``: we write a temporary file next to the target and rename it over the
target, which is atomic on POSIX and Windows. ``events.jsonl`` is appended one line per
write; a reader skips a last line that is not complete yet.
"""

import errno
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

# A file name that is not valid UTF-8 (old disks, zips) reaches Python as a str holding
# lone surrogates (PEP 383). It opens fine but cannot be encoded as UTF-8 text.
_SURROGATE = re.compile("[\ud800-\udfff]")


def _shown(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` safe to print or show: bytes of a name that are not UTF-8 appear as ``\\xNN``."""
    return _SURROGATE.sub(_shown, text)


def json_text(obj: Any, **kwargs: Any) -> str:
    """``json.dumps`` that can always be written as UTF-8.

    Lone surrogates (a file name that is not UTF-8) become ``\\udcNN`` escapes, which
    ``json.loads`` turns back into the very same name, so the file still opens.
    """
    text = json.dumps(obj, ensure_ascii=False, **kwargs)
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def atomic_write_bytes(path: str | os.PathLike, data: bytes, make_parent: bool = True) -> None:
    """Write ``data`` to ``path`` so that readers see the old or the new file, never half.

    ``make_parent=False``: a missing folder is ``FileNotFoundError``, not made again (a
    run folder deleted while its worker writes must stay deleted).
    """
    path = Path(path)
    if make_parent:
        path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | os.PathLike, text: str, make_parent: bool = True) -> None:
    """Atomically write UTF-8 text."""
    atomic_write_bytes(path, text.encode("utf-8"), make_parent)


def atomic_write_json(path: str | os.PathLike, obj: Any, make_parent: bool = True) -> None:
    """Atomically write ``obj`` as indented JSON."""
    atomic_write_text(path, json_text(obj, indent=2) + "\n", make_parent)


def publish_dir(built: Path, dest: Path, marker: str) -> None:
    """Move the fully built folder ``built`` to ``dest`` in one rename.

    ``dest`` may exist only as an empty folder. Readers see no folder or a finished one,
    never a half-written one. If another process published ``dest`` first (its ``marker``
    file is there), ``built`` is discarded.
    """
    if dest.exists():
        dest.rmdir()
    try:
        os.replace(built, dest)
    except OSError:
        if not (dest / marker).exists():
            raise
        shutil.rmtree(built, ignore_errors=True)


def is_disk_full(error: BaseException) -> bool:
    """True for "no space left on the device" (or over the disk quota).

    Libraries that wrap the system error (h5py, zipfile inside Keras) keep its text.
    """
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    return isinstance(error, OSError) and "No space left on device" in str(error)


def free_space_text(path: str | os.PathLike) -> str:
    """How much room is left on the disk holding ``path``, e.g. ``"12 MB free"``."""
    path = Path(path)
    while not path.exists() and path != path.parent:
        path = path.parent
    try:
        free = shutil.disk_usage(path).free
    except OSError:
        return "no room left"
    return f"{free / 1e9:.1f} GB free" if free >= 1e9 else f"{free // 1_000_000} MB free"


def os_error_text(error: OSError, path: str | os.PathLike) -> str:
    """An ``OSError`` in words a person can act on (disk full, permission, ...)."""
    if is_disk_full(error):
        return f"the disk is full ({free_space_text(path)})"
    if error.errno == errno.EACCES or isinstance(error, PermissionError):
        return f"permission denied for '{error.filename or path}'"
    if error.errno == errno.ENAMETOOLONG:
        return "a file name or path is too long for this computer's disk"
    return (error.strerror or str(error) or type(error).__name__).rstrip(".").lower()


def read_json(path: str | os.PathLike) -> Any:
    """Read a JSON file."""
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def append_jsonl(path: str | os.PathLike, obj: Any) -> None:
    """Append one JSON object as one line (a single ``write`` call, so lines never mix)."""
    line = json_text(obj, separators=(",", ":")) + "\n"
    with open(path, "a", encoding="utf-8") as f:
        f.write(line)


def read_jsonl(path: str | os.PathLike, start: int = 0) -> tuple[list[Any], int]:
    """Read complete lines of a JSON-lines file from byte offset ``start``.

    Returns the objects and the offset to pass next time, so a poller reads only what is
    new. A last line without its newline (still being written) is left for next time.
    """
    try:
        with open(path, "rb") as f:
            f.seek(start)
            data = f.read()
    except FileNotFoundError:
        return [], start
    end = data.rfind(b"\n") + 1
    objects = []
    for raw in data[:end].splitlines():
        if raw.strip():
            try:
                objects.append(json.loads(raw))
            except ValueError:  # JSON or UTF-8 error
                continue  # a line torn by a killed writer: skip it, keep the rest
    return objects, start + end
