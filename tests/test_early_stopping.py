"""Early stopping really stops: the keeper driven with fake losses, the policy, real Keras.

Why a from-scratch run of a comparison read "Best epoch 1 of 68": the comparison shares
one split (the Data page's 20% validation), but the data's defaults, seeing fewer than
``MIN_VAL_TO_STOP`` validation images, had switched early stopping off; the run then
trained every one of its 200 epochs on a validation loss it never stopped on.
"""

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from run_helpers import tiny_config, train_tiny

from tlcore.config import FreezeConfig, SplitConfig, TrainConfig
from tlcore.training.checkpoint import BestKeeper
from tlcore.training.defaults import resolve


class FakeModel:
    def __init__(self) -> None:
        self.w = [np.zeros(1)]
        self.stop_training = False

    def get_weights(self) -> list:
        return [a.copy() for a in self.w]

    def set_weights(self, w: list) -> None:
        self.w = [a.copy() for a in w]


def drive(keeper: BestKeeper, val_losses: list[float]) -> int:
    """Feed epochs until the keeper stops training; return how many ran."""
    keeper.model = FakeModel()
    keeper.on_train_begin()
    for epoch, val_loss in enumerate(val_losses):
        keeper.on_epoch_end(epoch, {"loss": 1.0, "val_loss": val_loss})
        if keeper.model.stop_training:
            return epoch + 1
    return len(val_losses)


def test_a_loss_that_never_beats_epoch_one_stops_after_the_patience() -> None:
    keeper = BestKeeper(lambda: None, patience=3, min_save_gap=0)
    assert drive(keeper, [0.69, 0.70, 0.71, 0.70, 0.69, 0.72] * 10) == 4
    assert keeper.best_epoch == 1


def test_a_loss_creeping_down_at_chance_does_not_hold_off_the_stop() -> None:
    # A network at chance lowers its validation loss by a hair an epoch (it learns the
    # classes' shares): not progress worth waiting 200 epochs for.
    creeping = list(0.6931 - 1e-6 * np.arange(60))
    keeper = BestKeeper(lambda: None, patience=3, min_save_gap=0)
    assert drive(keeper, creeping) == 4
    assert keeper.best_epoch == 1


def test_real_progress_resets_the_patience() -> None:
    keeper = BestKeeper(lambda: None, patience=2, min_save_gap=0)
    assert drive(keeper, [1.0, 1.1, 0.9, 1.0, 0.8, 0.85, 0.86, 0.5]) == 7
    assert keeper.best_epoch == 5


def test_a_comparisons_kept_validation_images_are_stopped_on() -> None:
    # 40 photos, the split kept as the Data page set it (20% validation = 8 images).
    report = SimpleNamespace(classes={"a": 20, "b": 20}, items=[])
    asked = TrainConfig(
        data="x",
        auto_defaults=True,
        split=SplitConfig(val_fraction=0.2, test_fraction=0.1),
        chosen=("split.val_fraction", "split.test_fraction", "cross_validate"),
        freeze=FreezeConfig(strategy="scratch"),
    )
    config, defaults = resolve(asked, report)
    assert config.split.val_fraction == 0.2 and config.epochs > 0
    assert 3 <= config.early_stopping_patience <= max(3, config.epochs // 5)
    assert defaults is not None and defaults.patience == config.early_stopping_patience
    assert "8 validation images" in defaults.reasons["patience"]


def test_the_person_turning_early_stopping_off_is_kept() -> None:
    report = SimpleNamespace(classes={"a": 20, "b": 20}, items=[])
    asked = TrainConfig(
        data="x",
        auto_defaults=True,
        early_stopping_patience=0,
        split=SplitConfig(val_fraction=0.2, test_fraction=0.1),
        chosen=("split.val_fraction", "split.test_fraction", "early_stopping_patience"),
    )
    config, _ = resolve(asked, report)
    assert config.early_stopping_patience == 0


def test_a_real_run_that_cannot_improve_stops_after_its_patience(tiny_dataset: Path) -> None:
    # A learning rate of 1e-12: the validation loss barely moves, so epoch 1 stays best.
    info = train_tiny(
        tiny_dataset,
        "scratch",
        epochs=30,
        learning_rate=1e-12,
        early_stopping_patience=2,
        split=None,
    )
    metrics = json.loads((info.path / "metrics.json").read_text())
    assert info.status == "finished"
    assert (metrics["best_epoch"], metrics["epochs_run"]) == (1, 3)


def test_without_validation_images_the_last_epoch_is_kept() -> None:
    # Nothing held out to judge by: a falling or rising training loss says nothing of new
    # images, so no epoch is "best" but the last (and nothing stops early).
    keeper = BestKeeper(lambda: None, monitor=None, patience=2, min_save_gap=0)
    keeper.model = FakeModel()
    for epoch, loss in enumerate([0.2, 0.9, 1.0, 1.1]):
        keeper.on_epoch_end(epoch, {"loss": loss})
    assert keeper.best_epoch == 4 and not keeper.model.stop_training


def test_fine_tuning_after_a_solved_head_is_kept_without_validation(tiny_dataset: Path) -> None:
    # The solved head's training loss (no dropout) always beat the fine-tuning epochs',
    # so the run restored epoch 1: fine-tuning answered exactly like feature extraction.
    from tlcore.runs import store
    from tlcore.runs.job import train

    config = tiny_config(tiny_dataset, "fine-tune", epochs=3, solve_head=True).replace(
        split=SplitConfig(val_fraction=0.0, test_fraction=0.25)
    )
    info = train(config, store.create_run(config).path)
    metrics = json.loads((info.path / "metrics.json").read_text())
    assert info.status == "finished"
    assert (metrics["best_epoch"], metrics["epochs_run"]) == (3, 3)
