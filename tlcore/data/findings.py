"""What a scan says about a dataset, in sentences a person can act on.

Warnings about class sizes, imbalance, classes missing from a split folder and exact
duplicates; the summary of why files were skipped; and ``too_few_images``, the sentence
for any step that needs more images per class than a dataset has.
"""

from collections import Counter

from tlcore.data.report import DuplicateGroup
from tlcore.fsutil import printable

MIN_CLASS_IMAGES = 10  # fewer than this per class: warn that it is too small to learn from
IMBALANCE_RATIO = 3.0  # largest / smallest class at or above this: warn
# Duplicate kinds, most serious first (a group gets the first kind that applies).
DUPLICATE_KINDS = {
    "across_classes": "the same image is in more than one class (a label conflict)",
    "across_splits": "the same image is in train and in val/test (leakage)",
    "within_class": "the same image appears more than once in a class",
}


def too_few_images(counts: dict[str, int], need: int, purpose: str) -> str | None:
    """One sentence naming the classes with fewer than ``need`` images, or None.

    Args:
        counts: images per class (of the part that matters: all, or the training part).
        need: images each class needs.
        purpose: what needs them, starting a sentence (e.g. ``"The probe"``).
    """
    small = [(c, n) for c, n in sorted(counts.items()) if n < need]
    if not small:
        return None
    have = ", ".join(f"'{c}' has {n}" for c, n in small[:5])
    more = f" (and {len(small) - 5} more classes)" if len(small) > 5 else ""
    which = "that class" if len(small) == 1 else "those classes"
    return (
        f"{purpose} needs at least {need} images of each class, but {have}{more}: add "
        f"images to {which} (or move {'it' if len(small) == 1 else 'them'} out of the "
        "dataset), then try again."
    )


def reason_summary(reasons: Counter) -> str:
    """Why the files of one folder were skipped, e.g. ``3 files skipped: not an image``."""
    total = sum(reasons.values())
    if not total:
        return "the folder is empty"
    plural = "s" if total != 1 else ""
    if len(reasons) == 1:
        return f"{total} file{plural} skipped: {next(iter(reasons))}"
    parts = ", ".join(f"{n} {r}" for r, n in reasons.most_common())
    return f"{total} file{plural} skipped: {parts}"


def dataset_warnings(
    classes: dict[str, int],
    split_counts: dict[str, dict[str, int]],
    duplicates: list[DuplicateGroup],
) -> list[str]:
    """The warnings of a scan report, most telling first."""
    out = []
    for name, n in classes.items():
        if n == 1:
            out.append(
                f"Class '{name}' has a single image: none of it can be held out, so no "
                f"accuracy will say anything about '{name}', and at least {MIN_CLASS_IMAGES} "
                "are needed to learn from; add images to it (or move it out of the dataset)."
            )
        elif n < MIN_CLASS_IMAGES:
            out.append(
                f"Class '{name}' has only {n} image{'s' if n != 1 else ''}; at least "
                f"{MIN_CLASS_IMAGES} per class are needed to learn from "
                "(50 or more is better)."
            )
    big, small = max(classes, key=classes.get), min(classes, key=classes.get)
    if classes[big] >= IMBALANCE_RATIO * classes[small]:
        out.append(
            f"The classes are imbalanced: '{big}' has {classes[big]} images but "
            f"'{small}' only {classes[small]}. Accuracy can look good while "
            f"'{small}' is mostly wrong; add images or use class weights."
        )
    for split, counts in split_counts.items():
        missing = sorted(set(classes) - {c for c, n in counts.items() if n})
        if missing:
            out.append(f"The {split}/ folder has no images of: {', '.join(missing)}.")
    for kind, text in DUPLICATE_KINDS.items():
        groups = [g for g in duplicates if g.kind == kind]
        if groups:
            example = printable(" = ".join(groups[0].paths[:2]))
            out.append(
                f"{len(groups)} group{'s' if len(groups) != 1 else ''} of exact "
                f"duplicates: {text} (e.g. {example})."
            )
    return out


def empty_class_error(empty: list[str], reasons: dict[str, Counter]) -> str:
    """The error for classes without a usable image (up to three named)."""
    parts = [f"'{d}' ({reason_summary(reasons[d])})" for d in empty[:3]]
    return f"No images found in {' or '.join(parts)}. Each class needs at least one image."
