"""What the steps of one run share: its config, data, model and keeper, as one ``Session``.

``tlcore.training.loop`` makes one per run (and one per fold model); the phases
(``tlcore.training.phase_fit``), the head solver's multi-layer path, the fold models and
the run's metrics read and update it.
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tlcore.config import TrainConfig
from tlcore.training.events import EventLog

Status = Callable[..., None]
"""``status(**fields)``: merge fields into the run's ``status.json``."""


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
