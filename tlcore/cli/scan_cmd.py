"""``python -m tlcore scan DATA``: what a dataset holds and what is wrong with it."""

import argparse
import sys
from collections import Counter

from tlcore.cli.output import emit_json, say, table
from tlcore.data.scan import DUPLICATE_KINDS, DatasetReport, scan

MAX_LISTED = 20  # skipped files / duplicate groups listed in the text report


def _progress(done: int, total: int) -> None:
    # Only for big folders, on stderr, so stdout stays the report.
    if total >= 500 and (done % 250 == 0 or done == total):
        print(
            f"\rchecking images: {done}/{total}",
            end="" if done < total else "\n",
            file=sys.stderr,
            flush=True,
        )


def render(report: DatasetReport) -> str:
    """The report as plain text for a person."""
    lines = [
        f"Dataset: {report.root}"
        + (f" (from {report.source})" if report.source != report.root else ""),
        f"Layout: {report.layout.replace('_', ' ')}; {len(report.classes)} classes, "
        f"{len(report.items)} images, fingerprint {report.fingerprint}",
        "",
    ]
    columns = ["class", "images", *report.split_counts]
    rows = [
        {
            "class": name,
            "images": n,
            **{s: counts.get(name, 0) for s, counts in report.split_counts.items()},
        }
        for name, n in report.classes.items()
    ]
    lines += [table(rows, columns), ""]
    if report.skipped:
        reasons = Counter(s.reason for s in report.skipped)
        lines.append(
            f"Skipped {len(report.skipped)} file(s): "
            + ", ".join(f"{n} {r}" for r, n in reasons.most_common())
        )
        lines += [f"  {s.path}: {s.reason}" for s in report.skipped[:MAX_LISTED]]
        if len(report.skipped) > MAX_LISTED:
            lines.append(f"  ... and {len(report.skipped) - MAX_LISTED} more (see --json)")
        lines.append("")
    if report.duplicates:
        lines.append(f"Exact duplicates: {len(report.duplicates)} group(s)")
        for group in report.duplicates[:MAX_LISTED]:
            lines.append(
                f"  {DUPLICATE_KINDS[group.kind].split(' (')[0]}: " + " = ".join(group.paths)
            )
        if len(report.duplicates) > MAX_LISTED:
            lines.append(f"  ... and {len(report.duplicates) - MAX_LISTED} more (see --json)")
        lines.append("")
    if report.warnings:
        lines.append("Warnings:")
        lines += [f"  - {w}" for w in report.warnings]
    else:
        lines.append("No warnings.")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Scan DATA, print the report (and the JSON line with ``--json``)."""
    report = scan(args.data, progress=_progress)
    say(render(report))
    if args.json:
        emit_json(report.to_dict())
    return 0
