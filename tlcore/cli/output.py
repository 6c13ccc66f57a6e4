"""How commands print: readable text for people, one JSON line last for scripts."""

import sys
from collections.abc import Callable
from typing import Any

from tlcore.fsutil import json_text, printable


def emit_json(value: Any) -> None:
    """Print ``value`` as one JSON line on stdout (the last line a command prints)."""
    sys.stdout.write(json_text(value, default=str) + "\n")
    sys.stdout.flush()


def say(text: str = "") -> None:
    """Print a line for a person (a file name that is not UTF-8 shows its bytes as \\xNN)."""
    print(printable(text), flush=True)


def table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    """Format ``rows`` as a plain aligned text table with the given columns."""
    cells = [[str(r.get(c, "")) for c in columns] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(lines)


def stage_printer(quiet: bool) -> Callable[[dict], None]:
    """A progress callback that prints each stage's message once on stderr (none when
    ``quiet``, e.g. with ``--json``), for the engine's ``{"stage", "message"}`` events."""
    shown: set[str] = set()

    def progress(event: dict) -> None:
        if quiet or event["stage"] in shown:
            return
        shown.add(event["stage"])
        print(event["message"], file=sys.stderr, flush=True)

    return progress
