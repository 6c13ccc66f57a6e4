"""What a scan reports: usable images, skipped files, duplicate groups (plain data).

Kept apart from ``tlcore.data.scan`` (how the report is made) so the types and their JSON
form read on their own; ``scan`` re-exports them.
"""

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class ImageItem:
    """One usable image: absolute path, class label, and its folder split (or None)."""

    path: str
    label: str
    split: str | None = None


@dataclass(frozen=True)
class Skipped:
    """A file that is not used; ``path`` is relative to the dataset root."""

    path: str
    reason: str


@dataclass(frozen=True)
class DuplicateGroup:
    """Files with identical content; ``kind`` is a key of ``findings.DUPLICATE_KINDS``."""

    kind: str
    paths: tuple[str, ...]


@dataclass(frozen=True)
class DatasetReport:
    """What ``scan`` found. ``classes`` maps class name -> usable images (all splits)."""

    root: str
    layout: str  # "class_folders" or "split_folders"
    classes: dict[str, int]
    items: list[ImageItem]
    skipped: list[Skipped]
    duplicates: list[DuplicateGroup]
    warnings: list[str]
    fingerprint: str
    split_counts: dict[str, dict[str, int]] = field(default_factory=dict)
    source: str = ""

    def to_dict(self, include_items: bool = False) -> dict:
        """A JSON-ready dict (``items`` only if asked: it can be long)."""
        out = {
            "root": self.root,
            "source": self.source,
            "layout": self.layout,
            "classes": dict(self.classes),
            "num_images": len(self.items),
            "split_counts": self.split_counts,
            "skipped": [asdict(s) for s in self.skipped],
            "duplicates": [{"kind": d.kind, "paths": list(d.paths)} for d in self.duplicates],
            "warnings": list(self.warnings),
            "fingerprint": self.fingerprint,
        }
        if include_items:
            out["items"] = [asdict(i) for i in self.items]
        return out


def class_names(report: DatasetReport) -> list[str]:
    """The class names in label-index order (sorted)."""
    return sorted(report.classes)
