"""The training loop of one run, as named steps: decode, build, each phase, finish.

Called by ``tlcore.runs.job.train``, which owns the run folder's status and error
handling and passes in ``status`` (how to record progress in the folder). Each phase
compiles the model for its freezing plan and learning rate, then fits either the whole
model on images or, when the fast path applies (``tlcore.training.features``), only the
part after the frozen layers on their cached outputs. One ``BestKeeper`` spans all
phases: the best epoch by validation loss is restored and saved as ``model.keras``.
"""

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tlcore import fsutil
from tlcore.config import TrainConfig
from tlcore.errors import TransferLabError
from tlcore.training import budget, features, fold_training, multilayer_solve
from tlcore.training.batches import array_dataset, class_weights, optimizer
from tlcore.training.checkpoint import BestKeeper
from tlcore.training.events import EventLog, TrainingEvents, keras_callback
from tlcore.training.inputs import StopRequested, cached_features, decode
from tlcore.training.phases import Phase, plan_phases
from tlcore.training.run_metrics import write_metrics

Status = Callable[..., None]
"""``status(**fields)``: merge fields into the run's ``status.json``."""


class TrainingError(TransferLabError):
    """Training itself went wrong (e.g. the loss became NaN)."""


@dataclass
class Session:
    """What the steps of one run share: the config, the data, the model and its keeper."""

    config: TrainConfig
    run_dir: Path
    log: EventLog
    should_stop: Callable[[], bool]
    status: Status
    fast_path: bool
    classes: list[str]
    size: int
    data: dict[str, Any]
    model: Any = None
    strategy: Any = None
    keeper: Any = None
    epochs_done: int = 0
    cut: Any = None
    feats: dict[str, Any] | None = None
    counts: tuple[int, int] = (0, 0)
    class_weight: dict[int, float] | None = None
    head_fit: Any = None  # the solved head (``HeadFit``), when the head was solved
    head_features: dict[str, Any] | None = None  # the pooled features it was solved on
    budget: Any = None  # ``budget.BudgetStop`` when the run has a time budget
    head_choice: Any = None  # which features the head reads, and why (``FeatureChoice``)
    head_oof: Any = None  # the chosen head's out-of-fold predictions, when CV chose it
    phases: int = 1
    oof: Any = None  # out-of-fold predictions of the fold models (``crossval.OutOfFold``)

    @property
    def model_path(self) -> Path:
        return self.run_dir / "model.keras"

    @property
    def has_val(self) -> bool:
        return len(self.data["val"][1]) > 0


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
            stopped = _run_phase(s, phase)
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


