"""How fast a run goes, read from its events: the pace ``tlcore.training.eta`` builds on.

Per phase, an epoch costs the time from the event before it to its own (training,
validation and saving the best model so far, all of which the run waits for); the
phase's first epoch also builds the graph, so its later batches say what a steady epoch
costs. A preparation step (decoding, features, solving the head) goes at the rate of its
``prepare`` events.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

RECENT = 3  # the last epochs that give a phase's cost per epoch


@dataclass(frozen=True)
class PlannedPhase:
    """A phase as planned: its name, first and last epoch, and whether it is solved."""

    name: str
    first_epoch: int
    last_epoch: int
    solve: bool = False


class Pace:
    """What a run's events say so far: its current phase, epochs and their cost, best epoch."""

    def __init__(self, events: Sequence[dict[str, Any]]) -> None:
        self.events = events
        self.epochs = [e for e in events if e.get("type") == "epoch"]
        phases = [e for e in events if e.get("type") == "phase"]
        self.current = (
            PlannedPhase(
                phases[-1].get("phase", ""),
                int(phases[-1].get("first_epoch") or 1),
                int(phases[-1].get("epochs") or 1),
                bool(phases[-1].get("head_solver")),
            )
            if phases
            else None
        )
        self.phase_times = {str(e.get("phase")): float(e["time"]) for e in phases}
        self.phase_time = float(phases[-1]["time"]) if phases else None
        self.done = max((int(e.get("epoch") or 0) for e in self.epochs), default=0)
        self.best_epoch = best_epoch(self.epochs)

    def cost(self, phase: str) -> tuple[float, float] | None:
        """Measured seconds per epoch of ``phase`` (low, high), or None.

        An epoch costs the time from the event before it to its own: training,
        validation and saving the best model so far, all of which the run waits for.
        """
        mine = [e for e in self.epochs if e.get("phase") == phase]
        start = self.phase_times.get(phase)
        if not mine or start is None:
            return None
        times = [float(e["time"]) for e in mine]
        gaps = [b - a for a, b in zip([start, *times[:-1]], times, strict=True)]
        if len(gaps) == 1:
            # The first epoch also built the graph: its batches after the first say
            # what a later epoch costs.
            steady = self._steady_epoch(int(mine[0].get("epoch") or 0), start, times[0])
            return (steady, gaps[0]) if steady is not None else (gaps[0], gaps[0])
        recent = gaps[1:][-RECENT:]
        return min(recent), max(recent)

    def _batches(self, epoch: int) -> list[dict[str, Any]]:
        return [
            e
            for e in self.events
            if e.get("type") == "batch" and e.get("epoch") == epoch and e.get("batches")
        ]

    def _steady_epoch(self, epoch: int, start: float, end: float | None) -> float | None:
        """An epoch's cost without the graph building: its later batches' rate for every
        batch, plus the time after its last batch (validation, saving)."""
        batches = self._batches(epoch)
        if len(batches) < 2 or int(batches[-1]["batch"]) <= int(batches[0]["batch"]):
            return None
        first, last = batches[0], batches[-1]
        per_batch = (float(last["time"]) - float(first["time"])) / (
            int(last["batch"]) - int(first["batch"])
        )
        tail = end - float(last["time"]) if end is not None else 0.0
        return per_batch * int(last["batches"]) + max(tail, 0.0)

    def first_epoch_cost(self) -> tuple[float, float] | None:
        """The current phase's first epoch, still running: from its batches so far."""
        if self.phase_time is None:
            return None
        steady = self._steady_epoch(self.done + 1, self.phase_time, None)
        # Validation comes after the batches: up to half as much again.
        return None if steady is None else (steady, 1.5 * steady)

    def epoch_in_progress(self, cost: tuple[float, float], now: float) -> tuple[float, float]:
        """Seconds left in the current phase's epoch in progress (low, high)."""
        mine = [e for e in self.epochs if e.get("phase") == self.current.name]
        start = float(mine[-1]["time"]) if mine else self.phase_time
        spent = max(now - start, 0.0) if start is not None else 0.0
        batches = self._batches(self.done + 1)
        if len(batches) >= 2 and batches[-1]["time"] >= (start or 0.0):
            # Its own batches say how fast it goes now; validation and saving follow.
            first, last = batches[0], batches[-1]
            done = int(last["batch"]) - int(first["batch"])
            if done > 0:
                per_batch = (float(last["time"]) - float(first["time"])) / done
                train = per_batch * (int(last["batches"]) - int(last["batch"]))
                train = max(train - (now - float(last["time"])), 0.0)
                after = max(cost[1] - per_batch * int(last["batches"]), 0.0)
                return train, train + after
        return max(cost[0] - spent, 0.0), max(cost[1] - spent, 0.0)

    def forward_seconds(self) -> float | None:
        """Seconds of one forward pass over the images (the features step), if one ran."""
        spans, start, prev = [], None, None
        for e in self.events:
            feature = e.get("type") == "prepare" and e.get("stage") == "features"
            if feature and start is None:
                start = float(prev["time"]) if prev is not None else float(e["time"])
            if not feature and start is not None:
                spans.append(float(prev["time"]) - start)
                start = None
            prev = e
        if start is not None and prev is not None:
            spans.append(float(prev["time"]) - start)
        return max(spans) if spans else None


def best_epoch(epochs: list[dict[str, Any]]) -> int | None:
    """The epoch the keeper holds as best (lowest val loss, or loss without validation)."""
    key = "val_loss" if any(e.get("val_loss") is not None for e in epochs) else "loss"
    best, best_epoch = math.inf, None
    for e in epochs:
        value = e.get(key)
        if value is not None and float(value) < best:
            best, best_epoch = float(value), int(e.get("epoch") or 0)
    return best_epoch


def stage_left(events: Sequence[dict[str, Any]], stage: str, now: float) -> float | None:
    """Seconds left in a ``prepare`` stage, from its rate so far (None: not measurable)."""
    mine = [e for e in events if e.get("type") == "prepare" and e.get("stage") == stage]
    if len(mine) < 2:
        return None
    first, last = mine[0], mine[-1]
    done = int(last.get("done") or 0) - int(first.get("done") or 0)
    total = int(last.get("total") or 0)
    if done <= 0 or not total:
        return None
    rate = (float(last["time"]) - float(first["time"])) / done
    return max((total - int(last.get("done") or 0)) * rate - (now - float(last["time"])), 0.0)


def prepare_left(events: Sequence[dict[str, Any]], now: float) -> float | None:
    """Seconds left in the preparation step under way (None: not measurable)."""
    last = next((e for e in reversed(events) if e.get("type") == "prepare"), None)
    return None if last is None else stage_left(events, str(last.get("stage")), now)
