"""Checking a dataset's files (content hash + cheap image check), remembered between scans.

Every training run scans its dataset; on 50,000 photos, hashing and checking each file
again would cost minutes. For each dataset root we keep, per file (relative path), the
modification time and size seen, the content digest and the skip reason (or none). A
file whose mtime and size are unchanged is not read again, as ``make`` and ``rsync`` do.
The cache holds only the files seen by the latest scan, so deleted files drop out.

Stored in ``<workspace>/cache/scan/<hash of root>.json``; a damaged or old-version file is
ignored (everything is checked again).
"""

import hashlib
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tlcore import fsutil, workspace
from tlcore.data.checksum import file_digest
from tlcore.data.images import IMAGE_EXTENSIONS, UNSUPPORTED_EXTENSIONS, check_image
from tlcore.errors import ImageError, WorkspaceError

# Bump when check rules change (size limits, formats, completeness checks).
CHECK_VERSION = 2  # 2: files without an image extension are judged by their content
Progress = Callable[[int, int], None]


class ScanCache:
    """The remembered checks of one dataset root."""

    def __init__(self, root: Path) -> None:
        key = hashlib.blake2b(
            str(root).encode("utf-8", "surrogateescape"), digest_size=12
        ).hexdigest()
        self.root = str(root)
        self.old: dict[str, list] = {}
        self.new: dict[str, list] = {}
        try:  # a workspace that cannot be written only costs speed: scan without the cache
            self.path: Path | None = workspace.cache_dir("scan") / f"{key}.json"
        except WorkspaceError:
            self.path = None
            return
        try:
            data = fsutil.read_json(self.path)
            if data.get("version") == CHECK_VERSION and data.get("root") == self.root:
                self.old = data["files"]
        except (OSError, ValueError, KeyError, AttributeError, TypeError):
            pass

    def get(self, rel: str, st: os.stat_result) -> tuple[str | None, str | None] | None:
        """(digest, reason) remembered for this file as it is now, or None."""
        entry = self.old.get(rel)
        if entry and entry[0] == st.st_mtime_ns and entry[1] == st.st_size:
            self.new[rel] = entry
            return entry[2], entry[3]
        return None

    def put(self, rel: str, st: os.stat_result, digest: str | None, reason: str | None) -> None:
        """Remember the check of one file (not a read failure: permissions can change)."""
        if not (reason or "").startswith("unreadable"):
            self.new[rel] = [st.st_mtime_ns, st.st_size, digest, reason]

    def save(self) -> None:
        """Write what this scan saw (atomically); a failure only costs speed next time."""
        if self.path is None or self.new == self.old:
            return
        try:
            data = {"version": CHECK_VERSION, "root": self.root, "files": self.new}
            fsutil.atomic_write_text(self.path, fsutil.json_text(data, separators=(",", ":")))
        except OSError:
            pass


def check_file(path: Path) -> tuple[str | None, str | None]:
    """(content digest, None) for a usable image, else (digest or None, reason).

    The content decides, not the name: a PNG saved without an extension (or with a
    wrong one) is used. Files with other extensions are looked at (header only) before
    anything is hashed, so a folder of videos or documents stays cheap to scan.
    """
    ext = path.suffix.lower()
    if ext in UNSUPPORTED_EXTENSIONS:
        return None, f"unsupported format ({ext})"
    if ext not in IMAGE_EXTENSIONS:
        try:
            check_image(path)
        except ImageError as e:
            return None, "not an image" if e.reason.startswith("not an image") else e.reason
    try:
        digest = file_digest(path)
    except OSError as e:
        return None, f"unreadable ({e.strerror or 'read error'})"
    try:
        check_image(path)
    except ImageError as e:
        return digest, e.reason
    return digest, None


def check_files(
    paths: list[Path], root: Path, progress: Progress | None
) -> list[tuple[str | None, str | None]]:
    """``check_file`` for every file, in parallel, reusing checks of unchanged files.

    Args:
        paths: Files below ``root``.
        root: The dataset root (names the cache; paths are remembered relative to it).
        progress: Optional ``callable(done, total)``.
    """
    cache = ScanCache(root)
    results: list = [None] * len(paths)
    stats: list = [None] * len(paths)
    pending = []
    for i, path in enumerate(paths):
        try:
            stats[i] = path.stat()
        except OSError as e:
            results[i] = (None, f"unreadable ({e.strerror or 'stat failed'})")
            continue
        results[i] = cache.get(path.relative_to(root).as_posix(), stats[i])
        if results[i] is None:
            pending.append(i)
    done = len(paths) - len(pending)
    if progress is not None and done:
        progress(done, len(paths))
    workers = min(8, 2 * (os.cpu_count() or 1))  # hashing waits on the disk: oversubscribe
    with ThreadPoolExecutor(workers) as pool:
        for i, result in zip(
            pending, pool.map(check_file, [paths[i] for i in pending]), strict=True
        ):
            results[i] = result
            cache.put(paths[i].relative_to(root).as_posix(), stats[i], *result)
            done += 1
            if progress is not None:
                progress(done, len(paths))
    cache.save()
    return results
