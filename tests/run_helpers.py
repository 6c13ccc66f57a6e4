"""Shared helpers for the training tests: tiny configs, in-process runs, waiting."""

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tlcore.config import FreezeConfig, TrainConfig
from tlcore.runs import run_files, run_info, store

RUN_FILES = {
    "spec.json",
    "status.json",
    "events.jsonl",
    "metrics.json",
    "predictions.json",
    "model.keras",
    "labels.txt",
    "labels.json",
}


def tiny_cli_args(epochs: int = 2) -> list[str]:
    """The CLI options of a tiny run: small_cnn at 32 px, random weights, batch 8."""
    return [
        "--backbone", "small_cnn", "--weights", "none", "--image-size", "32",
        "--epochs", str(epochs), "--batch-size", "8",
    ]  # fmt: skip


def tiny_config(data: Path, strategy: str = "full", **changes: Any) -> TrainConfig:
    """small_cnn at 32 px, random weights, 2 epochs, no early stopping."""
    base = TrainConfig(
        data=str(data),
        backbone="small_cnn",
        weights="none",
        image_size=32,
        epochs=2,
        batch_size=8,
        early_stopping_patience=0,
        freeze=FreezeConfig(strategy=strategy),
    )
    return base.replace(**changes)


def train_tiny(
    data: Path, strategy: str = "full", fast_path: bool = True, split: Any = None, **changes: Any
) -> run_info.RunInfo:
    """Create and train a tiny run in this process; return its final info."""
    from tlcore.runs.job import train

    config = tiny_config(data, strategy, **changes)
    info = store.create_run(config, split=split)
    return train(config, info.path, split=split, fast_path=fast_path)


def events_of(info: run_info.RunInfo) -> list[dict]:
    """All events of a run."""
    return run_files.read_events(info.path)[0]


def wait_for(predicate: Callable[[], Any], timeout: float = 120.0, every: float = 0.2) -> Any:
    """Poll until ``predicate()`` is truthy; fail after ``timeout`` seconds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {predicate}")
