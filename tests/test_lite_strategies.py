"""The default network, EfficientNet-Lite0 with its installed ImageNet weights, through
every way a person uses it: each strategy side by side in Compare, a custom layer
selection, two phases, and a Lite run as "one of my models" (trained on and probed)."""

import json
from pathlib import Path

import pytest
from run_helpers import tiny_config

from tlcore.cli import main
from tlcore.config import FreezeConfig
from tlcore.runs import run_files, run_info, store

pytestmark = pytest.mark.slow
LITE = ["--backbone", "efficientnet_lite0", "--image-size", "32", "--batch-size", "8"]


def _json(capsys: pytest.CaptureFixture) -> object:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_every_strategy_side_by_side(tiny_dataset: Path, capsys: pytest.CaptureFixture) -> None:
    strategies = "feature-extraction,fine-tune,full,scratch"
    # A budget far above what 2 epochs take: compare's default (180 s a strategy) cut the
    # scratch run short on a loaded machine, and the budget is test_budget's subject.
    args = ["compare", str(tiny_dataset), *LITE, "--epochs", "2", "--strategies", strategies]
    args += ["--budget", "3600"]
    assert main([*args, "--json"]) == 0
    by_strategy = {r["strategy"]: r for r in _json(capsys)["runs"]}  # sorted by the verdict
    rows = [by_strategy[s] for s in strategies.split(",")]
    assert [r["status"] for r in rows] == ["finished"] * 4
    params = [r["trainable_params"] for r in rows]
    assert params[0] < params[1] < params[2] <= params[3]
    infos = [run_info.load_run(r["run_id"]) for r in rows]
    from tlcore.models.classifier import effective_weights

    # From scratch means random weights, whatever the network's weights choice says.
    assert [effective_weights(i.config) for i in infos] == ["imagenet"] * 3 + ["none"]
    assert len({json.dumps(run_files.read_spec(i.run_id)["split"]) for i in infos}) == 1


def test_a_custom_selection_and_two_phases_train(tiny_dataset: Path) -> None:
    from tlcore.runs.job import train

    custom = tiny_config(
        tiny_dataset,
        backbone="efficientnet_lite0", weights="imagenet",
        freeze=FreezeConfig(strategy="custom", frozen_layers=("stem_conv", "block1a_dwconv")),
    )  # fmt: skip
    two_phase = tiny_config(
        tiny_dataset, "fine-tune", backbone="efficientnet_lite0", weights="imagenet",
        two_phase=True, head_epochs=1, epochs=2,
    )  # fmt: skip
    for config in (custom, two_phase):
        info = train(config, store.create_run(config).path)
        assert info.status == "finished", info.error
        assert (info.path / "model.keras").is_file()
    phases = [e["phase"] for e in run_files.read_events(info.run_id)[0] if e["type"] == "phase"]
    assert phases[:2] == ["head", "fine-tune"]


def test_a_lite_run_as_one_of_my_models(tiny_dataset: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["train", str(tiny_dataset), *LITE, "--json"]) == 0
    first = _json(capsys)
    assert first["status"] == "finished"
    mine = ["--backbone", "my_model", "--weights", f"run:{first['run_id']}"]
    assert main(["train", str(tiny_dataset), *mine, "--json"]) == 0
    second = _json(capsys)
    # The head reads the last layer (1,280 features) or, by default when cross-validation
    # does not prefer it, the 14 layers tlcore.training.multilayer taps (8,016).
    assert second["status"] == "finished"
    assert second["trainable_params"] in (3 * 1280 + 3, 3 * 8016 + 3)
    assert main(["advise", str(tiny_dataset), *mine, "--json"]) == 0
    probe = _json(capsys)
    assert probe["backbone"] == "my_model" and probe["middle"]["block"].startswith("block")