def _compile_phase(s: Session, phase: Phase) -> Any:
    """Apply the phase's freezing plan and compile what trains; return that model."""
    from tlcore.models.classifier import backbone_of
    from tlcore.models.freezing import apply_freeze, param_counts

    with s.strategy.scope():
        apply_freeze(backbone_of(s.model), phase.freeze)
        s.cut = features.plan_cut(s.config, s.model) if s.fast_path else None
        fitted = s.cut.trainable if s.cut else s.model
        fitted.compile(
            optimizer=optimizer(phase.optimizer, phase.learning_rate),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
    s.counts = param_counts(s.model)
    if s.cut is not None and not (phase.solve and multilayer_solve.applies(s.config, s.phases)):
        s.feats = cached_features(s.cut, s.data, s.config, s.size, s.log, s.should_stop)
    return fitted  # (multi-layer features: one pass of their own, in the solve phase)


def _announce(s: Session, phase: Phase, solved: bool) -> None:
    from tlcore.training import distribute

    s.log.emit(
        "phase",
        phase=phase.name,
        epochs=phase.last_epoch,
        first_epoch=s.epochs_done + 1,
        learning_rate=None if solved else phase.learning_rate,
        trainable_params=s.counts[0],
        non_trainable_params=s.counts[1],
        fast_path=s.cut.name if s.cut else None,
        strategy=distribute.describe(s.strategy),
        head_solver=solved,
        schedule=None if solved else s.config.schedule,
        warmup_epochs=None if solved else s.config.warmup_epochs,
    )
    s.status(trainable_params=s.counts[0])


def _run_phase(s: Session, phase: Phase) -> bool:
    """Fit one phase; restore its best epoch; return True when a stop was asked for."""
    import keras

    fitted = _compile_phase(s, phase)
    if phase.solve and s.cut is not None and s.cut.name == features.POOL:
        return _solve_phase(s, phase, fitted)
    first = s.epochs_done + 1
    _announce(s, phase, solved=False)
    c = s.config
    hooks = TrainingEvents(
        s.log, phase.name, phase.last_epoch, c.batch_size, s.should_stop, first_epoch=first
    )
    s.keeper.model = fitted
    callbacks = [keras_callback(hooks), keras_callback(s.keeper)]
    if s.budget is not None:
        callbacks.append(keras_callback(s.budget))
    if c.schedule == "cosine":
        from tlcore.training.schedule import WarmupCosine, warmup_cosine_callback

        epochs = phase.last_epoch - s.epochs_done
        steps = math.ceil(len(s.data["train"][1]) / c.batch_size)
        warmup = min(c.warmup_epochs, max(epochs - 1, 0))
        plan = WarmupCosine.for_phase(phase.learning_rate, epochs, steps, warmup)
        callbacks.append(warmup_cosine_callback(plan))
    if c.tensorboard and _tensorboard_available(s.log):
        callbacks.append(keras.callbacks.TensorBoard(log_dir=str(s.run_dir / "tensorboard")))
    inputs = {k: (s.feats[k] if s.cut else v[0], v[1]) for k, v in s.data.items()}
    train_ds = array_dataset(*inputs["train"], c.batch_size, True, c.seed)
    val_ds = array_dataset(*inputs["val"], c.batch_size, False, c.seed) if s.has_val else None
    fitted.fit(
        train_ds,
        validation_data=val_ds,
        epochs=phase.last_epoch,
        initial_epoch=s.epochs_done,
        verbose=0,
        shuffle=False,
        class_weight=s.class_weight,
        callbacks=callbacks,
    )
    s.epochs_done += len(hooks.epoch_seconds)
    n_train = len(s.data["train"][1])
    budget.store_cost(budget.cost_key(c, phase.name), hooks.epoch_seconds, n_train)
    if hooks.nan_at:
        raise TrainingError(
            f"The loss became NaN (not a number) at epoch {hooks.nan_at[0]}, batch "
            f"{hooks.nan_at[1]}: the learning rate is probably too high; try 10x lower."
        )
    s.keeper.flush()
    s.keeper.restore()  # the next phase starts from the best epoch so far
    return hooks.stopped_by_request or s.should_stop()


def _solve_phase(s: Session, phase: Phase, fitted: Any) -> bool:
    """The head phase on cached features, solved exactly instead of by gradient."""
    import time

    from tlcore.training.head_solver import describe, solve_head, write_into_dense

    _announce(s, phase, solved=True)
    t0 = time.monotonic()

    def progress(event: dict) -> None:
        if "done" in event:
            s.log.emit(
                "prepare",
                stage="solve-head",
                done=event["done"],
                total=event["total"],
                message=event["message"],
            )

    if multilayer_solve.applies(s.config, s.phases):
        fit = multilayer_solve.solve(s, progress)  # may rebuild s.model, s.cut, s.feats
        fitted = s.cut.trainable
    else:
        fit = solve_head(
            np.asarray(s.feats["train"]),
            s.data["train"][1],
            len(s.classes),
            class_weight=s.class_weight,
            seed=s.config.seed,
            progress=progress,
        )
        write_into_dense(s.model.get_layer("predictions"), fit)
    s.head_fit, s.head_features = fit, s.feats
    choice = s.head_choice.to_dict() if s.head_choice else None
    message = describe(fit) + (f" {s.head_choice.reason}" if s.head_choice else "")
    s.log.emit("head", **fit.summary(), feature_set=choice, message=message)
    logs = _head_logs(s, fitted)
    s.log.emit(
        "epoch",
        phase=phase.name,
        epoch=s.epochs_done + 1,
        epochs=phase.last_epoch,
        **logs,
        learning_rate=None,
        seconds=round(time.monotonic() - t0, 3),
        eta_seconds=0.0,
    )
    s.keeper.model = fitted
    s.keeper.on_epoch_end(s.epochs_done, logs)
    s.keeper.flush()
    s.epochs_done += 1
    return s.should_stop()


def _head_logs(s: Session, fitted: Any) -> dict[str, float | None]:
    """Loss and accuracy of the solved head, as an epoch's logs (train, validation)."""
    logs: dict[str, float | None] = {}
    for prefix, name in (("", "train"), ("val_", "val")):
        labels = s.data[name][1]
        if not len(labels):
            logs[f"{prefix}loss"] = logs[f"{prefix}accuracy"] = None
            continue
        probs = features.extract(fitted, s.feats[name], batch_size=256)
        picked = np.clip(probs[np.arange(len(labels)), labels], 1e-12, 1.0)
        logs[f"{prefix}loss"] = float(-np.log(picked).mean())
        logs[f"{prefix}accuracy"] = float((probs.argmax(axis=1) == labels).mean())
    return logs


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


def _tensorboard_available(log: EventLog) -> bool:
    import importlib.util

    if importlib.util.find_spec("tensorboard") is not None:
        return True
    # Optional logs must not fail a run: say why there are none and train on.
    log.emit(
        "warning",
        message="No TensorBoard logs: the tensorboard package is not "
        "installed (pip install tensorboard).",
    )
    return False
