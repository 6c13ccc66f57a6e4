"""Which ``tf.distribute`` strategy a run trains under.

The default strategy on a CPU or a single GPU (no copying overhead), ``MirroredStrategy``
over every GPU when there are several. Two environment variables exist for tests and
for people who want to force a choice:

- ``TRANSFERLAB_CPU_DEVICES=N`` splits the CPU into N logical devices. TensorFlow only
  allows this before its runtime initialises, so ``setup_devices()`` must run first thing
  in a fresh process (the worker calls it before building anything).
- ``TRANSFERLAB_STRATEGY=default|mirrored`` overrides the automatic choice; ``mirrored``
  on a machine without GPUs mirrors over the logical CPU devices.
"""

import contextlib
import os
from typing import Any

CPU_DEVICES_ENV = "TRANSFERLAB_CPU_DEVICES"
STRATEGY_ENV = "TRANSFERLAB_STRATEGY"


def setup_devices() -> None:
    """Apply ``TRANSFERLAB_CPU_DEVICES`` (no-op when unset or too late to change)."""
    n = int(os.environ.get(CPU_DEVICES_ENV) or 0)
    if n < 2:
        return
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    # RuntimeError: the runtime is already initialised; keep what it has.
    with contextlib.suppress(RuntimeError):
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(n)]
        )


def choose_strategy(kind: str | None = None) -> Any:
    """Return the strategy to train under.

    Args:
        kind: ``default`` | ``mirrored`` | None (automatic, or ``TRANSFERLAB_STRATEGY``).
    """
    import tensorflow as tf

    kind = kind or os.environ.get(STRATEGY_ENV) or "auto"
    gpus = tf.config.list_logical_devices("GPU")
    if kind == "default" or (kind == "auto" and len(gpus) < 2):
        return tf.distribute.get_strategy()
    if gpus:
        return tf.distribute.MirroredStrategy([d.name for d in gpus])
    cpus = tf.config.list_logical_devices("CPU")
    return tf.distribute.MirroredStrategy([d.name for d in cpus])


def describe(strategy: Any) -> dict[str, Any]:
    """Return ``{"name", "replicas"}`` for events and logs."""
    return {
        "name": type(strategy).__name__,
        "replicas": int(getattr(strategy, "num_replicas_in_sync", 1)),
    }
