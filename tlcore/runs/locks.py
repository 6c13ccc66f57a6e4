"""File locks the kernel keeps: the queue's worker slots and its start lock.

A lock on an open file is dropped by the kernel when its holder exits, however it exits:
a killed worker never leaves its slot taken, and a crash while starting a run leaves
nothing to clean up. ``flock`` on POSIX, ``msvcrt`` on Windows, imported lazily so that
importing ``tlcore.runs`` needs neither.
"""

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path


def _open(path: Path) -> int:
    return os.open(path, os.O_RDWR | os.O_CREAT, 0o644)


def try_lock(fd: int) -> bool:
    """Lock ``fd`` exclusively if no other process holds it (never waits)."""
    try:
        if os.name == "nt":  # pragma: no cover - Windows has no flock
            import msvcrt

            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        else:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


@contextlib.contextmanager
def probe(path: Path) -> Iterator[bool]:
    """Try to hold an exclusive lock on ``path`` without waiting; yields whether it did."""
    fd = _open(path)
    try:
        yield try_lock(fd)
    finally:
        os.close(fd)  # releases the lock too


@contextlib.contextmanager
def held(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` meanwhile, waiting for it if another has it."""
    fd = _open(path)
    try:
        if os.name == "nt":  # pragma: no cover - Windows has no flock
            import msvcrt

            msvcrt.locking(fd, msvcrt.LK_LOCK, 1)
        else:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock too


def hold_first_free(paths: list[Path]) -> int | None:
    """Lock the first of ``paths`` no one holds, for as long as the returned fd is open."""
    for path in paths:
        fd = _open(path)
        if try_lock(fd):
            return fd
        os.close(fd)
    return None
