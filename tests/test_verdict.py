"""Verdicts with their uncertainty: intervals, the paired test, the sentence, the order."""

import pytest

from tlcore.results.verdict import (
    mcnemar_p,
    paired_p,
    sort_by_verdict,
    verdict,
    wilson_interval,
)


def test_wilson_interval_matches_the_textbook_values() -> None:
    # 3 of 4 right ("75.0%" on 4 test images): anything from a coin flip to perfect.
    low, high = wilson_interval(3, 4)
    assert (round(low, 3), round(high, 3)) == (0.301, 0.954)
    low, high = wilson_interval(71, 100)
    assert (round(low, 3), round(high, 3)) == (0.615, 0.790)
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(10, 10)[1] == 1.0
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_mcnemar_exact_p_values() -> None:
    assert mcnemar_p(0, 0) == 1.0
    assert mcnemar_p(5, 0) == pytest.approx(2 / 32)  # 0.0625: five to none is not enough
    assert mcnemar_p(6, 0) == pytest.approx(2 / 64)
    assert mcnemar_p(3, 3) == 1.0


def test_paired_p_uses_only_the_images_both_answered() -> None:
    a = {"x": True, "y": True, "z": False, "only-a": True}
    b = {"x": False, "y": True, "z": False, "only-b": False}
    assert paired_p(a, b) == (pytest.approx(1.0), 3)
    assert paired_p({"p": True}, {"q": True}) is None


def row(name: str, acc: float | None, n: int = 25, seconds: float = 10, **kw) -> dict:
    interval = None if acc is None else wilson_interval(round(acc * n), n)
    return {"name": name, "status": kw.pop("status", "finished"), "accuracy": acc,
            "interval": interval, "images": n, "seconds": seconds, **kw}  # fmt: skip


def test_a_small_gap_on_few_images_is_within_the_noise_and_names_the_faster() -> None:
    rows = [
        row("Feature extraction", 17 / 25, seconds=12),
        row("Fine-tune the top", 18 / 25, seconds=74),
    ]
    assert verdict(rows) == (
        "Fine-tune the top 72% vs Feature extraction 68%: within the noise of 25 images "
        "(their 95% intervals overlap) — pick the faster one, Feature extraction (12 s vs 74 s)."
    )


def test_a_paired_gap_on_the_same_images_is_real() -> None:
    images = [f"img{i}" for i in range(40)]
    good = {k: i < 36 for i, k in enumerate(images)}  # 90%
    weak = {k: i < 24 for i, k in enumerate(images)}  # 60%, every miss also missed by good
    rows = [
        row("Feature extraction", 0.6, 40, 12, correct=weak),
        row("Full fine-tune", 0.9, 40, 200, correct=good),
    ]
    sentence = verdict(rows)
    assert sentence.startswith("Full fine-tune 90% vs Feature extraction 60%: Full fine-tune")
    assert "is better, a real difference on the same 40 images (paired test, p = 0.00049)" in (
        sentence
    )


def test_paired_answers_that_disagree_both_ways_are_noise() -> None:
    images = [f"img{i}" for i in range(20)]
    a = {k: i % 2 == 0 or i < 4 for i, k in enumerate(images)}  # 12 right
    b = {k: i % 2 == 1 for i, k in enumerate(images)}  # 10 right
    rows = [row("A", 0.6, 20, 5, correct=a), row("B", 0.5, 20, 50, correct=b)]
    assert "within the noise of 20 images (paired test" in verdict(rows)
    assert "A is also the faster one (5 s)" in verdict(rows)


def test_unscored_runs_are_named_and_sorted_last() -> None:
    rows = [
        row("From scratch", None, status="stopped"),
        row("Slow", 0.7, seconds=50),
        row("Fast", 0.7, seconds=5),
        row("Best", 0.9, n=100),
    ]
    assert [r["name"] for r in sort_by_verdict(rows)] == ["Best", "Fast", "Slow", "From scratch"]
    assert verdict(rows).endswith("Not scored: From scratch (stopped).")
    assert verdict([rows[0]]).startswith("No strategy finished with a score")
    assert verdict([rows[3]]) == "Only Best was scored: 90% (83%-94%) on 100 images."
