"""A time budget per run: epochs chosen to fit it, and a stop when it is reached.

A run with ``budget_seconds`` trains as many epochs as fit: the cost of one epoch on this
computer is known from earlier runs of the same network, size and strategy (a per-image
epoch cost kept in ``<workspace>/cache/epoch_costs.json``, written after every gradient
phase), so the epochs (and the learning-rate schedule with them) are planned to fit
before the run starts. ``BudgetStop`` measures the epochs as they run (the first run of
a network is its own calibration) and ends training when the next epoch would pass the
budget: the run ends *finished at budget* with its best epoch.

``BudgetStop`` sees training only through its hooks and ``model.stop_training`` (like
Keras' callbacks), so tests drive it with a fake clock.
"""

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tlcore import fsutil, workspace
from tlcore.config import TrainConfig

DEFAULT_BUDGET_SECONDS = 180.0
"""A few minutes per strategy on a 2-core CPU (what ``compare`` uses unless told)."""
COSTS_FILE = "epoch_costs.json"
SMALLEST_MARGIN = 1.25  # one epoch plus a quarter for building and evaluating


def cost_key(config: TrainConfig, phase: str) -> str:
    """What an epoch's cost depends on: network, input size, what trains, augmentation."""
    size = config.image_size or "default"
    aug = "augmented" if config.augment.enabled else "plain"
    return f"{config.backbone}|{size}|{config.freeze.strategy}|{phase}|{aug}"


def _costs_path() -> Any:
    return workspace.cache_dir() / COSTS_FILE


def stored_cost(key: str) -> float | None:
    """Seconds per training image per epoch measured on this computer, or None."""
    try:
        value = fsutil.read_json(_costs_path()).get(key)
    except (OSError, ValueError, AttributeError):
        return None
    return float(value) if isinstance(value, int | float) and value > 0 else None


def store_cost(key: str, epoch_seconds: list[float], n_train: int) -> float | None:
    """Remember the per-image epoch cost of a phase that just ran (median epoch).

    The first epoch also traces the training step, so it is left out when there are more.
    """
    if n_train < 1 or not epoch_seconds:
        return None
    seconds = epoch_seconds[1:] if len(epoch_seconds) > 1 else epoch_seconds
    cost = statistics.median(seconds) / n_train
    try:
        costs = fsutil.read_json(_costs_path())
        costs = costs if isinstance(costs, dict) else {}
    except (OSError, ValueError):
        costs = {}
    costs[key] = round(cost, 6)
    try:
        fsutil.atomic_write_json(_costs_path(), costs)
    except OSError:
        return cost  # a cost not kept only means the next run calibrates again
    return cost


@dataclass(frozen=True)
class BudgetPlan:
    """How many epochs fit a budget.

    Attributes:
        epochs: the epochs to train (at most the ones wanted, at least 1).
        epoch_seconds: one epoch's expected seconds (None: not measured yet).
        smallest_budget: the smallest budget that fits one epoch (None: not known).
        sentence: one plain sentence for the person.
        fits: the budget fits at least one epoch (True when the cost is not known yet).
    """

    epochs: int
    epoch_seconds: float | None
    smallest_budget: float | None
    sentence: str
    fits: bool = True


def duration_text(seconds: float) -> str:
    """``45 s``, ``3 min``, ``1 h 20 min``; ``under 1 s`` (never ``0 s`` for a time spent)."""
    if 0 < seconds < 0.5:
        return "under 1 s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"


def about(seconds: float) -> str:
    """An estimate in words: ``about 40 s``, or ``under a second`` (a tiny measured cost
    rounded to whole seconds read "about 0 s")."""
    return "under a second" if seconds < 1 else f"about {duration_text(seconds)}"


