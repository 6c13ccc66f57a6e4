"""A time budget per run: the epochs that fit, the stop at the budget, the refusal before Start."""

import json
from pathlib import Path

import pytest
from run_helpers import events_of, tiny_cli_args, tiny_config, train_tiny

from tlcore.cli import main
from tlcore.config import TrainConfig
from tlcore.errors import ConfigError
from tlcore.runs import run_files, run_info
from tlcore.training import budget


class FakeModel:
    stop_training = False


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def drive(stop: budget.BudgetStop, clock: Clock, epoch_seconds: list[float], planned: int) -> int:
    """Run fake epochs of the given lengths until the stop fires; return how many ran."""
    stop.model, stop.params = FakeModel(), {"epochs": planned}
    stop.on_train_begin()
    for epoch, seconds in enumerate(epoch_seconds):
        stop.on_epoch_begin(epoch)
        clock.now += seconds
        stop.on_epoch_end(epoch)
        if stop.model.stop_training:
            return epoch + 1
    return len(epoch_seconds)


def test_training_ends_when_the_next_epoch_would_pass_the_budget() -> None:
    clock = Clock()
    stop = budget.BudgetStop(35.0, started=clock.now, clock=clock)
    # 10 s epochs in a 35 s budget: after 3 (30 s) a fourth would end at 40 s.
    assert drive(stop, clock, [10.0] * 200, planned=200) == 3
    assert stop.reached and stop.spent == 30.0


def test_the_first_epoch_traces_the_step_and_is_not_the_estimate() -> None:
    clock = Clock()
    stop = budget.BudgetStop(60.0, started=clock.now, clock=clock)
    # A slow first epoch (tracing), then 5 s ones: the estimate is 5 s, not 20.
    # 20 + 8 * 5 = 60 s: exactly the budget, and a tenth would pass it.
    assert drive(stop, clock, [20.0] + [5.0] * 50, planned=51) == 9
    assert stop.reached


def test_a_run_whose_planned_epochs_fit_does_not_end_at_the_budget() -> None:
    clock = Clock()
    stop = budget.BudgetStop(35.0, started=clock.now, clock=clock)
    assert drive(stop, clock, [10.0] * 3, planned=3) == 3
    assert not stop.reached


def test_plan_epochs_fits_the_budget_with_a_stored_cost() -> None:
    # 0.5 s per image and epoch, 20 images: 10 s an epoch, 12.5 s with the margin.
    plan = budget.plan_epochs(200, 60.0, 0.5, 20)
    assert (plan.epochs, plan.epoch_seconds, plan.smallest_budget, plan.fits) == (4, 10.0, 15, True)
    assert plan.sentence == "Budget 60 s: 4 of 200 epochs fit (about 10 s each on this computer)."
    short = budget.plan_epochs(200, 10.0, 0.5, 20)
    assert (short.epochs, short.fits) == (1, False)
    assert short.sentence == (
        "A budget of 10 s cannot fit one epoch here (about 10 s each for 20 images); "
        "give at least 15 s."
    )
    # A solved head is epoch 1 and costs nothing here: 4 gradient epochs after it.
    assert budget.plan_epochs(40, 60.0, 0.5, 20, already=1).epochs == 5
    assert budget.plan_epochs(3, 600.0, 0.5, 20).epochs == 3  # all fit
    assert budget.plan_epochs(200, 60.0, None, 20).epochs == 200  # measured as it runs


def test_fit_to_budget_cuts_epochs_and_warmup_together() -> None:
    config = TrainConfig(data="x", epochs=200, warmup_epochs=20, budget_seconds=60.0)
    budget.store_cost(budget.cost_key(config, "train"), [3.0, 1.0, 1.0], n_train=2)
    assert budget.stored_cost(budget.cost_key(config, "train")) == 0.5
    fitted, plan = budget.fit_to_budget(config, 20, "train")
    assert plan is not None and (fitted.epochs, fitted.warmup_epochs) == (4, 1)
    fitted.validate()
    assert budget.fit_to_budget(config.replace(budget_seconds=None), 20, "train")[1] is None


def test_a_budget_must_be_positive() -> None:
    with pytest.raises(ConfigError, match="positive number of seconds"):
        TrainConfig(data="x", budget_seconds=0.0).validate()


def test_a_real_run_ends_finished_at_budget_with_its_best_epoch(tiny_dataset: Path) -> None:
    info = train_tiny(tiny_dataset, "scratch", epochs=10_000, budget_seconds=4.0)
    metrics = json.loads((info.path / "metrics.json").read_text())
    status = run_files.read_status(info.path)
    assert info.status == "finished" and status["ended_by"] == "budget"
    assert 1 <= metrics["best_epoch"] <= metrics["epochs_run"] < 10_000
    messages = [e["message"] for e in events_of(info) if e["type"] == "budget"]
    assert messages[0].startswith("Budget 4 s: the first epochs measure")
    assert messages[-1].startswith("Finished at the budget")
    # The run stored this computer's cost: the next run plans its epochs to fit.
    again = train_tiny(tiny_dataset, "scratch", epochs=10_000, budget_seconds=4.0)
    phase = next(e for e in events_of(again) if e["type"] == "phase")
    assert phase["epochs"] < 10_000
    planned = next(e for e in events_of(again) if e["type"] == "budget")
    assert planned["epoch_seconds"] > 0 and "first epochs measure" not in planned["message"]


def test_compare_refuses_a_budget_that_fits_no_epoch_before_anything_starts(
    tiny_dataset: Path, capsys: pytest.CaptureFixture
) -> None:
    slow = tiny_config(tiny_dataset, "full")
    for phase in ("train", "fine-tune"):  # whichever the defaults choose: 10 s per image
        budget.store_cost(budget.cost_key(slow, phase), [10.0], n_train=1)
    args = ["compare", str(tiny_dataset), *tiny_cli_args(), "--strategies", "full"]
    assert main([*args, "--budget", "30", "--json"]) == 2
    err = capsys.readouterr().err
    assert "cannot fit one epoch of full on this computer" in err
    assert "give at least" in err and err.count("\n") == 1
    assert run_info.list_runs() == []  # nothing was created


def test_a_tiny_estimate_says_under_a_second_not_about_0_s() -> None:
    # 12 epochs of 20 images at 1 ms an image: 0.24 s, which read "about 0 s".
    plan = budget.plan_epochs(12, 180.0, 0.001, 20)
    assert plan.sentence == "Budget 3 min: all 12 epochs fit (under a second on this computer)."
    assert "0 s" not in budget.plan_epochs(200, 1.0, 0.001, 20).sentence
    assert budget.duration_text(0.2) == "under 1 s"
    assert budget.about(40.0) == "about 40 s"
