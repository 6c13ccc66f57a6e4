"""``python -m tlcore inspect DATA``: likely label mistakes, near-duplicates, outliers, a map.

Runs ``tlcore.results.inspect.report.inspect_dataset`` with the network the model options
name (default EfficientNet-Lite0, which works offline) and prints what it found, most
likely problems first; nothing on disk is changed. With ``--json`` the last line is one
JSON object (see ``InspectReport``).
"""

import argparse
from pathlib import Path

from tlcore.cli import model_config
from tlcore.cli.output import emit_json, say, stage_printer, table
from tlcore.errors import ConfigError

SHOWN = 20  # rows of each list in the readable report


def run(args: argparse.Namespace) -> int:
    """Inspect the dataset; print the findings (or one JSON line)."""
    from tlcore.data.scan import scan
    from tlcore.results.inspect.near_duplicates import KINDS, SIMILARITY
    from tlcore.results.inspect.report import inspect_dataset

    similarity = SIMILARITY if args.similarity is None else args.similarity
    if not 0.0 < similarity <= 1.0:
        raise ConfigError(f"--similarity must be above 0 and at most 1 (got {similarity}).")
    report = scan(args.data)
    progress = stage_printer(quiet=args.json)

    found = inspect_dataset(model_config(args, args.data), report, progress, similarity)
    if args.json:
        emit_json(found.to_dict())
        return 0
    root = Path(report.root)

    def rel(path: str) -> str:
        p = Path(path)
        return str(p.relative_to(root)) if p.is_relative_to(root) else path

    say(f"{found.images} images seen through {found.network} in {found.seconds:.1f} s.")
    for note in found.notes:
        say(note)
    say()
    say(f"Likely label mistakes ({len(found.label_issues)}; review these first, nothing moved):")
    if found.label_issues:
        rows = [
            {**i, "path": rel(i["path"]), "score": f"{i['score']:.2f}"} for i in found.label_issues
        ]
        say(table(rows[:SHOWN], ["path", "given", "suggested", "score"]))
    say()
    say(f"Near-duplicates (cosine similarity >= {found.similarity_threshold:g}): "
        f"{found.duplicate_pairs_found}")  # fmt: skip
    for d in found.near_duplicates[:SHOWN]:
        say(f"  {d['similarity']:.3f}  {rel(d['a'])}  ~  {rel(d['b'])}  ({KINDS[d['kind']]})")
    say()
    say(f"Outliers (unlike every other image): {len(found.outliers)}")
    for o in found.outliers[:SHOWN]:
        say(f"  {o['score']:.2f}  {rel(o['path'])}")
    return 0
