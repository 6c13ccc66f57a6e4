"""The phases of one run: what trains, for how many epochs, at which learning rate.

A plain run has one phase. A two-phase run first trains the head alone (the backbone
frozen), then fine-tunes with the config's freezing plan at the lower fine-tune rate.
"""

from dataclasses import dataclass

from tlcore.config import FreezeConfig, TrainConfig


@dataclass(frozen=True)
class Phase:
    """One phase: its name, the epoch it ends at, its learning rate and freezing plan."""

    name: str
    last_epoch: int
    learning_rate: float
    freeze: FreezeConfig


def plan_phases(config: TrainConfig) -> list[Phase]:
    """The phases ``config`` asks for, in order."""
    from tlcore.models.freezing import head_phase_freeze

    if config.two_phase:
        return [
            Phase(
                "head", config.head_epochs, config.learning_rate, head_phase_freeze(config.freeze)
            ),
            Phase("fine-tune", config.epochs, config.fine_tune_learning_rate, config.freeze),
        ]
    return [Phase("train", config.epochs, config.learning_rate, config.freeze)]
