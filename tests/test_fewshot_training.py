"""Few-shot training: the solved head is the saved model's head, small sets are
cross-validated with the final model trained on every image, and the CLI's defaults
come from the data while explicit options win."""

import json
from pathlib import Path

import numpy as np
import pytest
from run_helpers import events_of, tiny_config

from tlcore.cli import main
from tlcore.config import SplitConfig
from tlcore.data.pipeline import load_arrays
from tlcore.models.model_files import load_model_safely
from tlcore.runs import run_files, run_info, store
from tlcore.training.head_solver import solve_head

SOLVED = {
    "strategy": "feature-extraction",
    "solve_head": True,
    "cross_validate": True,
    "cv_folds": 3,
}


def train_solved(data: Path) -> run_info.RunInfo:
    """A tiny run with the head solved and accuracy cross-validated over 3 folds."""
    from tlcore.runs.job import train

    config = tiny_config(data, **SOLVED).replace(
        split=SplitConfig(val_fraction=0.0, test_fraction=0.0)
    )
    info = store.create_run(config)
    return train(config, info.path)


def test_the_saved_model_is_the_solved_head_on_the_cached_features(tiny_dataset: Path) -> None:
    import keras

    info = train_solved(tiny_dataset)
    assert info.status == "finished", info.error
    split = run_files.read_split(info.path)
    images, labels = load_arrays(list(split.train), list(split.classes), 32, "pad")
    model = load_model_safely(info.path / "model.keras")
    pooled = keras.Model(model.inputs, model.get_layer("pool").output)
    feats = pooled.predict(np.asarray(images), verbose=0)
    fit = solve_head(feats, np.asarray(labels), 3, seed=42)  # the same solve, again
    saved = model.predict(np.asarray(images), verbose=0)
    np.testing.assert_allclose(saved, fit.predict_proba(feats), atol=1e-5)
    kernel, _bias = model.get_layer("predictions").get_weights()
    np.testing.assert_allclose(kernel, fit.kernel, atol=1e-5)
    head = [e for e in events_of(info) if e["type"] == "head"]
    assert len(head) == 1 and head[0]["C"] == fit.C and "solved" in head[0]["message"]


def test_a_tiny_set_is_cross_validated_and_the_final_model_sees_every_image(
    tiny_dataset: Path,
) -> None:
    info = train_solved(tiny_dataset)
    metrics = run_files.read_metrics(info.path)
    split = run_files.read_split(info.path)
    assert len(split.train) == 36 and not split.val and not split.test  # every image trains
    assert metrics["split"] == "cross-validation" and metrics["folds"] == 3
    assert len(metrics["fold_accuracies"]) == 3
    assert metrics["accuracy"] == pytest.approx(np.mean(metrics["fold_accuracies"]))
    assert np.asarray(metrics["confusion_matrix"]).sum() == 36  # out-of-fold, each once
    assert metrics["evaluation"].startswith("Accuracy is cross-validated (3 folds)")
    assert metrics["test_accuracy"] == metrics["accuracy"]
    folds = [e["fold"] for e in events_of(info) if e["type"] == "crossval"]
    assert folds == [1, 2, 3]
    from ui import run_status

    listed = run_info.load_run(info.run_id)
    assert listed.evaluation == "cross-validation"
    assert run_status.outcome(listed).endswith(" cross-validated accuracy")


def _cli(args: list[str], capsys: pytest.CaptureFixture) -> tuple[dict, str]:
    assert main(args) == 0
    out = capsys.readouterr().out.strip().splitlines()
    return json.loads(out[-1]), "\n".join(out[:-1])


def test_cli_defaults_come_from_the_data_and_explicit_options_win(
    tiny_dataset: Path, capsys: pytest.CaptureFixture
) -> None:
    small = ["train", str(tiny_dataset), "--backbone", "small_cnn", "--weights", "none",
             "--image-size", "32"]  # fmt: skip
    row, _ = _cli([*small, "--json"], capsys)
    assert row["evaluation"] == "cross-validation" and row["cv_accuracy"] is not None
    spec = run_files.read_spec(row["path"])
    assert spec["config"]["solve_head"] and spec["config"]["cross_validate"]
    assert spec["defaults"]["reasons"]["cross_validate"].startswith("The smallest class has 12")
    assert main([*small]) == 0  # without --json: the reasons, then the sentence
    out = capsys.readouterr().out
    assert "No epochs: the head is solved exactly on the cached features." in out
    assert "Accuracy is cross-validated (5 folds)" in out
    row, _ = _cli([*small, "--val-split", "0.2", "--test-split", "0.25", "--json"], capsys)
    config = run_files.read_spec(row["path"])["config"]
    assert row["evaluation"] == "test" and not config["cross_validate"]
    assert config["split"]["test_fraction"] == 0.25 and config["split"]["val_fraction"] == 0.2
    row, _ = _cli([*small, "--no-auto", "--json"], capsys)
    config = run_files.read_spec(row["path"])["config"]
    assert not config["solve_head"] and config["epochs"] == 10  # the fixed defaults
