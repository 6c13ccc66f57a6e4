"""What a comparison will cost, before it starts: the budget of each strategy and the total.

Each strategy's config is resolved as its run will be (the data's defaults, the shared
split kept), and its epochs are planned against the budget with this computer's stored
epoch cost (``tlcore.training.budget``). A budget that cannot fit one epoch of a strategy
is refused here, with the smallest budget that does.
"""

import dataclasses
from dataclasses import dataclass
from typing import Any

from tlcore.config import FreezeConfig, TrainConfig
from tlcore.errors import ConfigError
from tlcore.training import budget, fold_training


@dataclass(frozen=True)
class StrategyPlan:
    """One strategy's expected run: its name, epochs and budget plan (None: no epochs)."""

    name: str
    config: TrainConfig
    plan: budget.BudgetPlan | None

    @property
    def sentence(self) -> str:
        """One line for the person."""
        if self.plan is None:
            return f"{self.name}: the head is solved on the frozen features, no epochs to fit."
        return f"{self.name}: {self.plan.sentence}"


def paired_scoring(config: TrainConfig, report: Any) -> tuple[TrainConfig, str]:
    """Score every strategy of a small dataset by the same k folds (a paired comparison).

    Below the size where a held-out test split says little
    (``crossval.should_cross_validate``), each strategy is cross-validated over the same
    folds, each image answered by a model that did not train on it, and the final models
    train on every image. A split the person chose, or a dataset with its own test
    images, is kept. Returns the config and one sentence saying which and why.
    """
    from tlcore.training.crossval import fold_count, should_cross_validate

    counts = [int(c) for c in report.classes.values()]
    given = config.split.split_file is not None or any(
        getattr(item, "split", None) == "test" for item in report.items
    )
    chosen = {"split.val_fraction", "split.test_fraction", "cross_validate"} & set(config.chosen)
    cv, reason = should_cross_validate(counts, given)
    if not cv or chosen:
        return config, reason if not chosen else "The split you chose is kept for every strategy."
    folds = fold_count(counts, 3)
    split = dataclasses.replace(config.split, val_fraction=0.0, test_fraction=0.0)
    keep = ("cross_validate", "cv_folds", "split.val_fraction", "split.test_fraction")
    config = config.replace(
        cross_validate=True,
        cv_folds=folds,
        split=split,
        chosen=tuple(dict.fromkeys((*config.chosen, *keep))),
    )
    return config, (
        f"{sum(counts)} images are too few for a held-out test set: every strategy is "
        f"cross-validated over the same {folds} folds (the final models train on every "
        "image), so the fold models of the networks trained by gradient share each "
        "strategy's budget and may train fewer epochs."
    )


def _resolved(config: TrainConfig, report: Any) -> TrainConfig:
    from tlcore.training.defaults import resolve

    if not config.auto_defaults:
        return config
    # As tlcore.runs.store does for a comparison: every run keeps the one shared split.
    keep = ("split.val_fraction", "split.test_fraction", "cross_validate")
    config = config.replace(chosen=tuple(dict.fromkeys((*config.chosen, *keep))))
    return resolve(config, report)[0]


def preview(
    config: TrainConfig, freezes: list[FreezeConfig], names: list[str], report: Any
) -> list[StrategyPlan]:
    """The plan of every strategy of a comparison (``report``: the scanned dataset)."""
    from tlcore.training.phases import plan_phases

    total = sum(int(c) for c in report.classes.values())
    plans = []
    for name, freeze in zip(names, freezes, strict=True):
        c = _resolved(config.replace(freeze=freeze), report)
        phases = plan_phases(c)
        if not c.budget_seconds or all(p.solve for p in phases):
            plans.append(StrategyPlan(name, c, None))
            continue
        n_train = max(1, round(total * (1 - c.split.val_fraction - c.split.test_fraction)))
        already = 1 if phases[0].solve else 0
        cost = budget.stored_cost(budget.cost_key(c, phases[-1].name))
        n = fold_training.trainings(c)
        plan = budget.plan_epochs(c.epochs, c.budget_seconds / n, cost, n_train, already)
        if n > 1:  # the fold models and the final model share the budget
            plan = dataclasses.replace(
                plan,
                smallest_budget=None if plan.smallest_budget is None else plan.smallest_budget * n,
                sentence=f"{n} trainings (the final model and {n - 1} fold models), each with "
                f"a share of the budget. {plan.sentence}",
            )
        plans.append(StrategyPlan(name, c, plan))
    return plans


def total_sentence(config: TrainConfig, plans: list[StrategyPlan]) -> str:
    """``Budget 3 min per strategy: at most 9 min for 3 strategies.``"""
    if not config.budget_seconds:
        return "No time budget: every strategy trains all its epochs."
    n = len(plans)
    return (
        f"Budget {budget.duration_text(config.budget_seconds)} per strategy: at most "
        f"{budget.duration_text(config.budget_seconds * n)} for {n} "
        f"strateg{'ies' if n != 1 else 'y'}."
    )


def check_fits(plans: list[StrategyPlan]) -> None:
    """Refuse a budget that cannot fit one epoch of some strategy, naming the smallest."""
    short = [p for p in plans if p.plan is not None and not p.plan.fits]
    if not short:
        return
    smallest = max(p.plan.smallest_budget or 0.0 for p in short if p.plan is not None)
    epoch = max(p.plan.epoch_seconds or 0.0 for p in short if p.plan is not None)
    given = short[0].config.budget_seconds or 0.0
    raise ConfigError(
        f"A budget of {budget.duration_text(given)} cannot fit one epoch of "
        f"{', '.join(p.name for p in short)} on this computer ("
        f"{budget.about(epoch)} an epoch); give at least {smallest:.0f} seconds."
    )
