"""What happened to a dataset's files on the way in (upload, zip), for its scan report.

Saving an upload or unpacking a zip may have to give a file another name (two names
that clash) or leave a member out (a symbolic link, an older copy of the same name). A
person must learn of each in the Data page's report, not find a photo missing later, so
the saver writes these notes into the dataset folder (``.transferlab-notes.json``, which
the scan ignores as a file) and ``tlcore.data.scan`` adds them to its report: renamed
files as warnings, left-out ones among the skipped files.
"""

import contextlib
from dataclasses import dataclass, field
from pathlib import Path

from tlcore import fsutil

NOTES_FILE = ".transferlab-notes.json"


@dataclass
class Notes:
    """Renamed files (as given -> as saved, relative to the dataset) and left-out ones."""

    renamed: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (name given, reason)

    def __bool__(self) -> bool:
        return bool(self.renamed or self.skipped)

    def warnings(self) -> list[str]:
        """One plain sentence per renamed file (at most ``limit``, then a count)."""
        lines = [
            f"'{given}' was saved as '{saved}', because that name was already taken."
            for given, saved in self.renamed[:20]
        ]
        if len(self.renamed) > 20:
            lines.append(f"…and {len(self.renamed) - 20} more files were given a new name.")
        return lines


def write_notes(root: Path, notes: Notes) -> None:
    """Keep ``notes`` in the dataset folder ``root`` (nothing is written when empty)."""
    if notes:
        fsutil.atomic_write_json(
            Path(root) / NOTES_FILE,
            {
                "renamed": [list(r) for r in notes.renamed],
                "skipped": [list(s) for s in notes.skipped],
            },
        )


def read_notes(root: Path) -> Notes:
    """The notes kept in ``root``; empty when there are none (or they cannot be read)."""
    notes = Notes()
    with contextlib.suppress(OSError, ValueError, TypeError, AttributeError):
        data = fsutil.read_json(Path(root) / NOTES_FILE)
        notes.renamed = [(str(a), str(b)) for a, b in data.get("renamed", [])]
        notes.skipped = [(str(a), str(b)) for a, b in data.get("skipped", [])]
    return notes
