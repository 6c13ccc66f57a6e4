"""Comparing strategies: same split and seed, one after another, one table."""

import json
from pathlib import Path

import pytest
from run_helpers import tiny_cli_args

from tlcore.cli import main
from tlcore.runs import store
from tlcore.runs.compare import comparison_rows

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
    rows = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert [(r["strategy"], r["status"], r["epochs"]) for r in rows] == [
        ("feature-extraction", "finished", 1),  # the head solved: nothing else trains
        ("fine-tune", "finished", 2),
        ("full", "finished", 2),
    ]
    params = [r["trainable_params"] for r in rows]
    assert params[0] < params[1] < params[2]
    assert all(
        set(r)
        >= {
            "strategy",
            "name",
            "run_id",
            "trainable_params",
            "epochs",
            "best_val_accuracy",
            "test_accuracy",
            "seconds",
        }
        for r in rows
    )
    infos = [store.load_run(r["run_id"]) for r in rows]
    groups = {i.group for i in infos}
    assert len(groups) == 1 and None not in groups
    specs = [store.read_spec(i.run_id) for i in infos]
    assert all(s["split"] == specs[0]["split"] for s in specs)
    assert {i.config.seed for i in infos} == {42}
    assert comparison_rows(groups.pop()) == rows


def test_compare_text_table_and_unknown_strategy(
    tiny_dataset: Path, capsys: pytest.CaptureFixture
) -> None:
    assert main(["compare", str(tiny_dataset), *TINY, "--strategies", "feature-extraction"]) == 0
    out = capsys.readouterr().out
    assert "strategy" in out and "feature-extraction" in out
    assert "The head was solved exactly" in out
    assert main(["compare", str(tiny_dataset), *TINY, "--strategies", "frozen-ish"]) == 2
    assert "frozen-ish" in capsys.readouterr().err
