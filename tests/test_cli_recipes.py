"""``train DATA --recipe NAME`` and ``python -m tlcore recipes``: a recipe run stores the
recipe; a typed option leaves it, and says so; unknown names and missing weights exit 2."""

import argparse
import json
from pathlib import Path

import pytest

from tlcore import workspace
from tlcore.cli import main
from tlcore.cli.recipe_args import recipe_config
from tlcore.config import TrainConfig
from tlcore.models.weights import cached_weights_path, imagenet_source
from tlcore.runs import run_info
from tlcore.training.recipes import OFFLINE_RECIPES, RECIPES, get_recipe

OFFLINE = "xception_feature_extraction_lite0"  # weights come with TransferLab; 20 cheap epochs


def _spec(run_id: str) -> dict:
    return json.loads((run_info.load_run(run_id).path / "spec.json").read_text())


@pytest.mark.slow
def test_a_recipe_run_stores_exactly_the_recipe(
    tiny_dataset: Path, capsys: pytest.CaptureFixture
) -> None:
    assert main(["train", str(tiny_dataset), "--recipe", OFFLINE, "--json"]) == 0
    got = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (got["status"], got["recipe"], got["changed_from_recipe"]) == ("finished", OFFLINE, [])
    spec = _spec(got["run_id"])
    assert spec["config"]["recipe"] == OFFLINE
    # Every setting is the recipe's: none of the CLI's own defaults (adam, dropout 0.2,
    # padding, early stopping, settings chosen from the data) crept in.
    assert TrainConfig.from_dict(spec["config"]) == get_recipe(OFFLINE).config(str(tiny_dataset))
    assert got["epochs_run"] == 20


def test_a_typed_option_leaves_the_recipe_and_says_what_changed(
    tiny_dataset: Path, capsys: pytest.CaptureFixture
) -> None:
    recipe = get_recipe("small_cnn_scratch")
    args = ["--image-size", "32", "--epochs", "1", "--batch-size", "8"]
    # --dropout 0.2 is the CLI's default, but typed it changes the recipe's 0.5;
    # --optimizer rmsprop is the recipe's own value: typed, it changes nothing.
    args += ["--dropout", "0.2", "--optimizer", "rmsprop"]
    assert main(["train", str(tiny_dataset), "--recipe", recipe.key, *args]) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith("No longer the recipe"))
    assert line == (
        "No longer the recipe “Small CNN from scratch” (small_cnn_scratch): you changed "
        "image size (--image-size), epochs (--epochs), batch size (--batch-size), "
        "dropout (--dropout); the run trains with your settings and its spec.json names "
        "no recipe."
    )
    (info,) = run_info.list_runs()
    spec = _spec(info.run_id)
    assert spec["config"]["recipe"] == ""
    expected = recipe.config(str(tiny_dataset)).replace(
        image_size=32, epochs=1, batch_size=8, dropout=0.2, recipe=""
    )
    assert TrainConfig.from_dict(spec["config"]) == expected
    assert info.status == "finished" and info.epochs_run == 1


def test_an_unknown_recipe_exits_2_naming_the_valid_ones(
    tiny_dataset: Path, capsys: pytest.CaptureFixture
) -> None:
    assert main(["train", str(tiny_dataset), "--recipe", "resnet_magic"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: Unknown recipe 'resnet_magic'. Choose one of: ")
    assert len(err.splitlines()) == 1 and all(k in err for k in [*RECIPES, *OFFLINE_RECIPES])
    assert not workspace.runs_dir().exists() or not any(workspace.runs_dir().iterdir())


def test_a_recipe_whose_weights_are_missing_names_its_offline_twin(
    tiny_dataset: Path, capsys: pytest.CaptureFixture
) -> None:
    """Offline, nothing hangs on a download: one sentence, exit 2, no run folder."""
    assert main(["train", str(tiny_dataset), "--recipe", "xception_feature_extraction"]) == 2
    captured = capsys.readouterr()
    assert captured.err.strip() == (
        "error: The ImageNet weights of Xception are not on this computer and would need a "
        "download: use --recipe xception_feature_extraction_lite0, the same recipe on "
        "EfficientNet-Lite0, whose weights come with TransferLab."
    )
    assert not workspace.runs_dir().exists() or not any(workspace.runs_dir().iterdir())


def test_with_the_weights_on_this_computer_the_recipe_is_used(tiny_dataset: Path) -> None:
    """The weights file in the workspace's cache (downloaded before): no refusal."""
    path = cached_weights_path(imagenet_source("xception", 150).filename)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"weights")
    args = argparse.Namespace(recipe="xception_feature_extraction", typed=frozenset())
    config = recipe_config(args, TrainConfig(data=str(tiny_dataset)))
    assert config == get_recipe("xception_feature_extraction").config(str(tiny_dataset))


def test_recipes_lists_every_name_with_its_description(capsys: pytest.CaptureFixture) -> None:
    assert main(["recipes"]) == 0
    lines = capsys.readouterr().out.splitlines()
    for recipe in (*RECIPES.values(), *OFFLINE_RECIPES.values()):
        (row,) = [x for x in lines if x.split(" ")[0] == recipe.key]
        assert row.rstrip().endswith(recipe.display_name)
    assert "download first" in next(x for x in lines if x.startswith("xception_two_phase "))
    assert main(["recipes", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["recipes"]
    assert [r["name"] for r in rows] == [*RECIPES, *OFFLINE_RECIPES]
    by_name = {r["name"]: r for r in rows}
    assert by_name[OFFLINE]["needs_download"] is False
    assert by_name["xception_two_phase"]["needs_download"] is True


def test_every_train_option_changes_a_recipe_or_is_not_a_setting() -> None:
    """A new train option must be mapped, or --recipe would silently ignore it when typed."""
    from tlcore.cli import build_parser
    from tlcore.cli.recipe_args import OPTION_FIELDS

    train = build_parser()._subparsers._group_actions[0].choices["train"]
    dests = {a.dest for a in train._actions} - {"help", "data", "spec", "recipe", "json"}
    assert dests == set(OPTION_FIELDS)
    for fields in OPTION_FIELDS.values():
        config = TrainConfig(data="x")
        for name in fields:  # each names a real TrainConfig field (or a nested one)
            head, _, field = name.partition(".")
            assert hasattr(getattr(config, head), field) if field else hasattr(config, head)
