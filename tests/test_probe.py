"""The strategy probe: real Keras networks, real files; its last-layer score is what a
feature-extraction run then reports, and the run reuses the features it computed."""

import json
from pathlib import Path

import numpy as np
import pytest
from run_helpers import tiny_config

from tlcore import workspace
from tlcore.cli import main
from tlcore.config import SplitConfig
from tlcore.data.scan import scan
from tlcore.errors import ConfigError, DataError
from tlcore.models.backbone_models import build_backbone
from tlcore.models.freezing import layer_blocks
from tlcore.runs import run_files, store
from tlcore.training.probe import middle_layer, run_probe

LITE = {"backbone": "efficientnet_lite0", "weights": "imagenet", "image_size": 32}


def test_the_last_layer_score_is_what_the_feature_extraction_run_reports(
    tiny_dataset: Path,
) -> None:
    from tlcore.runs.job import train

    config = tiny_config(tiny_dataset, "feature-extraction", **LITE)
    events = []
    result = run_probe(config, scan(tiny_dataset), events.append)
    assert result.images == 36 and result.smallest_class == 12 and result.folds == 5
    assert result.middle is not None and result.middle.block.startswith("block")
    assert len(result.last.fold_accuracies) == 5
    assert {e["stage"] for e in events} >= {"decode", "features", "cross-validate"}
    cached = sorted(workspace.cache_dir("features").glob("*.npy"))
    assert len(cached) == 1  # the last layer's features, where a run will look

    run = config.replace(
        solve_head=True, cross_validate=True, cv_folds=5,
        split=SplitConfig(val_fraction=0.0, test_fraction=0.0),
    )  # fmt: skip
    info = train(run, store.create_run(run).path)
    assert info.status == "finished", info.error
    metrics = run_files.read_metrics(info.path)
    assert metrics["fold_accuracies"] == pytest.approx(list(result.last.fold_accuracies))
    assert sorted(workspace.cache_dir("features").glob("*.npy")) == cached  # reused
    # The multi-layer reading is what a run whose head reads several layers reports.
    assert result.multi is not None and result.multi.layer == "14 layers"
    multi = run.replace(head_features="multi")
    info = train(multi, store.create_run(multi).path)
    assert info.status == "finished", info.error
    metrics = run_files.read_metrics(info.path)
    assert metrics["head_solver"]["feature_set"]["features"] == "multi"
    assert metrics["fold_accuracies"] == pytest.approx(list(result.multi.fold_accuracies))


def test_the_middle_is_a_block_end_two_thirds_up() -> None:
    for key, size in (("efficientnet_lite0", 32), ("mobilenet_v2", 32), ("resnet50", 32)):
        backbone = build_backbone(key, size, "none")
        name = middle_layer(backbone)
        names = [layer.name for layer in backbone.layers]
        i = names.index(name)
        assert 0.5 <= i / len(names) <= 0.8, (key, name)
        blocks = layer_blocks(backbone)
        assert blocks[i] != blocks[i + 1], (key, name)  # the last layer of its block
        assert len(backbone.get_layer(name).output.shape) == 4
    assert middle_layer(build_backbone("efficientnet_lite0", 32, "none")) == "block5c_add"


def test_a_network_without_pretrained_weights_or_too_few_images_is_refused(
    tiny_dataset: Path, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match="nothing to measure"):
        run_probe(tiny_config(tiny_dataset, **{**LITE, "weights": "none"}), scan(tiny_dataset))
    few = tmp_path / "few"
    for name in ("a", "b"):
        (few / name).mkdir(parents=True)
    src = sorted((tiny_dataset / "red").iterdir())
    (few / "a" / src[0].name).write_bytes(src[0].read_bytes())
    for p in src[1:4]:
        (few / "b" / p.name).write_bytes(p.read_bytes())
    with pytest.raises(DataError) as info:
        run_probe(tiny_config(few, **LITE), scan(few))
    assert str(info.value) == (
        "The probe needs at least 2 images of each class, but 'a' has 1: add images to that "
        "class (or move it out of the dataset), then try again."
    )


def test_the_cli_prints_the_advice_and_json(
    tiny_dataset: Path, capsys: pytest.CaptureFixture
) -> None:
    args = ["advise", str(tiny_dataset), "--image-size", "32"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert out.startswith("Feature extraction: ") and "\nSuggested: " in out
    assert main([*args, "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["backbone"] == "efficientnet_lite0" and result["folds"] == 5
    assert result["advice"]["strategy"] in ("feature-extraction", "fine-tune", "full")
    assert np.isclose(result["chance"], 1 / 3)
    assert main(["advise", str(tiny_dataset), "--backbone", "small_cnn"]) == 2
    assert "nothing to measure" in capsys.readouterr().err


def test_a_big_dataset_is_probed_on_a_sample_that_keeps_each_class_share(
    tiny_dataset: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tlcore.training import probe
    from tlcore.training.strategy_advice import advise

    monkeypatch.setattr(probe, "MAX_IMAGES", 18)
    result = run_probe(tiny_config(tiny_dataset, **LITE), scan(tiny_dataset))
    assert (result.images, result.dataset_images, result.smallest_class) == (18, 36, 12)
    assert result.folds == 5  # 6 a class in the sample
    assert "(5-fold cross-validation on 18 of your 36 images;" in advise(result).lines[0]
    # A run trains on all 36: features of a sample would never be found, so none are kept.
    assert list(workspace.cache_dir("features").glob("*.npy")) == []
    report = scan(tiny_dataset)
    items = list(report.items)
    picked = probe.sample(items, ["blue", "green", "red"], 18, seed=1)
    assert [sum(i.label == c for i in picked) for c in ("blue", "green", "red")] == [6, 6, 6]
    assert picked == sorted(picked, key=items.index)  # the original order
    assert probe.sample(items, ["blue", "green", "red"], 100, seed=1) == items
