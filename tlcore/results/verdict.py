"""Which strategy is best, and is the difference real? Pure functions, no TensorFlow.

Accuracy measured on a few dozen images is uncertain by several points, so every score
comes with an interval: a Wilson binomial interval on the images it was measured on
(held-out test images, or every image's out-of-fold answer when cross-validated). The
verdict compares the best strategy with the runner-up *paired* when both answered the
same images (an exact McNemar test on the images only one of them got right), otherwise
by whether their intervals overlap, and says in one sentence whether the gap is real or
within the noise.
"""

import math
from collections.abc import Mapping, Sequence
from typing import Any

Z95 = 1.959964
SIGNIFICANT = 0.05


def wilson_interval(correct: int, n: int, z: float = Z95) -> tuple[float, float]:
    """95% Wilson score interval of a proportion ``correct / n`` (``(0, 1)`` when n is 0).

    Unlike ``p +- z * se`` it stays inside [0, 1] and is honest at 0% and 100%, which a
    handful of test images often give.
    """
    if n <= 0:
        return 0.0, 1.0
    p = correct / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    low = 0.0 if correct <= 0 else max(0.0, centre - half)
    high = 1.0 if correct >= n else min(1.0, centre + half)
    return low, high


def mcnemar_p(only_first: int, only_second: int) -> float:
    """Exact two-sided McNemar p-value from the discordant pairs.

    Args:
        only_first: images the first model got right and the second wrong.
        only_second: the reverse.
    """
    n = only_first + only_second
    if n == 0:
        return 1.0
    k = min(only_first, only_second)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return min(1.0, 2 * tail)


def paired_p(a: Mapping[str, bool], b: Mapping[str, bool]) -> tuple[float, int] | None:
    """McNemar p-value of two strategies on the images both answered, and how many those are.

    Returns None when they share no image (different test images: not paired).
    """
    shared = a.keys() & b.keys()
    if not shared:
        return None
    only_a = sum(1 for k in shared if a[k] and not b[k])
    only_b = sum(1 for k in shared if b[k] and not a[k])
    return mcnemar_p(only_a, only_b), len(shared)


def _scored(row: Mapping[str, Any]) -> bool:
    return row.get("accuracy") is not None


def sort_by_verdict(rows: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Best accuracy first (ties: the faster first); runs without a score last, in order."""
    scored = [r for r in rows if _scored(r)]
    scored.sort(key=lambda r: (-float(r["accuracy"]), float(r.get("seconds") or math.inf)))
    return scored + [r for r in rows if not _scored(r)]


def _seconds(x: Any) -> str:
    if x is None:
        return "?"
    x = float(x)
    return f"{x:.0f} s" if x < 120 else f"{x / 60:.0f} min"


def verdict(rows: Sequence[Mapping[str, Any]]) -> str:
    """One sentence: which strategy is best and whether its lead is real.

    Args:
        rows: per strategy ``name``, ``status``, ``accuracy`` (None: not scored),
            ``interval`` ``(low, high)``, ``images``, ``seconds`` and optionally
            ``correct`` (image -> answered right) for a paired comparison.
    """
    ranked = sort_by_verdict(rows)
    scored = [r for r in ranked if _scored(r)]
    missing = [r for r in ranked if not _scored(r)]
    tail = ""
    if missing:
        tail = " Not scored: " + ", ".join(f"{r['name']} ({r.get('status')})" for r in missing)
        tail += "."
    if not scored:
        return "No strategy finished with a score, so there is no verdict yet." + tail
    best = scored[0]
    if len(scored) == 1:
        low, high = best["interval"]
        return (
            f"Only {best['name']} was scored: {best['accuracy']:.0%} ({low:.0%}-{high:.0%}) "
            f"on {best['images']} images." + tail
        )
    second = scored[1]
    real, basis = _difference_is_real(best, second)
    head = f"{best['name']} {best['accuracy']:.0%} vs {second['name']} {second['accuracy']:.0%}"
    if real:
        return f"{head}: {best['name']} is better, {basis}." + tail
    faster = min(scored[:2], key=lambda r: float(r.get("seconds") or math.inf))
    if faster is best:
        advice = f"{best['name']} is also the faster one ({_seconds(best.get('seconds'))})"
    else:
        advice = (
            f"pick the faster one, {faster['name']} ({_seconds(faster.get('seconds'))} vs "
            f"{_seconds(best.get('seconds'))})"
        )
    return f"{head}: {basis} — {advice}." + tail


def _difference_is_real(best: Mapping[str, Any], second: Mapping[str, Any]) -> tuple[bool, str]:
    """Whether ``best`` beats ``second`` beyond chance, and the words that say why."""
    paired = None
    if best.get("correct") and second.get("correct"):
        paired = paired_p(best["correct"], second["correct"])
    if paired is not None:
        p, n = paired
        if p < SIGNIFICANT:
            return True, f"a real difference on the same {n} images (paired test, p = {p:.2g})"
        return False, f"within the noise of {n} images (paired test, p = {p:.2g})"
    n = min(int(best.get("images") or 0), int(second.get("images") or 0))
    if best["interval"][0] > second["interval"][1]:
        return True, f"a real difference (their 95% intervals on {n}+ images do not overlap)"
    return False, f"within the noise of {n} images (their 95% intervals overlap)"
