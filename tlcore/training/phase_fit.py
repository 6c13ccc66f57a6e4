"""One phase of a run: compile what its freezing plan trains, then fit or solve it.

A phase compiles the model for its freezing plan and learning rate, then fits either the
whole model on images or, when the fast path applies (``tlcore.training.features``), only
the part after the frozen layers on their cached outputs. A head phase on pooled cached
features is solved exactly (``tlcore.training.head_solver``) instead of by gradient. The
run's ``BestKeeper`` sees every epoch, so the best one of all phases is kept.
"""

import math
from typing import Any

import numpy as np

from tlcore.errors import TrainingError
from tlcore.training import budget, features, multilayer_solve
from tlcore.training.batches import array_dataset, optimizer
from tlcore.training.events import EventLog, TrainingEvents, keras_callback
from tlcore.training.inputs import cached_features
from tlcore.training.phases import Phase
from tlcore.training.session import Session


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


def run_phase(s: Session, phase: Phase) -> bool:
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
