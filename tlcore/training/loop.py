"""The training loop of one run: decode, build, fit phase by phase, evaluate.

Called by ``tlcore.runs.job.train`` (which owns the run's status and error handling).
Each phase compiles the model for its freezing plan and learning rate, then fits either
the whole model on images or, when the fast path applies (``tlcore.training.features``), only
the part after the frozen layers on their cached outputs. One ``BestKeeper`` spans all
phases: the best epoch by validation loss is restored and saved as ``model.keras``.
"""

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from tlcore import fsutil
from tlcore.config import TrainConfig
from tlcore.errors import TransferLabError
from tlcore.runs import store
from tlcore.training import features
from tlcore.training.checkpoint import BestKeeper
from tlcore.training.diagnose import diagnose
from tlcore.training.evaluate import evaluate
from tlcore.training.events import EventLog, TrainingEvents, keras_callback

IMBALANCE_RATIO = 1.5  # largest / smallest class above this: weight classes (auto)


class TrainingError(TransferLabError):
    """Training itself went wrong (e.g. the loss became NaN)."""


def class_weights(labels: np.ndarray, n_classes: int, mode: str) -> dict[int, float] | None:
    """Balanced class weights ``n / (k * count)``, or None when off / balanced (auto)."""
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=n_classes)
    present = counts[counts > 0]
    if mode == "off" or len(present) == 0:
        return None
    if mode == "auto" and present.max() / present.min() < IMBALANCE_RATIO:
        return None
    total = counts.sum()
    return {i: float(total / (len(present) * c)) if c else 0.0 for i, c in enumerate(counts)}


def optimizer(name: str, lr: float) -> Any:
    """A fresh Keras optimizer by config name."""
    import keras

    return {
        "adam": keras.optimizers.Adam,
        "sgd": keras.optimizers.SGD,
        "rmsprop": keras.optimizers.RMSprop,
    }[name](learning_rate=lr)


def array_dataset(
    images: Any, labels: np.ndarray, batch_size: int, shuffle: bool, seed: int
) -> Any:
    """Batches of (images, int32 labels) read from an array or memmap by index.

    ``images`` are uint8 pixels or cached float32 features (the fast path); both paths
    read batches the same way and in the same seeded order.

    Memory stays bounded (one batch at a time); reshuffled every epoch, seeded.
    """
    import tensorflow as tf

    n = len(labels)
    shape = tuple(images.shape[1:])
    dtype = np.dtype(images.dtype)

    def gather(idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        idx = np.asarray(idx)
        order = np.argsort(idx)  # sorted reads are sequential on a memmap
        x = np.empty((len(idx), *shape), dtype=dtype)
        x[order] = images[idx[order]]
        return x, labels[idx].astype(np.int32)

    ds = tf.data.Dataset.range(n)
    if shuffle:
        ds = ds.shuffle(n, seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size).map(
        lambda i: tf.numpy_function(gather, [i], (tf.as_dtype(dtype), tf.int32)),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )
    ds = ds.map(lambda x, y: (tf.ensure_shape(x, (None, *shape)), tf.ensure_shape(y, (None,))))
    return ds.prefetch(tf.data.AUTOTUNE)


def save_model(model: Any, path: Path) -> None:
    """Save atomically: a reader (or a crash) never sees half a ``model.keras``."""
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}.keras")
    model.save(tmp)
    os.replace(tmp, path)


def _decode(config: TrainConfig, split: Any, size: int, log: EventLog) -> dict[str, Any]:
    from tlcore.data.pipeline import load_arrays

    parts = {"train": split.train, "val": split.val, "test": split.test}
    total = sum(len(v) for v in parts.values())
    report = log.progress("decode")
    out, offset = {}, 0
    for name, items in parts.items():

        def progress(done: int, _total: int, base: int = offset) -> None:
            report(base + done, total)

        if items:
            images, labels = load_arrays(
                items,
                list(split.classes),
                size,
                config.resize_mode,
                use_cache=config.use_cache,
                progress=progress,
            )
        else:
            images = np.zeros((0, size, size, 3), np.uint8)
            labels = np.zeros((0,), np.int32)
        out[name] = (images, np.asarray(labels, dtype=np.int32), [i.path for i in items])
        offset += len(items)
    report(total, total)
    return out