def plan_epochs(
    wanted: int, budget: float, cost: float | None, n_train: int, already: int = 0
) -> BudgetPlan:
    """The epochs of ``wanted`` that fit ``budget`` seconds at ``cost`` seconds per image.

    Args:
        wanted: epochs the run would train without a budget.
        budget: seconds for the whole run.
        cost: seconds per training image per epoch on this computer (None: unknown).
        n_train: training images.
        already: epochs that cost nothing here (a solved head counted as epoch 1).
    """
    if cost is None:
        return BudgetPlan(
            wanted,
            None,
            None,
            f"Budget {duration_text(budget)}: the first epochs measure this computer's speed; "
            "training ends at the budget with its best epoch.",
        )
    epoch = cost * max(n_train, 1)
    smallest = math.ceil(epoch * SMALLEST_MARGIN / 5) * 5
    fit = int(budget / (epoch * SMALLEST_MARGIN)) if budget >= smallest else 0
    gradient_wanted = max(wanted - already, 0)
    epochs = already + min(gradient_wanted, max(fit, 1))
    if budget < smallest:
        sentence = (
            f"A budget of {duration_text(budget)} cannot fit one epoch here ("
            f"{about(epoch)} each for {n_train} images); give at least "
            f"{duration_text(smallest)}."
        )
    elif fit < gradient_wanted:
        sentence = (
            f"Budget {duration_text(budget)}: {fit} of {gradient_wanted} epochs fit ("
            f"{about(epoch)} each on this computer)."
        )
    else:
        sentence = (
            f"Budget {duration_text(budget)}: all {gradient_wanted} epochs fit ("
            f"{about(epoch * gradient_wanted)} on this computer)."
        )
    return BudgetPlan(epochs, epoch, smallest, sentence, fits=budget >= smallest)


def fit_to_budget(
    config: TrainConfig, n_train: int, phase: str, already: int = 0
) -> tuple[TrainConfig, BudgetPlan | None]:
    """``config`` with its epochs (and warm-up) cut to what fits its budget."""
    if not config.budget_seconds:
        return config, None
    plan = plan_epochs(
        config.epochs, config.budget_seconds, stored_cost(cost_key(config, phase)), n_train, already
    )
    if plan.epochs >= config.epochs:
        return config, plan
    epochs = plan.epochs
    warmup = min(config.warmup_epochs, max(round(0.1 * epochs), 1 if config.warmup_epochs else 0))
    changes: dict[str, Any] = {"epochs": epochs, "warmup_epochs": min(warmup, epochs - 1)}
    if config.two_phase and config.head_epochs >= epochs:
        changes["two_phase"] = epochs >= 2
        changes["head_epochs"] = max(1, epochs - 1) if epochs >= 2 else config.head_epochs
    return config.replace(**changes), plan


class BudgetStop:
    """Ends training when the next epoch would pass the run's budget (Keras-style hooks).

    Args:
        budget: seconds for the whole run.
        started: when the run started (``clock()`` time), so every phase counts.
        clock: the time source (``time.time``; tests pass a fake).
    """

    def __init__(
        self, budget: float, started: float, clock: Callable[[], float] = time.time
    ) -> None:
        self.budget = budget
        self.started = started
        self.clock = clock
        self.model: Any = None
        self.params: dict[str, Any] = {}
        self.reached = False
        self.epoch_seconds: list[float] = []
        self._epoch_start = started

    def on_train_begin(self, logs: dict | None = None) -> None:
        """A new phase: its epochs are measured afresh (they may cost differently)."""
        self.epoch_seconds = []

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch_start = self.clock()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        """Stop when the elapsed time plus one more epoch would pass the budget."""
        now = self.clock()
        planned = self.params.get("epochs")
        last = planned is not None and epoch + 1 >= int(planned)
        self.epoch_seconds.append(now - self._epoch_start)
        # The first epoch also traces the step: the later ones say what one costs.
        recent = self.epoch_seconds[1:] or self.epoch_seconds
        next_epoch = sum(recent) / len(recent)
        if not last and now - self.started + next_epoch > self.budget:
            self.reached = True
            if self.model is not None:
                self.model.stop_training = True

    @property
    def spent(self) -> float:
        """Seconds since the run started."""
        return self.clock() - self.started
