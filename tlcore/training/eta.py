"""Time left in a run, from its own events: one estimate for every place that shows one.

The estimate is built per phase from what the run measured:

- a phase that has finished epochs costs, per epoch, between the shortest and longest
  of its last few epochs, each timed from the event before it to its own (so training,
  validation and saving the best model are all in it; the phase's first epoch, which
  also builds the graph, is left out once there are others);
- a phase that has not started yet costs between the phase before it per epoch and three
  times one forward pass over the images (a backward pass costs about two forward ones);
  that bound is too loose to be worth saying, so the words give the soonest end and say
  that the phase is timed when it starts;
- early stopping makes the end a range: a phase stops at the earliest ``patience`` epochs
  after its best epoch (the keeper's counter starts again in each phase) and at the latest
  at its last planned epoch;
- a solved head costs what its progress events say, and its cross-validation about one
  solve per fold; any other run ends with saving and evaluating its model (at most about
  one epoch and a few seconds).

``estimate`` is pure (events and the clock in, ``Estimate`` out), so a recorded
``events.jsonl`` replays it exactly (see ``tests/test_eta.py``).
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tlcore.training.pace import Pace, PlannedPhase, prepare_left, stage_left

BACKWARD_FACTOR = 3.0
"""An epoch that trains layers costs at most this many forward passes over its images."""

FINISH_SECONDS = 5.0
"""Allowance for saving the model and writing the evaluation after the last epoch."""


@dataclass(frozen=True)
class Estimate:
    """Seconds left as a range, and the words for it.

    Attributes:
        low: the soonest the run can end (None: nothing measured yet).
        high: the latest (None: not known yet, e.g. a phase not measured).
        phrase: e.g. ``"about 3 min left"``, ``"2-9 min left"``, ``"at least 40 s left"``;
            empty when there is nothing honest to say yet.
    """

    low: float | None
    high: float | None
    phrase: str


NOTHING = Estimate(None, None, "")


def planned_phases(config: Any, epochs: int | None = None) -> list[PlannedPhase]:
    """The phases ``config`` will run, with their epoch ranges.

    ``epochs``: the run's epochs as cut to fit its time budget (its ``budget`` event).
    """
    from tlcore.training.phases import plan_phases

    out, first = [], 1
    for phase in plan_phases(config):
        last = phase.last_epoch if not epochs else min(phase.last_epoch, int(epochs))
        if last < first:
            break
        out.append(PlannedPhase(phase.name, first, last, phase.solve))
        first = last + 1
    return out


def for_run(events: Sequence[dict[str, Any]], config: Any, now: float) -> Estimate:
    """The estimate for a run of ``config`` whose events so far are ``events``."""
    budget = next((e for e in events if e.get("type") == "budget"), {})
    return estimate(
        events,
        planned_phases(config, budget.get("epochs")),
        patience=config.early_stopping_patience,
        now=now,
        cross_validate=bool(getattr(config, "cross_validate", False)),
        folds=int(getattr(config, "cv_folds", 0) or 0),
        budget_seconds=budget.get("budget_seconds") or getattr(config, "budget_seconds", None),
    )


def estimate(
    events: Sequence[dict[str, Any]],
    plan: Sequence[PlannedPhase],
    patience: int,
    now: float,
    cross_validate: bool = False,
    folds: int = 0,
    budget_seconds: float | None = None,
) -> Estimate:
    """Seconds left in a run, as a range.

    Args:
        events: the run's events so far, in order.
        plan: its phases (``planned_phases``).
        patience: early-stopping patience (0: every planned epoch runs).
        now: the current unix time.
        cross_validate: a solved head's accuracy is cross-validated at the end.
        folds: how many folds then.
        budget_seconds: the run's time budget: training ends before it passes it.
    """
    # Every real event has its time; one without cannot be placed, so it is left out.
    events = [e for e in events if isinstance(e.get("time"), int | float)]
    if not plan or any(e.get("type") == "end" for e in events):
        return NOTHING if not events else Estimate(0.0, 0.0, "")
    state = Pace(events)
    if state.current is None:
        # Still reading images or computing features: only this step is measured.
        left = prepare_left(events, now)
        return NOTHING if left is None else _make(left, None)
    low = high = 0.0
    known = True
    pending = ""  # the first phase whose cost per epoch is not measured yet
    previous: tuple[float, float] | None = None  # the last phase's cost per epoch (low, high)
    names = [p.name for p in plan]
    current = names.index(state.current.name) if state.current.name in names else 0
    for i, phase in enumerate(plan):
        if i < current:  # over (early stopping may have ended it before its last epoch)
            if not phase.solve:  # a solve's seconds are no cost per epoch of training
                previous = state.cost(phase.name) or previous
            continue  # over
        if phase.solve:
            part = _solve_left(events, now)
            if part is None:
                known = False
            else:
                low, high = low + part, high + part
            continue
        started = phase.name == state.current.name
        cost = state.cost(phase.name) or (state.first_epoch_cost() if started else None)
        if cost is None and started:
            return NOTHING  # its first batches are not timed yet: nothing honest to say
        if cost is None:
            pending = pending or phase.name
            cost = _unmeasured(previous, state.forward_seconds())
            if cost is None:
                known = False
                continue
            # The phase's own cut may need its features first.
            high += state.forward_seconds() or 0.0
        lo_n, hi_n = _epochs_left(phase, state, patience, started)
        if started and hi_n:
            now_lo, now_hi = state.epoch_in_progress(cost, now)
            low += now_lo + (lo_n - 1) * cost[0] if lo_n else 0.0
            high += now_hi + (hi_n - 1) * cost[1]
        else:
            low, high = low + lo_n * cost[0], high + hi_n * cost[1]
        previous = cost
    if budget_seconds:
        # No epoch starts that would end past the budget, and no phase after it.
        t0 = float(events[0]["time"]) - float(events[0].get("elapsed") or 0.0)
        left = max(float(budget_seconds) - (now - t0), 0.0)
        # A phase not timed at all added nothing to ``high``: then the budget is the bound.
        high = min(high, left) if known else left
        low, known, pending = min(low, left), True, ""
    end_low, end_high = _evaluation_left(events, previous, now, cross_validate, folds)
    return _make(low + end_low, high + end_high if known else None, pending)


def _epochs_left(phase: PlannedPhase, state: Pace, patience: int, started: bool) -> tuple[int, int]:
    """Epochs of ``phase`` still to run (counting one in progress): soonest and latest."""
    done = max(state.done, phase.first_epoch - 1) if started else phase.first_epoch - 1
    # The phase's own event knows its last epoch best (e.g. after a budget cut it).
    last = state.current.last_epoch if started else phase.last_epoch
    high = max(last - done, 0)
    if not patience:
        return high, high
    # The keeper's counter restarts with each phase: it stops ``patience`` epochs after
    # the later of the best epoch and the phase's start.
    anchor = phase.first_epoch - 1
    if started and state.best_epoch is not None:
        anchor = max(anchor, state.best_epoch)
    low = min(high, max(anchor + patience - done, 0))
    # Out of patience at the last epoch's end: the keeper has stopped the phase.
    return (low, high) if low else (0, 0)


def _unmeasured(
    previous: tuple[float, float] | None, forward: float | None
) -> tuple[float, float] | None:
    """Per-epoch cost of a phase with no epoch yet: no cheaper than the phase before, no
    dearer than a forward and backward pass over every image."""
    if previous is None and forward is None:
        return None
    low = previous[0] if previous else forward
    reference = max(x for x in (previous[1] if previous else None, forward) if x is not None)
    return low, max(BACKWARD_FACTOR * reference, low)


def _solve_left(events: Sequence[dict[str, Any]], now: float) -> float | None:
    """Seconds left in solving the head (0 once solved; None before it is measurable)."""
    if any(e.get("type") == "head" for e in events):
        return 0.0
    return stage_left(events, "solve-head", now)


def _evaluation_left(
    events: Sequence[dict[str, Any]],
    last_cost: tuple[float, float] | None,
    now: float,
    cross_validate: bool,
    folds: int,
) -> tuple[float, float]:
    """The final evaluation: cross-validating a solved head, else one pass over the test."""
    head = next((e for e in reversed(events) if e.get("type") == "head"), None)
    if cross_validate and head is not None and folds:
        rounds = [e for e in events if e.get("type") == "crossval" and e.get("fold")]
        solve = float(head.get("seconds") or 0.0)
        if len(rounds) >= 2:
            per_fold = (float(rounds[-1]["time"]) - float(rounds[0]["time"])) / (len(rounds) - 1)
            left = (folds - len(rounds) + 1) * per_fold - (now - float(rounds[-1]["time"]))
            return max(left, 0.0), max(left, 0.0) + per_fold
        # Each fold solves again (its regularisation chosen again) on 1 - 1/k of the images.
        started = float(rounds[0]["time"]) if rounds else now
        spent = now - started
        return max(0.5 * folds * solve - spent, 0.0), max(1.2 * folds * solve - spent, 0.0)
    # Saving the best model and evaluating it: about one more epoch's pass at most.
    return 0.0, (last_cost[1] if last_cost else 0.0) + FINISH_SECONDS


def _make(low: float, high: float | None, pending: str = "") -> Estimate:
    return Estimate(low, high, phrase(low, high, pending))


PHASE_WORDS = {"fine-tune": "fine-tuning", "head": "training the head", "train": "training"}


def phrase(low: float, high: float | None, pending: str = "") -> str:
    """A range of seconds in words: 'about 3 min left', '2-9 min left', 'at least 40 s left'.

    ``pending`` names a phase not timed yet: its bound is too loose to be worth saying,
    so the words give the soonest end and say what is still to be timed.
    """
    if pending:
        what = PHASE_WORDS.get(pending, pending)
        return f"at least {duration(low)} left, then {what} (timed when it starts)"
    if high is None:
        return f"at least {duration(low)} left" if low >= 1 else ""
    if high < 1:
        return "almost done"
    mid = (low + high) / 2
    if high - low <= max(0.25 * mid, 5.0):
        return f"about {duration(mid)} left"
    if low < 0.5:
        return f"up to {duration(high) if high < 90 else f'{math.ceil(high / 60)} min'} left"
    if high < 90:
        return f"{round(low)}-{round(high)} s left"
    if high < 3600:
        hi_min = math.ceil(high / 60)
        if low < 60:
            return f"{round(low)} s-{hi_min} min left"
        return f"{min(math.floor(low / 60), hi_min - 1)}-{hi_min} min left"
    return f"{duration(low)} to {duration(high)} left"


def duration(seconds: float | None) -> str:
    """Seconds as a friendly '45 s' / '3 min' / '1 h 5 min'."""
    if seconds is None:
        return "?"
    s = round(seconds)
    if s < 90:
        return f"{s} s"
    if s < 3600:
        return f"{round(s / 60)} min"
    return f"{s // 3600} h {round(s % 3600 / 60)} min"
