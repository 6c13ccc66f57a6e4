"""Comparing strategies: same split and seed, one after another, one table."""

import json
from pathlib import Path

import pytest
from run_helpers import tiny_cli_args

from tlcore.cli import main
from tlcore.results.comparison import CONTRACT, group_report
from tlcore.runs import run_files, run_info

# Two epochs: with the head solved first (epoch 1), fine-tuning gets the second.
TINY = tiny_cli_args(epochs=2)


def test_compare_three_strategies_cli_json(
    tiny_dataset: Path, capsys: pytest.CaptureFixture
) -> None:
    code = main(
        [
            "compare",
            str(tiny_dataset),
            *TINY,
            "--strategies",
            "feature-extraction,fine-tune,full",
            "--json",
        ]
    )
    assert code == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    rows = result["runs"]
    assert [(r["strategy"], r["status"], r["epochs"]) for r in rows] == [
        ("feature-extraction", "finished", 1),  # the head solved: nothing else trains
        ("fine-tune", "finished", 2),
        ("full", "finished", 2),
    ]
    params = [r["trainable_params"] for r in rows]
    assert params[0] < params[1] < params[2]
    assert all(set(r) >= set(CONTRACT) | {"name", "epochs", "test_accuracy"} for r in rows)
    # 36 images are too few for a test split: every strategy is cross-validated over the
    # same 3 folds, each of the 36 images answered by a model that did not train on it.
    for r in rows:
        low, high = r["interval"]
        assert 0.0 <= low <= high <= 1.0 and r["accuracy"] == r["test_accuracy"]
        assert (r["images"], r["evaluation"]) == (36, "cross-validation")
    metrics = [run_files.read_metrics(r["run_id"]) for r in rows]
    assert [len(m["fold_accuracies"]) for m in metrics] == [3, 3, 3]
    assert "each fold model trained up to 2 epochs" in metrics[2]["evaluation"]
    configs = [run_info.load_run(r["run_id"]).config for r in rows]
    assert {(c.cv_folds, c.seed, c.split.test_fraction) for c in configs} == {(3, 42, 0.0)}
    assert isinstance(result["verdict"], str) and " vs " in result["verdict"]
    infos = [run_info.load_run(r["run_id"]) for r in rows]
    groups = {i.group for i in infos}
    assert len(groups) == 1 and None not in groups
    specs = [run_files.read_spec(i.run_id) for i in infos]
    assert all(s["split"] == specs[0]["split"] for s in specs)
    assert {i.config.seed for i in infos} == {42}
    assert group_report(groups.pop()) == result


def test_compare_text_table_and_unknown_strategy(
    tiny_dataset: Path, capsys: pytest.CaptureFixture
) -> None:
    assert main(["compare", str(tiny_dataset), *TINY, "--strategies", "feature-extraction"]) == 0
    out = capsys.readouterr().out
    assert "strategy" in out and "feature-extraction" in out
    assert "The head was solved exactly" in out
    assert main(["compare", str(tiny_dataset), *TINY, "--strategies", "frozen-ish"]) == 2
    assert "frozen-ish" in capsys.readouterr().err
