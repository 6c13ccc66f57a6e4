"""Decode once: an on-disk cache of resized images, shared by epochs, runs and processes.

One entry per (file path, modification time, file size, image size, resize mode): the
raw ``size x size x 3`` uint8 pixels, no header (the shape is in the folder name), so
TensorFlow reads an entry with ``read_file`` + ``decode_raw`` and never needs Python. A
file that changes gets a new key and is decoded again; old entries are simply unused.

Layout: ``<workspace>/cache/images/<size>px-<mode>-v<version>/<ab>/<key>.rgb``. Entries
are written to a temporary name and renamed, so a reader never sees half an entry; the
size is checked before an entry is trusted. Missing entries are decoded by a thread
pool: Pillow releases the GIL while decoding and resizing, so all cores work.
"""

import hashlib
import os
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import numpy as np

from tlcore import workspace
from tlcore.data.images import RESIZE_MODES, load_image
from tlcore.errors import ImageError

CACHE_VERSION = 1  # bump when decoding changes, so old pixels are not reused
Progress = Callable[[int, int], None]


def default_workers() -> int:
    """Decoder threads: one per core (decoding is CPU-bound C code without the GIL)."""
    return max(1, os.cpu_count() or 1)


class ImageCache:
    """The decoded-image cache for one (size, resize mode)."""

    def __init__(self, size: int, mode: str = "pad", root: str | Path | None = None) -> None:
        if mode not in RESIZE_MODES:
            raise ValueError(f"resize mode must be one of {RESIZE_MODES}, got {mode!r}")
        self.size, self.mode = int(size), mode
        base = Path(root) if root is not None else workspace.cache_dir("images")
        self.folder = base / f"{self.size}px-{mode}-v{CACHE_VERSION}"
        self.nbytes = self.size * self.size * 3

    def entry_path(self, image_path: str | Path) -> Path:
        """Where the decoded pixels of ``image_path`` (as it is now) live."""
        try:
            st = os.stat(image_path)
        except OSError:
            raise ImageError(image_path, "missing (moved or deleted since the scan)") from None
        raw = f"{os.path.abspath(image_path)}|{st.st_mtime_ns}|{st.st_size}|{self.size}|{self.mode}"
        key = hashlib.blake2b(raw.encode("utf-8", "surrogateescape"), digest_size=16).hexdigest()
        return self.folder / key[:2] / f"{key}.rgb"

    def _valid(self, entry: Path) -> bool:
        try:
            return entry.stat().st_size == self.nbytes
        except OSError:
            return False

    def _write(self, entry: Path, pixels: np.ndarray) -> None:
        entry.parent.mkdir(parents=True, exist_ok=True)
        # No fsync: an entry lost in a crash is only decoded again (sizes are checked).
        fd, tmp = tempfile.mkstemp(dir=entry.parent, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(np.ascontiguousarray(pixels, dtype=np.uint8).tobytes())
            os.replace(tmp, entry)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def read(self, entry: Path) -> np.ndarray:
        """The pixels of an entry as a (size, size, 3) uint8 array."""
        return np.fromfile(entry, dtype=np.uint8).reshape(self.size, self.size, 3)

    def load(self, image_path: str | Path) -> np.ndarray:
        """Pixels of one image, from the cache or decoded (and cached) now."""
        entry = self.entry_path(image_path)
        if self._valid(entry):
            return self.read(entry)
        pixels = load_image(image_path, self.size, self.mode)
        self._write(entry, pixels)
        return pixels

    def ensure(
        self,
        image_paths: Sequence[str | Path],
        progress: Progress | None = None,
        workers: int | None = None,
    ) -> list[Path]:
        """Make sure every image has a valid entry; return the entry paths in order.

        Missing entries are decoded in parallel. ``progress(done, total)`` is called from
        this thread after each decoded image (``total`` = images that needed decoding).

        Raises:
            ImageError: an image is missing or cannot be decoded (names the file).
        """
        entries = [self.entry_path(p) for p in image_paths]
        todo = [(p, e) for p, e in zip(image_paths, entries, strict=True) if not self._valid(e)]
        if not todo:
            return entries

        def decode(job: tuple[str | Path, Path]) -> None:
            self._write(job[1], load_image(job[0], self.size, self.mode))

        with ThreadPoolExecutor(workers or default_workers()) as pool:
            futures = [pool.submit(decode, job) for job in todo]
            try:
                for done, future in enumerate(as_completed(futures), 1):
                    future.result()
                    if progress is not None:
                        progress(done, len(todo))
            except BaseException:
                for f in futures:
                    f.cancel()
                raise
        return entries
