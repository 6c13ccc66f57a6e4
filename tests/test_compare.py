"""Comparing strategies: same split and seed, one after another, one table."""

import json
from pathlib import Path

import pytest
from run_helpers import tiny_cli_args

from tlcore.cli import main
from tlcore.results.comparison import CONTRACT, group_report
from tlcore.runs import store

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
    for r in rows:  # every row: accuracy inside its 95% interval, on the test images
        low, high = r["interval"]
        assert 0.0 <= low <= r["accuracy"] <= high <= 1.0
        assert r["images"] == rows[0]["images"] > 0 and r["accuracy"] == r["test_accuracy"]
    assert isinstance(result["verdict"], str) and " vs " in result["verdict"]
    infos = [store.load_run(r["run_id"]) for r in rows]
    groups = {i.group for i in infos}
    assert len(groups) == 1 and None not in groups
    specs = [store.read_spec(i.run_id) for i in infos]
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
