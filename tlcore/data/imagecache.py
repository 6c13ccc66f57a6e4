"""Decode once: an on-disk cache of resized images, shared by epochs, runs and processes.

One entry per (file path, modification time, file size, image size, resize mode): the
raw ``size x size x 3`` uint8 pixels, no header (the shape is in the folder name), then
the 8-byte CRC-32 trailer of ``tlcore.data.checksum``, so TensorFlow reads an entry with
``read_file`` + ``substr`` + ``decode_raw`` and never needs Python. A file that changes
gets a new key and is decoded again; old entries are simply unused.

Layout: ``<workspace>/cache/images/<size>px-<mode>-v<version>/<ab>/<key>.rgb``. Entries
are written to a temporary name and renamed, so a reader never sees half an entry.
Finding the missing entries costs one ``stat`` each (the size); an entry's content is
checked against its CRC whenever it is read in Python (``load``, ``read``), and by
``ensure(verify=True)`` for readers that take the bytes as they are. A damaged entry is
decoded again. Missing entries are decoded by a thread pool: Pillow releases the GIL
while decoding and resizing, so all cores work.
"""

import hashlib
import os
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import numpy as np

from tlcore import workspace
from tlcore.data import checksum
from tlcore.data.images import RESIZE_MODES, load_image
from tlcore.errors import ImageError

CACHE_VERSION = 2  # bump when decoding or the entry format changes (2: CRC trailer)
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
        self.nbytes = self.size * self.size * 3  # pixel bytes of one entry (then the trailer)

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
        """The entry exists with the right size (content is checked when it is read)."""
        try:
            return entry.stat().st_size == self.nbytes + checksum.TRAILER_BYTES
        except OSError:
            return False

    def _write(self, entry: Path, pixels: np.ndarray) -> None:
        entry.parent.mkdir(parents=True, exist_ok=True)
        # No fsync: an entry lost or damaged in a crash is decoded again (CRC checked).
        fd, tmp = tempfile.mkstemp(dir=entry.parent, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(checksum.with_trailer(np.ascontiguousarray(pixels, np.uint8).tobytes()))
            os.replace(tmp, entry)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def read(self, entry: Path) -> np.ndarray | None:
        """The pixels of an entry as a (size, size, 3) uint8 array; None if it is missing
        or damaged (wrong size, or content that does not match its CRC)."""
        try:
            data = checksum.check_bytes(entry.read_bytes(), self.nbytes)
        except OSError:
            return None
        if data is None:
            return None
        return np.frombuffer(data, dtype=np.uint8).reshape(self.size, self.size, 3)

    def load(self, image_path: str | Path) -> np.ndarray:
        """Pixels of one image, from the cache or decoded (and cached) now."""
        entry = self.entry_path(image_path)
        pixels = self.read(entry)
        if pixels is not None:
            return pixels
        pixels = load_image(image_path, self.size, self.mode)
        self._write(entry, pixels)
        return pixels

    def ensure(
        self,
        image_paths: Sequence[str | Path],
        progress: Progress | None = None,
        workers: int | None = None,
        verify: bool = False,
    ) -> list[Path]:
        """Make sure every image has a valid entry; return the entry paths in order.

        Missing entries are decoded in parallel. ``progress(done, total)`` is called from
        this thread after each decoded image (``total`` = images that needed decoding).

        Args:
            verify: also read every existing entry and decode again those whose content
                does not match their CRC (for readers that do not check, e.g. tf.data).

        Raises:
            ImageError: an image is missing or cannot be decoded (names the file).
        """
        entries = [self.entry_path(p) for p in image_paths]
        good = self._valid if not verify else (lambda e: self.read(e) is not None)
        todo = [(p, e) for p, e in zip(image_paths, entries, strict=True) if not good(e)]
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
