"""Learning-rate schedule: linear warm-up, then cosine decay.

``warmup_cosine`` is the plain function; ``WarmupCosine`` its JSON-serialisable spec; and
``warmup_cosine_callback`` a Keras callback that sets the optimizer's learning rate before
every batch. A callback rather than a ``LearningRateSchedule`` object on purpose: the
saved ``model.keras`` then holds a plain float learning rate and loads anywhere (predict,
export, another process) without a custom class being registered first.
"""

import math
from dataclasses import asdict, dataclass
from typing import Any


def warmup_cosine(
    step: int, total_steps: int, warmup_steps: int, base_lr: float, final_lr: float = 0.0
) -> float:
    """Learning rate at optimizer step ``step`` (0-based).

    Rises linearly to ``base_lr`` over ``warmup_steps`` (the first step already at
    ``base_lr / warmup_steps``, never 0), then follows half a cosine down to ``final_lr``
    at ``total_steps``; stays at ``final_lr`` after that.
    """
    if step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    decay_steps = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / decay_steps)
    return final_lr + 0.5 * (base_lr - final_lr) * (1.0 + math.cos(math.pi * progress))


@dataclass(frozen=True)
class WarmupCosine:
    """A warm-up + cosine schedule over one training phase, in optimizer steps."""

    base_lr: float
    total_steps: int
    warmup_steps: int = 0
    final_lr: float = 0.0

    @classmethod
    def for_phase(
        cls, base_lr: float, epochs: int, steps_per_epoch: int, warmup_epochs: int = 0
    ) -> "WarmupCosine":
        """The schedule of a phase of ``epochs`` epochs of ``steps_per_epoch`` batches."""
        return cls(base_lr, epochs * steps_per_epoch, warmup_epochs * steps_per_epoch)

    def __call__(self, step: int) -> float:
        """Learning rate at ``step``."""
        return warmup_cosine(step, self.total_steps, self.warmup_steps, self.base_lr, self.final_lr)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "WarmupCosine":
        """Rebuild from ``to_dict`` output."""
        return cls(**d)


def warmup_cosine_callback(schedule: WarmupCosine) -> Any:
    """A ``keras.callbacks.Callback`` setting the learning rate of ``schedule`` per batch.

    The step is the optimizer's own update count, so the schedule continues correctly
    across ``fit(initial_epoch=...)`` calls with the same optimizer and restarts with a
    fresh one (each phase compiles its own).
    """
    import keras

    class _WarmupCosineCallback(keras.callbacks.Callback):
        def __init__(self, spec: WarmupCosine) -> None:
            super().__init__()
            self.spec = spec

        def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
            optimizer = self.model.optimizer
            # iterations is a MirroredVariable under tf.distribute: read it as a number
            step = int(keras.ops.convert_to_numpy(optimizer.iterations))
            optimizer.learning_rate = self.spec(step)

        def get_config(self) -> dict[str, Any]:
            return self.spec.to_dict()

    return _WarmupCosineCallback(schedule)
