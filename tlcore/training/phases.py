"""The phases of one run: what trains, for how many epochs, at which learning rate.

A plain run has one phase. A two-phase run first trains the head alone (the backbone
frozen), then fine-tunes with the config's freezing plan at the lower fine-tune rate.
With ``solve_head`` the head phase is solved exactly on cached features (epoch 1), and
a fine-tuning strategy then trains up to ``epochs`` in all at the fine-tune rate.
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
    solve: bool = False
    optimizer: str = "adam"


def plan_phases(config: TrainConfig) -> list[Phase]:
    """The phases ``config`` asks for, in order."""
    from tlcore.models.freezing import get_strategy, head_phase_freeze

    strategy = get_strategy(config.freeze.strategy)
    first, second = config.optimizer, config.fine_tune_optimizer or config.optimizer
    if config.solve_head and not config.augment.enabled and not strategy.forces_random_weights:
        head = Phase("head", 1, config.learning_rate, head_phase_freeze(config.freeze), True, first)
        if config.freeze.strategy == "feature-extraction" or config.epochs < 2:
            return [head]
        # The solved head is epoch 1; fine-tuning takes the run to ``epochs`` in all.
        fine_tune = Phase(
            "fine-tune", config.epochs, config.fine_tune_learning_rate, config.freeze, False, second
        )
        return [head, fine_tune]
    if config.two_phase:
        return [
            Phase(
                "head",
                config.head_epochs,
                config.learning_rate,
                head_phase_freeze(config.freeze),
                False,
                first,
            ),
            Phase(
                "fine-tune",
                config.epochs,
                config.fine_tune_learning_rate,
                config.freeze,
                False,
                second,
            ),
        ]
    return [Phase("train", config.epochs, config.learning_rate, config.freeze, False, first)]