def fit_phases(
    config: TrainConfig,
    run_dir: Path,
    split: Any,
    log: EventLog,
    should_stop: Callable[[], bool],
    fast_path: bool = True,
) -> str:
    """Train, save the best model, evaluate; return ``finished`` or ``stopped``.

    ``fast_path=False`` always fits the whole model on images (for tests and benchmarks).
    """
    import keras
    from tlcore.models.classifier import backbone_of, build_classifier, image_size_for
    from tlcore.models.freezing import apply_freeze, head_phase_freeze, param_counts
    from tlcore.training import distribute

    keras.utils.set_random_seed(config.seed)
    classes = list(split.classes)
    size = image_size_for(config)
    data = _decode(config, split, size, log)
    strategy = distribute.choose_strategy()
    with strategy.scope():
        model = build_classifier(config, len(classes), progress=log.progress("weights", 1.0))
    has_val = len(data["val"][1]) > 0
    weights = class_weights(data["train"][1], len(classes), config.class_weighting)
    model_path = run_dir / "model.keras"

    def on_epoch(epoch: int, logs: dict, improved: bool) -> None:
        accs = [h["val_accuracy"] for h in keeper.history if "val_accuracy" in h]
        store.update_status(
            run_dir, epochs_run=len(keeper.history), best_val_accuracy=max(accs) if accs else None
        )

    keeper = BestKeeper(
        lambda: save_model(model, model_path),
        monitor="val_loss" if has_val else "loss",
        patience=config.early_stopping_patience,
        on_epoch=on_epoch,
    )
    keeper.source = model
    if config.two_phase:
        phases = [
            ("head", config.head_epochs, config.learning_rate, head_phase_freeze(config.freeze)),
            ("fine-tune", config.epochs, config.fine_tune_learning_rate, config.freeze),
        ]
    else:
        phases = [("train", config.epochs, config.learning_rate, config.freeze)]

    done, stopped, cut, feats, counts = 0, False, None, None, (0, 0)
    for phase, last_epoch, lr, freeze in phases:
        with strategy.scope():
            apply_freeze(backbone_of(model), freeze)
            cut = features.plan_cut(config, model) if fast_path else None
            fitted = cut.trainable if cut else model
            fitted.compile(
                optimizer=optimizer(config.optimizer, lr),
                loss="sparse_categorical_crossentropy",
                metrics=["accuracy"],
            )
        counts = param_counts(model)
        if cut is not None:
            feats = _features(cut, data, config, size, log)
        log.emit(
            "phase",
            phase=phase,
            epochs=last_epoch,
            first_epoch=done + 1,
            learning_rate=lr,
            trainable_params=counts[0],
            non_trainable_params=counts[1],
            fast_path=cut.name if cut else None,
            strategy=distribute.describe(strategy),
        )
        store.update_status(run_dir, trainable_params=counts[0])
        hooks = TrainingEvents(
            log, phase, last_epoch, config.batch_size, should_stop, first_epoch=done + 1
        )
        keeper.model = fitted
        callbacks = [keras_callback(hooks), keras_callback(keeper)]
        if config.tensorboard and _tensorboard_available(log):
            callbacks.append(keras.callbacks.TensorBoard(log_dir=str(run_dir / "tensorboard")))
        inputs = {k: (feats[k] if cut else v[0], v[1]) for k, v in data.items()}
        train_ds = array_dataset(*inputs["train"], config.batch_size, True, config.seed)
        val_ds = (
            array_dataset(*inputs["val"], config.batch_size, False, config.seed)
            if has_val
            else None
        )
        fitted.fit(
            train_ds,
            validation_data=val_ds,
            epochs=last_epoch,
            initial_epoch=done,
            verbose=0,
            shuffle=False,
            class_weight=weights,
            callbacks=callbacks,
        )
        done += len(hooks.epoch_seconds)
        if hooks.nan_at:
            raise TrainingError(
                f"The loss became NaN (not a number) at epoch {hooks.nan_at[0]}, batch "
                f"{hooks.nan_at[1]}: the learning rate is probably too high; try 10x lower."
            )
        keeper.flush()
        keeper.restore()  # the next phase starts from the best epoch so far
        if hooks.stopped_by_request or should_stop():
            stopped = True
            break
    if keeper.best_weights is None:
        if stopped:
            return "stopped"  # stopped before the first epoch ended: nothing to keep
        raise TrainingError("Training ended before the first epoch finished.")
    save_model(model, model_path)
    _write_metrics(run_dir, model, cut, feats, data, classes, keeper, counts, log.t0)
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


def _features(
    cut: features.Cut, data: dict, config: TrainConfig, size: int, log: EventLog
) -> dict[str, Any]:
    total = sum(len(v[1]) for v in data.values())
    report = log.progress("features")
    feats, offset = {}, 0
    for name, (images, labels, paths) in data.items():
        feats[name] = features.cached_features(
            cut,
            paths,
            images,
            size,
            config.resize_mode,
            config.use_cache,
            progress=lambda d, _t, base=offset: report(base + d, total),
        )
        offset += len(labels)
    return feats


def _predict(model: Any, cut: Any, feats: dict | None, images: Any, name: str) -> np.ndarray:
    # After a fast final phase the trained part on the cached tensors gives the model's
    # predictions (equal to 1e-5, see tests) without running the frozen part again.
    if cut is not None and feats is not None:
        return features.extract(cut.trainable, feats[name], batch_size=256)
    return features.extract(model, images)


def _write_metrics(
    run_dir: Path,
    model: Any,
    cut: Any,
    feats: dict | None,
    data: dict,
    classes: list[str],
    keeper: BestKeeper,
    counts: tuple[int, int],
    t0: float,
) -> None:
    import time

    name = "test" if len(data["test"][1]) else ("val" if len(data["val"][1]) else "train")
    images, labels, paths = data[name]
    result = evaluate(labels, _predict(model, cut, feats, images, name), classes, paths)
    val_accuracy = result["accuracy"] if name == "val" else None
    if name == "test" and len(data["val"][1]):
        val_probs = _predict(model, cut, feats, data["val"][0], "val")
        val_accuracy = evaluate(data["val"][1], val_probs, classes)["accuracy"]
    metrics = {
        "split": name,
        **result,
        "diagnosis": diagnose(keeper.history, result["confusion_matrix"], classes),
        "best_epoch": keeper.best_epoch,
        "epochs_run": len(keeper.history),
        "seconds": round(time.time() - t0, 2),
        "trainable_params": counts[0],
        "non_trainable_params": counts[1],
        "val_accuracy": val_accuracy,
        "test_accuracy": result["accuracy"] if name == "test" else None,
        "history": keeper.history,
    }
    fsutil.atomic_write_json(run_dir / "metrics.json", metrics)
    store.update_status(
        run_dir, test_accuracy=metrics["test_accuracy"], epochs_run=len(keeper.history)
    )
