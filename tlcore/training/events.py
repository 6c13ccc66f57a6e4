"""Live training events: ``events.jsonl`` in the run folder, one JSON object per line.

``EventLog`` appends ``start | prepare | phase | batch | epoch | end`` events, each with
``time`` (unix) and ``elapsed`` (seconds since the run started). ``TrainingEvents`` turns
Keras' callback hooks into batch/epoch events: batch events are throttled (at most
``max_per_second``; the last batch of an epoch always), carry images/s and an ETA, and the
callback asks training to stop after the current batch when a stop was requested (flag
file or signal) or the loss stopped being a finite number.

``TrainingEvents`` only sees training through ``logs`` and ``model.stop_training`` (like
Keras' own callbacks), so tests drive it with fake logs; ``keras_callback()`` wraps it in
a real ``keras.callbacks.Callback`` (Keras is imported there, not at module import).
"""

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tlcore import fsutil


class EventLog:
    """Appends events to ``events.jsonl`` (``path`` None: keep them in memory only)."""

    def __init__(
        self,
        path: Path | None,
        t0: float | None = None,
        echo: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.path = Path(path) if path is not None else None
        self.t0 = time.time() if t0 is None else t0
        self.echo = echo
        self.memory: list[dict[str, Any]] = []

    def emit(self, kind: str, **fields: Any) -> dict[str, Any]:
        """Append one event of type ``kind``; return it."""
        now = time.time()
        event = {"type": kind, "time": round(now, 3), "elapsed": round(now - self.t0, 3), **fields}
        if self.path is not None:
            fsutil.append_jsonl(self.path, event)
        else:
            self.memory.append(event)
        if self.echo is not None:
            self.echo(event)
        return event

    def progress(self, stage: str, every: float = 0.25) -> Callable[[int, int], None]:
        """Return a ``progress(done, total)`` callback emitting throttled ``prepare`` events."""
        last = [0.0, -1]  # time of the last event, its ``done``

        def report(done: int, total: int) -> None:
            now = time.monotonic()
            if done == last[1]:
                return
            if done >= total or now - last[0] >= every:
                last[0], last[1] = now, done
                self.emit("prepare", stage=stage, done=int(done), total=int(total))

        return report


def _number(value: Any) -> float | None:
    """A float, or None for missing / non-numbers / NaN / inf (JSON has no NaN)."""
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


class TrainingEvents:
    """Keras-style hooks that write batch and epoch events for one training phase.

    Args:
        log: where events go.
        phase: ``head`` | ``fine-tune`` | ``train``.
        epochs: last epoch number of this phase (1-based, counting earlier phases).
        batch_size: images per batch (for images/s).
        should_stop: returns True when a stop was requested (checked every batch).
        max_per_second: batch events per second at most.
        first_epoch: 1-based number of the phase's first epoch.
    """

    def __init__(
        self,
        log: EventLog,
        phase: str,
        epochs: int,
        batch_size: int,
        should_stop: Callable[[], bool] = lambda: False,
        max_per_second: float = 4.0,
        first_epoch: int = 1,
    ) -> None:
        self.log = log
        self.phase = phase
        self.epochs = epochs
        self.batch_size = batch_size
        self.should_stop = should_stop
        self.min_gap = 1.0 / max_per_second
        self.first_epoch = first_epoch
        self.model: Any = None
        self.params: dict[str, Any] = {}
        self.on_train_begin()

    def on_train_begin(self, logs: dict | None = None) -> None:
        """Reset counters so the object can be reused."""
        self.stopped_by_request = False
        self.nan_at: tuple[int, int] | None = None
        self.epoch = self.first_epoch
        self.epoch_seconds: list[float] = []
        self._last_emit = 0.0
        self._epoch_start = time.monotonic()

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        """Note the epoch (Keras counts from 0 and includes earlier phases)."""
        self.epoch = epoch + 1
        self._epoch_start = time.monotonic()

    def _batches(self) -> int | None:
        steps = self.params.get("steps")
        return int(steps) if steps else None

    def _stop(self) -> None:
        if self.model is not None:
            self.model.stop_training = True

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        """Check for NaN and stop requests; emit a throttled batch event."""
        logs = logs or {}
        raw = logs.get("loss")
        loss = _number(raw)
        if raw is not None and loss is None:
            self.nan_at = (self.epoch, batch + 1)
            self._stop()
            return
        if self.should_stop():
            self.stopped_by_request = True
            self._stop()
        batches = self._batches()
        now = time.monotonic()
        last = batches is not None and batch + 1 >= batches
        if not last and now - self._last_emit < self.min_gap:
            return
        self._last_emit = now
        spent = now - self._epoch_start
        done = batch + 1
        per_batch = spent / done
        eta = None
        if batches is not None:
            left_here = max(batches - done, 0) * per_batch
            epoch_time = self._mean_epoch() or per_batch * batches
            eta = left_here + (self.epochs - self.epoch) * epoch_time
        self.log.emit(
            "batch",
            phase=self.phase,
            epoch=self.epoch,
            epochs=self.epochs,
            batch=done,
            batches=batches,
            loss=loss,
            accuracy=_number(logs.get("accuracy")),
            images_per_sec=round(done * self.batch_size / spent, 1) if spent > 0 else None,
            eta_seconds=None if eta is None else round(eta, 1),
        )

    def _mean_epoch(self) -> float | None:
        return sum(self.epoch_seconds) / len(self.epoch_seconds) if self.epoch_seconds else None

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        """Emit the epoch event with train and validation metrics."""
        logs = logs or {}
        if self.nan_at is not None:
            return  # the epoch was cut short by a NaN loss; the end event says why
        seconds = time.monotonic() - self._epoch_start
        self.epoch_seconds.append(seconds)
        lr = _number(logs.get("learning_rate"))
        if lr is None and self.model is not None:
            lr = _current_lr(self.model)
        self.log.emit(
            "epoch",
            phase=self.phase,
            epoch=epoch + 1,
            epochs=self.epochs,
            loss=_number(logs.get("loss")),
            accuracy=_number(logs.get("accuracy")),
            val_loss=_number(logs.get("val_loss")),
            val_accuracy=_number(logs.get("val_accuracy")),
            learning_rate=None if lr is None else float(f"{lr:.6g}"),
            seconds=round(seconds, 3),
            eta_seconds=round(max(self.epochs - (epoch + 1), 0) * self._mean_epoch(), 1),
        )


def _current_lr(model: Any) -> float | None:
    try:
        return float(model.optimizer.learning_rate)
    except (AttributeError, TypeError, ValueError):
        return None


_CALLBACK_CLASS: type | None = None


def keras_callback(hooks: Any) -> Any:
    """Wrap an object with Keras hook methods (``TrainingEvents``, ...) as a Keras callback."""
    global _CALLBACK_CLASS
    if _CALLBACK_CLASS is None:
        import keras

        class HooksCallback(keras.callbacks.Callback):
            """Forwards Keras' hooks to a plain object (which gets ``model`` and ``params``)."""

            def __init__(self, target: Any) -> None:
                super().__init__()
                self.target = target

            def set_model(self, model: Any) -> None:
                super().set_model(model)
                self.target.model = model

            def set_params(self, params: dict) -> None:
                super().set_params(params)
                self.target.params = params

            def on_train_begin(self, logs=None):
                self._call("on_train_begin", logs)

            def on_epoch_begin(self, epoch, logs=None):
                self._call("on_epoch_begin", epoch, logs)

            def on_epoch_end(self, epoch, logs=None):
                self._call("on_epoch_end", epoch, logs)

            def on_train_batch_end(self, batch, logs=None):
                self._call("on_train_batch_end", batch, logs)

            def on_train_end(self, logs=None):
                self._call("on_train_end", logs)

            def _call(self, name: str, *args: Any) -> None:
                method = getattr(self.target, name, None)
                if method is not None:
                    method(*args)

        _CALLBACK_CLASS = HooksCallback
    return _CALLBACK_CLASS(hooks)
