"""The training loop of one run, as named steps: decode, build, each phase, finish.

Called by ``tlcore.runs.job.train``, which owns the run folder's status and error
handling and passes in ``status`` (how to record progress in the folder). Each phase is
compiled and fitted (or its head solved) by ``tlcore.training.phase_fit``. One
``BestKeeper`` spans all phases: the best epoch by validation loss is restored and saved
as ``model.keras``.
"""

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tlcore import fsutil
from tlcore.config import TrainConfig
from tlcore.errors import TrainingError
from tlcore.training import budget, fold_training
from tlcore.training.batches import class_weights
from tlcore.training.checkpoint import BestKeeper
from tlcore.training.events import EventLog
from tlcore.training.inputs import StopRequested, decode
from tlcore.training.phase_fit import run_phase
from tlcore.training.phases import plan_phases
from tlcore.training.run_metrics import write_metrics
from tlcore.training.session import Session, Status


def save_model(model: Any, path: Path, epoch: int | None = None) -> None:
    """Save atomically: a reader (or a crash) never sees half a ``model.keras``.

    Raises:
        TrainingError: the disk is full (the temporary file is removed first).
    """
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}.keras")
    try:
        model.save(tmp)
        os.replace(tmp, path)
    except BaseException as e:
        tmp.unlink(missing_ok=True)
        if fsutil.is_disk_full(e):
            raise TrainingError(
                f"The disk is full ({fsutil.free_space_text(path)}); the best model of epoch "
                f"{epoch} could not be saved. Free some space (deleting the workspace's "
                "cache/ folder is safe), then train again."
            ) from None
        raise


def fit_phases(
    config: TrainConfig,
    run_dir: Path,
    split: Any,
    log: EventLog,
    should_stop: Callable[[], bool],
    status: Status,
    fast_path: bool = True,
) -> str:
    """Train, save the best model, evaluate; return ``finished`` or ``stopped``.

    ``fast_path=False`` always fits the whole model on images (for tests and benchmarks).
    """
    import keras

    from tlcore.models.classifier import image_size_for

    keras.utils.set_random_seed(config.seed)
    size = image_size_for(config)
    try:
        data = decode(config, split, size, log, should_stop)
    except StopRequested:
        return "stopped"  # nothing trained yet: nothing to keep
    session = Session(
        config, run_dir, log, should_stop, status, fast_path,
        classes=list(split.classes), size=size, data=data,
    )  # fmt: skip
    stopped = train_session(session)
    if not stopped and fold_training.wanted(session.config):
        session.oof, stopped = fold_training.out_of_fold(session, _fold_trainer(session))
    return _finish(session, stopped)


def _fold_trainer(s: Session) -> Callable[[dict[str, Any], Path], Any]:
    """``train(data, folder)``: a fold model trained like the run's own, None if stopped."""

    def train(data: dict[str, Any], folder: Path) -> Any:
        fold = Session(
            s.config, folder, EventLog(None), s.should_stop, lambda **_: None, s.fast_path,
            classes=s.classes, size=s.size, data=data,
        )  # fmt: skip
        return None if train_session(fold) else fold.model

    return train


def train_session(s: Session) -> bool:
    """Build the model and train every phase; return True when a stop was asked for."""
    _build(s)
    _plan_budget(s)
    stopped = False
    s.phases = len(plan_phases(s.config))
    for phase in plan_phases(s.config):
        try:
            stopped = run_phase(s, phase)
        except StopRequested:  # while this phase's features were computed
            s.cut = s.feats = None  # half made: evaluate on the images
            stopped = True
        if stopped or (s.budget is not None and s.budget.reached):
            break
    return stopped


def _plan_budget(s: Session) -> None:
    """Cut the epochs to what fits the run's time budget; watch the budget as it trains."""
    phases = plan_phases(s.config)
    if not s.config.budget_seconds or all(p.solve for p in phases):
        return  # nothing trains by gradient: a solved head takes seconds
    already = 1 if phases[0].solve else 0
    n_train = len(s.data["train"][1])
    # Cross-validated by gradient: the final model and each fold model share the budget.
    share = s.config.budget_seconds / fold_training.trainings(s.config)
    wanted = s.config.replace(budget_seconds=share)
    fitted, plan = budget.fit_to_budget(wanted, n_train, phases[-1].name, already)
    s.config = fitted.replace(budget_seconds=s.config.budget_seconds)
    s.budget = budget.BudgetStop(share, started=s.log.t0)
    s.log.emit(
        "budget",
        budget_seconds=s.config.budget_seconds,
        epochs=s.config.epochs,
        epoch_seconds=plan.epoch_seconds,
        message=plan.sentence,
    )
    s.status(budget_seconds=s.config.budget_seconds, budget_epochs=s.config.epochs)


def _build(s: Session) -> None:
    """Build the classifier under the distribution strategy, and the keeper of its best."""
    from tlcore.models.backbone_models import prepare_weights
    from tlcore.models.classifier import build_classifier, effective_weights
    from tlcore.training import distribute

    prepare_weights(
        s.config.backbone, s.size, effective_weights(s.config), s.log.progress("convert", 0.0)
    )
    s.strategy = distribute.choose_strategy()
    with s.strategy.scope():
        s.model = build_classifier(
            s.config, len(s.classes), progress=s.log.progress("weights", 1.0)
        )
    s.class_weight = class_weights(s.data["train"][1], len(s.classes), s.config.class_weighting)

    def on_epoch(epoch: int, logs: dict, improved: bool) -> None:
        accs = [h["val_accuracy"] for h in s.keeper.history if "val_accuracy" in h]
        s.status(epochs_run=len(s.keeper.history), best_val_accuracy=max(accs) if accs else None)

    s.keeper = BestKeeper(
        lambda: save_model(s.model, s.model_path, s.keeper.best_epoch),
        # Without validation images nothing tells a better epoch from a worse one (the
        # training loss of a solved head, measured without dropout, always "beat" the
        # fine-tuning after it, which was thrown away): keep the last epoch.
        monitor="val_loss" if s.has_val else None,
        patience=s.config.early_stopping_patience,
        on_epoch=on_epoch,
    )
    s.keeper.source = s.model


def _finish(s: Session, stopped: bool) -> str:
    """Save the best model and evaluate it; return ``finished`` or ``stopped``."""
    if s.keeper.best_weights is None:
        if stopped:
            return "stopped"  # stopped before the first epoch ended: nothing to keep
        raise TrainingError("Training ended before the first epoch finished.")
    save_model(s.model, s.model_path, s.keeper.best_epoch)
    write_metrics(s)
    if s.budget is not None and s.budget.reached and not stopped:
        spent = budget.duration_text(s.budget.spent)
        s.log.emit(
            "budget",
            reached=True,
            message=f"Finished at the budget ({spent}): epoch {s.epochs_done} was the last "
            f"that fit; the best, epoch {s.keeper.best_epoch}, is kept.",
        )
        s.status(ended_by="budget")
    return "stopped" if stopped else "finished"
