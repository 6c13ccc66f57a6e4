"""Dividing a scanned dataset into train / validation / test, reproducibly.

Stratified: each class is split on its own, so every class keeps its share everywhere.
Seeded: the order within a class comes from ``random.Random(f"{seed}|{class}")`` over the
files sorted by path, so the same files and seed always give the same split, whatever
other classes exist. Exact duplicates inside a class (from the scan) move together, so a
copy never lands in train while its twin is in test.

Rounding, per class of ``n`` images: ``test = round(n * test_fraction)`` and
``val = round(n * val_fraction)``, halves rounded up; a non-zero fraction gives at least
one image once the class is big enough (2 images for val, 3 for test); training always
keeps at least one image (test gives way first, then val).

A dataset with its own ``train/ val/ test/`` folders keeps them; with no ``val/`` folder,
val is carved out of ``train/`` as above. A split saved with ``save_split`` and reused via
``SplitConfig.split_file`` gives later runs exactly the same files.
"""

import random
from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path

from tlcore import fsutil
from tlcore.config import SplitConfig
from tlcore.data.scan import DatasetReport, ImageItem, class_names
from tlcore.errors import DataError

SPLITS = ("train", "val", "test")
FORMAT_VERSION = 1


@dataclass(frozen=True)
class Split:
    """Which images are used for training, validation and test. Items carry their split."""

    classes: tuple[str, ...]
    train: tuple[ImageItem, ...]
    val: tuple[ImageItem, ...]
    test: tuple[ImageItem, ...]

    def counts(self) -> dict[str, dict[str, int]]:
        """Images per class in each split: ``{"train": {"cats": 40, ...}, ...}``."""
        out = {}
        for name in SPLITS:
            per = dict.fromkeys(self.classes, 0)
            for item in getattr(self, name):
                per[item.label] += 1
            out[name] = per
        return out

    def to_dict(self) -> dict:
        """A JSON-ready dict (absolute paths)."""
        return {
            "version": FORMAT_VERSION,
            "classes": list(self.classes),
            **{
                name: [{"path": i.path, "label": i.label} for i in getattr(self, name)]
                for name in SPLITS
            },
        }

    @classmethod
    def from_dict(cls, d: dict) -> "Split":
        """Rebuild a split from ``to_dict`` output."""
        try:
            classes = tuple(d["classes"])
            parts = {
                name: tuple(
                    ImageItem(str(e["path"]), str(e["label"]), name) for e in d.get(name, [])
                )
                for name in SPLITS
            }
        except (KeyError, TypeError) as e:
            raise DataError(f"The split file is not in the expected format ({e}).") from None
        return cls(classes, parts["train"], parts["val"], parts["test"])


def _round_half_up(x: float) -> int:
    return int(x + 0.5)


def held_out_counts(n: int, val_fraction: float, test_fraction: float) -> tuple[int, int]:
    """(val, test) image counts for a class of ``n`` images (see the module docstring)."""
    n_val = _round_half_up(n * val_fraction)
    n_test = _round_half_up(n * test_fraction)
    if val_fraction > 0 and n >= 2:
        n_val = max(n_val, 1)
    if test_fraction > 0 and n >= 3:
        n_test = max(n_test, 1)
    while n_val + n_test > n - 1 and (n_val or n_test):
        if n_test:
            n_test -= 1
        else:
            n_val -= 1
    return n_val, n_test


def _units(items: list[ImageItem], report: DatasetReport) -> list[list[ImageItem]]:
    """Items grouped so exact duplicates within the class stay together, sorted by path."""
    root = Path(report.root)
    group_of: dict[str, int] = {}
    for gi, group in enumerate(report.duplicates):
        for rel in group.paths:
            group_of[str(root / rel)] = gi
    units: dict[object, list[ImageItem]] = defaultdict(list)
    for item in sorted(items, key=lambda i: i.path):
        units[group_of.get(item.path, item.path)].append(item)
    return list(units.values())


def _divide(
    items: list[ImageItem],
    report: DatasetReport,
    seed: int,
    label: str,
    val_fraction: float,
    test_fraction: float,
) -> dict[str, list[ImageItem]]:
    units = _units(items, report)
    random.Random(f"{seed}|{label}").shuffle(units)
    n_val, n_test = held_out_counts(len(items), val_fraction, test_fraction)
    out: dict[str, list[ImageItem]] = {"test": [], "val": [], "train": []}
    for unit in units:
        if len(out["test"]) < n_test:
            out["test"] += unit
        elif len(out["val"]) < n_val:
            out["val"] += unit
        else:
            out["train"] += unit
    return out


def make_split(report: DatasetReport, split_cfg: SplitConfig | None = None) -> Split:
    """Split a scanned dataset (stratified, seeded), or reload ``split_cfg.split_file``.

    Raises:
        DataError: the split file is unreadable or lists files that no longer exist.
    """
    cfg = split_cfg or SplitConfig()
    if cfg.split_file:
        split = load_split(cfg.split_file)
        missing = [
            i.path for name in SPLITS for i in getattr(split, name) if not Path(i.path).is_file()
        ]
        if missing:
            raise DataError(
                f"The saved split lists {len(missing)} file(s) that no longer "
                f"exist, e.g. '{missing[0]}'. Scan again and make a new split."
            )
        return split
    cfg.validate()
    classes = tuple(class_names(report))
    parts: dict[str, list[ImageItem]] = {name: [] for name in SPLITS}
    given = {i.split for i in report.items} - {None}
    for label in classes:
        mine = [i for i in report.items if i.label == label]
        if given:  # train/ val/ test/ folders are kept as they are
            train = [i for i in mine if i.split == "train"]
            parts["test"] += [i for i in mine if i.split == "test"]
            if "val" in given:
                parts["val"] += [i for i in mine if i.split == "val"]
                parts["train"] += train
            else:  # no val/ folder: carve it out of train/
                carved = _divide(train, report, cfg.seed, label, cfg.val_fraction, 0.0)
                parts["val"] += carved["val"]
                parts["train"] += carved["train"]
        else:
            for name, chosen in _divide(
                mine, report, cfg.seed, label, cfg.val_fraction, cfg.test_fraction
            ).items():
                parts[name] += chosen
    if not parts["train"]:
        raise DataError("The split has no training images.")
    final = {
        name: tuple(
            sorted((replace(i, split=name) for i in parts[name]), key=lambda i: (i.label, i.path))
        )
        for name in SPLITS
    }
    return Split(classes, final["train"], final["val"], final["test"])


def save_split(split: Split, path: str | Path) -> None:
    """Write ``split`` as JSON (atomically), for reuse by later runs."""
    fsutil.atomic_write_json(path, split.to_dict())


def load_split(path: str | Path) -> Split:
    """Read a split written by ``save_split``.

    Raises:
        DataError: the file is missing or not a split.
    """
    try:
        data = fsutil.read_json(path)
    except FileNotFoundError:
        raise DataError(f"The split file '{path}' does not exist.") from None
    except (OSError, ValueError) as e:
        raise DataError(f"The split file '{path}' cannot be read ({e}).") from None
    if not isinstance(data, dict):
        raise DataError(f"The split file '{path}' is not in the expected format.")
    return Split.from_dict(data)
