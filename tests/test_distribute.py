"""Training under tf.distribute: the default strategy here, MirroredStrategy on 2 CPUs."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tlcore.runs import run_files
from tlcore.training import distribute

ROOT = Path(__file__).resolve().parent.parent


def test_one_device_uses_the_default_strategy() -> None:
    strategy = distribute.choose_strategy()
    assert distribute.describe(strategy) == {"name": "_DefaultDistributionStrategy", "replicas": 1}


# A head alone on random features needs more (cheap, cached-feature) steps than a full run.
# The solved head (the default for feature extraction) is one "epoch".
@pytest.mark.parametrize(
    ("strategy", "fast_path", "epochs", "lr", "head", "epochs_run"),
    [
        ("full", None, 2, "0.001", "solve", 2),
        ("feature-extraction", "pool", 10, "0.01", "gradient", 10),
        ("feature-extraction", "pool", 10, "0.01", "solve", 1),
    ],
)
def test_a_run_trains_with_mirrored_strategy_over_two_logical_cpus(
    tiny_dataset: Path,
    workspace: Path,
    strategy: str,
    fast_path: str | None,
    epochs: int,
    lr: str,
    head: str,
    epochs_run: int,
) -> None:
    # Logical devices must be configured before TensorFlow starts: a fresh process.
    env = {**os.environ, distribute.CPU_DEVICES_ENV: "2", distribute.STRATEGY_ENV: "mirrored"}
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "tlcore",
            "train",
            str(tiny_dataset),
            "--backbone",
            "small_cnn",
            "--weights",
            "none",
            "--image-size",
            "32",
            "--strategy",
            strategy,
            "--epochs",
            str(epochs),
            "--lr",
            lr,
            "--patience",
            "0",
            "--batch-size",
            "8",
            "--head",
            head,
            "--json",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert (result["status"], result["epochs_run"]) == ("finished", epochs_run)
    events = run_files.read_events(result["run_id"])[0]
    phase = [e for e in events if e["type"] == "phase"][-1]  # after a solved head, if any
    assert phase["strategy"] == {"name": "MirroredStrategy", "replicas": 2}
    assert phase["fast_path"] == fast_path  # feature extraction trains the head on features
    assert result["test_accuracy"] == 1.0
