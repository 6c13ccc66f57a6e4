"""A content check for cache files: an 8-byte trailer holding a CRC-32 of the data.

A cache file of the right size can still hold the wrong bytes (blocks zeroed after a
crash, a disk error, a copy gone wrong), and training on them fails silently: the loss
sticks at ln(2). Every cache file therefore ends with ``b"TLc1"`` + the CRC-32 of what
comes before it (little endian). The data stays at the start of the file, so readers
that map it (``np.memmap``, ``np.load(mmap_mode="r")``, TensorFlow's ``read_file`` +
``substr``) work unchanged. CRC-32 runs at about 1 GB/s on one core (``zlib``, C), a
fraction of the time the same bytes took to compute.
"""

import hashlib
import os
import struct
import zlib
from pathlib import Path

MAGIC = b"TLc1"
TRAILER_BYTES = 8
_CHUNK = 16 * 1024 * 1024


def trailer(crc: int) -> bytes:
    """The 8 bytes to append after data whose CRC-32 is ``crc``."""
    return MAGIC + struct.pack("<I", crc & 0xFFFFFFFF)


def stored_crc(tail: bytes) -> int | None:
    """The CRC-32 a trailer holds, or None if ``tail`` is not a trailer."""
    if len(tail) != TRAILER_BYTES or not tail.startswith(MAGIC):
        return None
    return struct.unpack("<I", tail[4:])[0]


def with_trailer(data: bytes) -> bytes:
    """``data`` followed by its trailer."""
    return data + trailer(zlib.crc32(data))


def check_bytes(raw: bytes, length: int) -> bytes | None:
    """The ``length`` data bytes of a whole cache file's content, or None if damaged."""
    if len(raw) != length + TRAILER_BYTES:
        return None
    data = raw[:length]
    return data if stored_crc(raw[length:]) == zlib.crc32(data) else None


def file_crc(path: str | os.PathLike, start: int, length: int) -> int:
    """CRC-32 of ``length`` bytes of a file from offset ``start``, read in chunks."""
    crc = 0
    with open(path, "rb") as f:
        f.seek(start)
        left = length
        while left > 0:
            chunk = f.read(min(_CHUNK, left))
            if not chunk:
                break
            crc = zlib.crc32(chunk, crc)
            left -= len(chunk)
    return crc


def append_trailer(path: str | os.PathLike, start: int = 0) -> None:
    """Append the trailer of everything in ``path`` after offset ``start``."""
    size = Path(path).stat().st_size
    crc = file_crc(path, start, size - start)
    with open(path, "ab") as f:
        f.write(trailer(crc))


def check_file(path: str | os.PathLike, start: int, length: int) -> bool:
    """True if ``path`` holds ``length`` data bytes from ``start`` and a matching trailer."""
    try:
        if Path(path).stat().st_size != start + length + TRAILER_BYTES:
            return False
        with open(path, "rb") as f:
            f.seek(start + length)
            expected = stored_crc(f.read(TRAILER_BYTES))
        return expected is not None and file_crc(path, start, length) == expected
    except OSError:
        return False


def file_digest(path: str | os.PathLike) -> str:
    """A file's content digest (BLAKE2b, 16 bytes, hex): same bytes, same digest.

    What the dataset scan keys images by; raises OSError when the file cannot be read.
    """
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        while chunk := f.read(1024 * 1024):
            h.update(chunk)
    return h.hexdigest()
