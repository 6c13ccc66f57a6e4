"""Keep the best epoch (by validation loss), save it as it improves, stop early.

Like Keras' ``EarlyStopping(restore_best_weights=True)`` plus ``ModelCheckpoint``, but
one object that lives across the phases of two-phase training (the best epoch may be in
either phase) and that saves through a function, because on the fast path the model
being fitted is the head while the file written is the whole end-to-end model.

Saving happens at each improvement, at most every ``min_save_gap`` seconds (a pending
improvement is written at the next epoch end or by ``flush``), so a killed worker leaves
the best model so far on disk without slowing down sub-second epochs.
"""

import math
import time
from collections.abc import Callable
from typing import Any


class BestKeeper:
    """Tracks the best epoch; hooks in Keras style (see ``tlcore.training.events.keras_callback``).

    Args:
        save: writes the model file from the weights now in ``model``.
        monitor: ``val_loss``; None keeps the last epoch (no validation split to judge by).
        patience: epochs without improvement before stopping (0 = never stop early).
        on_epoch: called with (epoch number, logs, improved) after each epoch.
        min_save_gap: seconds between two saves.
        min_delta: the smallest relative drop of ``monitor`` that counts as better (as in
            PyTorch's ``ReduceLROnPlateau``): a loss creeping down by 0.001% an epoch, as
            a network at chance does, must not hold off early stopping forever.
    """

    def __init__(
        self,
        save: Callable[[], None],
        monitor: str | None = "val_loss",
        patience: int = 3,
        on_epoch: Callable[[int, dict, bool], None] | None = None,
        min_save_gap: float = 5.0,
        min_delta: float = 1e-4,
    ) -> None:
        self.save = save
        self.monitor = monitor
        self.patience = patience
        self.on_epoch = on_epoch
        self.min_save_gap = min_save_gap
        self.min_delta = min_delta
        self.model: Any = None  # the model being fitted (set by Keras; gets stop_training)
        self.source: Any = None  # whose weights to keep, if not ``model`` (see below)
        self.params: dict[str, Any] = {}
        self.best = math.inf
        self.best_epoch: int | None = None
        self.best_logs: dict[str, float] = {}
        self.best_weights: list[Any] | None = None
        self.history: list[dict[str, Any]] = []
        self._dirty = False
        self._last_save = -math.inf
        self.wait = 0

    @property
    def _weights_model(self) -> Any:
        # On the fast path the fitted model is a part of the end-to-end model (sharing its
        # layers); keeping the whole model's weights keeps one format across phases.
        return self.source if self.source is not None else self.model

    def on_train_begin(self, logs: dict | None = None) -> None:
        """A new phase: the patience counter starts again, the best so far stays."""
        self.wait = 0

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        """Record the epoch; keep its weights if it is the best; stop when out of patience."""
        logs = {k: float(v) for k, v in (logs or {}).items() if _is_number(v)}
        if not math.isfinite(logs.get("loss", 0.0)):
            return  # an epoch cut short by a NaN loss is not an epoch to keep or count
        self.history.append({"epoch": epoch + 1, **logs})
        value = logs.get(self.monitor, math.nan) if self.monitor else math.nan
        improved = self.monitor is None or (math.isfinite(value) and value < self._threshold())
        if improved:
            self.best, self.best_epoch, self.best_logs = value, epoch + 1, logs
            self.best_weights = self._weights_model.get_weights()
            self.wait = 0
            self._dirty = True
        else:
            self.wait += 1
            if self.patience and self.wait >= self.patience:
                self.model.stop_training = True
        # The epoch is recorded before its model is written: whoever finds model.keras
        # (or kills the worker right after) also finds the epoch counted in status.json.
        if self.on_epoch is not None:
            self.on_epoch(epoch + 1, logs, improved)
        if self._dirty and time.monotonic() - self._last_save >= self.min_save_gap:
            self._save_best()

    def _threshold(self) -> float:
        """What the monitored value must beat to count as an improvement."""
        if not math.isfinite(self.best):
            return self.best
        return self.best - abs(self.best) * self.min_delta

    def _save_best(self) -> None:
        model = self._weights_model
        current = model.get_weights()
        model.set_weights(self.best_weights)
        try:
            self.save()
        finally:
            model.set_weights(current)
        self._dirty = False
        self._last_save = time.monotonic()

    def restore(self) -> bool:
        """Put the best weights back into the model; False when no epoch finished."""
        if self.best_weights is None:
            return False
        self._weights_model.set_weights(self.best_weights)
        return True

    def flush(self) -> None:
        """Write a pending improvement now."""
        if self._dirty and self.best_weights is not None:
            self._save_best()


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True
