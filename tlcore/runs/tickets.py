"""Tickets: one small file per run waiting in line, named ``<time in ns>-<run id>``.

A ticket holds the path of its run folder (UTF-8, one line) and is written whole (to a
hidden temporary name, then renamed), so a worker never reads half of one. The queue's
folders are on disk, where a person, a sync tool or a crash can leave other things: a
stray file, a folder, a ticket that is not UTF-8 text. None of them may stop runs from
starting or kill a worker, so anything that is not a ticket is left out of the line, and
the worker moves it to ``queue/bad/`` and says so in ``queue/worker.log``.
"""

import os
import re
import sys
import time
from pathlib import Path

from tlcore.errors import RunError
from tlcore.fsutil import printable

_NAME = re.compile(r"\d{20}-(?P<run_id>.+)")


def name_for(run_id: str) -> str:
    """A new ticket's name: the time first, so sorting the names is the line's order."""
    return f"{time.time_ns():020d}-{run_id}"


def run_id_of(ticket: Path) -> str:
    """The run id in a ticket's name (``scan`` keeps only names that have one)."""
    match = _NAME.fullmatch(ticket.name)
    return match["run_id"] if match else ""


def scan(folder: Path) -> tuple[list[Path], list[tuple[Path, str]]]:
    """The tickets in ``folder``, oldest first, and what else is there (with why not).

    Hidden names are neither: they are tickets still being written.
    """
    found: list[Path] = []
    strays: list[tuple[Path, str]] = []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if _NAME.fullmatch(entry.name) is None:
            strays.append((entry, "its name is not <time>-<run id>, so it is not a ticket"))
        elif entry.is_symlink() or not entry.is_file():
            strays.append((entry, "it is a folder or a link, not a ticket file"))
        else:
            found.append(entry)
    return found, strays


def read(ticket: Path) -> Path:
    """The run folder a ticket names.

    Raises:
        RunError: the ticket is not UTF-8 text or does not name one folder.
        OSError: it cannot be read (e.g. it went meanwhile).
    """
    try:
        text = ticket.read_bytes().decode("utf-8").strip()
    except UnicodeDecodeError:
        raise RunError("it is not UTF-8 text") from None
    if not text or "\n" in text or "\0" in text:
        raise RunError("it does not name one run folder")
    return Path(text)


def set_aside(entry: Path, bad: Path, reason: str) -> None:
    """Move what is not a usable ticket into ``bad`` and say why on stderr (the log)."""
    dest = bad / entry.name
    if os.path.lexists(dest):
        dest = bad / f"{entry.name}.{time.time_ns()}"
    try:
        os.rename(entry, dest)
    except OSError:
        return  # gone meanwhile (another worker set it aside)
    shown = printable(f"queue/{entry.parent.name}/{entry.name}")
    moved = printable(str(dest))
    print(f"warning: skipped {shown}: {reason}; moved it to {moved}.", file=sys.stderr)
