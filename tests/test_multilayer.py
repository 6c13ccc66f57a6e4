"""Multi-layer features: which layers are tapped, and a run whose solved head reads them
is still one end-to-end model: it predicts what the solved head predicts on the cached
features, reloads safely, exports to TFLite with parity, explains with Grad-CAM, and
serves as 'one of my models'."""

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import write_class_images
from run_helpers import events_of, tiny_config

from tlcore.config import SplitConfig
from tlcore.data.pipeline import load_arrays
from tlcore.errors import ConfigError
from tlcore.models.model_files import load_model_safely
from tlcore.runs import run_files, run_info, store
from tlcore.training import multilayer
from tlcore.training.head_choice import CandidateScore, pick, reason
from tlcore.training.head_solver import solve_head

SOLVED = {"strategy": "feature-extraction", "solve_head": True}


def train_multi(data: Path, head_features: str = "multi", **changes) -> run_info.RunInfo:
    """A tiny solved-head run (small CNN, 32 px, random weights) reading several layers."""
    from tlcore.runs.job import train

    config = tiny_config(data, **SOLVED, head_features=head_features, **changes)
    info = store.create_run(config)
    return train(config, info.path)


def test_tapped_layers_are_stage_ends_and_the_widest_of_the_last_blocks() -> None:
    from tlcore.models.backbone_models import build_backbone

    lite = build_backbone("efficientnet_lite0", 64, "none")
    taps = multilayer.tap_layers(lite)
    assert taps == [
        "block1a_project_bn", "block2b_add", "block3b_add", "block4c_add",
        "block5c_dwconv_relu", "block5c_add", "block6a_dwconv_relu", "block6b_dwconv_relu",
        "block6c_dwconv_relu", "block6d_dwconv_relu", "block6d_add", "block7a_dwconv_relu",
        "block7a_project_bn",
    ]  # fmt: skip
    cnn = build_backbone("small_cnn", 32, "none")
    # Each block of the small CNN changes the shape: every block end is a stage end.
    assert multilayer.tap_layers(cnn) == ["block1_pool", "block2_pool", "block3_pool"]


def test_group_scaling_gives_each_layer_unit_rms_spread() -> None:
    rng = np.random.default_rng(0)
    x = np.hstack([rng.normal(5, 100, (50, 3)), rng.normal(-1, 0.01, (50, 7))])
    mean, scale = multilayer.group_scaling(x, [3, 7])
    z = (x - mean) / scale
    np.testing.assert_allclose(z.mean(axis=0), 0, atol=1e-9)
    np.testing.assert_allclose(np.sqrt(z[:, :3].var(axis=0).mean()), 1.0)
    np.testing.assert_allclose(np.sqrt(z[:, 3:].var(axis=0).mean()), 1.0)


def test_a_multi_layer_run_is_one_model_that_predicts_what_was_solved(
    tiny_dataset: Path,
) -> None:
    from tlcore.results.gradcam import gradcam

    info = train_multi(tiny_dataset)
    assert info.status == "finished", info.error
    model = load_model_safely(info.path / "model.keras")
    assert [layer.name for layer in model.layers] == [
        "image", "preprocess", "backbone", "pool", "dropout", "predictions",
    ]  # fmt: skip
    assert len(model.get_layer("backbone").outputs) == 4  # the last map and 3 stage ends
    head = next(e for e in events_of(info) if e["type"] == "head")
    assert head["feature_set"]["features"] == "multi"
    assert head["feature_set"]["layers"] == [
        "block4_relu", "block1_pool", "block2_pool", "block3_pool",
    ]  # fmt: skip
    # The saved model on pixels == the head solved on the group-scaled pooled features.
    split = run_files.read_split(info.path)
    images, labels = load_arrays(list(split.train), list(split.classes), 32, "pad")
    images = np.asarray(images, dtype=np.float32)
    pooled = images
    for name in ("preprocess", "backbone", "pool"):  # the top-level layers form a chain
        pooled = model.get_layer(name)(pooled, training=False)
    pooled = np.asarray(pooled)
    fit = solve_head(pooled, np.asarray(labels), 3, seed=42)  # the same solve, again
    saved = model.predict(images, verbose=0)
    np.testing.assert_allclose(saved, fit.predict_proba(pooled), atol=1e-4)
    kernel, _bias = model.get_layer("predictions").get_weights()
    assert kernel.shape == (128 + 32 + 64 + 128, 3)
    np.testing.assert_allclose(kernel, fit.kernel, atol=1e-3)
    # The pooled features are the group-scaled ones: each layer centred, unit RMS spread.
    np.testing.assert_allclose(pooled.mean(axis=0), 0, atol=1e-3)
    metrics = json.loads((info.path / "metrics.json").read_text())
    assert metrics["head_solver"]["feature_set"]["features"] == "multi"
    assert metrics["trainable_params"] == 352 * 3 + 3  # the wider Dense, nothing else
    assert run_files.read_status(info.path)["trainable_params"] == 352 * 3 + 3
    heat = gradcam(model, images[0].astype(np.uint8))
    assert heat.shape == (32, 32) and heat.min() >= 0.0 and heat.max() <= 1.0


def test_a_multi_layer_run_exports_to_tflite_with_parity(tiny_dataset: Path) -> None:
    from tlcore.results.export import export_run

    info = train_multi(tiny_dataset, split=SplitConfig(val_fraction=0.0, test_fraction=0.25))
    assert info.status == "finished", info.error
    result = export_run(info.path, "tflite")
    assert result.n_images == 9 and result.agreement == 1.0
    # The run scored its test images through the cached features; the saved model agrees.
    split = run_files.read_split(info.path)
    images, _ = load_arrays(list(split.test), list(split.classes), 32, "pad")
    probs = load_model_safely(info.path / "model.keras").predict(np.asarray(images), verbose=0)
    scored = json.loads((info.path / "predictions.json").read_text())
    assert scored["split"] == "test" and len(scored["images"]) == 9
    for p, row in zip(probs, scored["images"], strict=True):
        assert row["predicted"] == split.classes[int(p.argmax())]
        assert row["probability"] == pytest.approx(float(p.max()), abs=2e-4)


def test_a_multi_layer_run_is_one_of_my_models(tiny_dataset: Path, tmp_path: Path) -> None:
    first = train_multi(tiny_dataset)
    assert first.status == "finished", first.error
    data = write_class_images(tmp_path / "again", per_class=6, seed=3)
    from tlcore.runs.job import train

    config = tiny_config(
        data, "feature-extraction", backbone="my_model", weights=f"run:{first.run_id}",
        solve_head=True,
    )  # fmt: skip
    info = store.create_run(config)
    second = train(config, info.path)
    assert second.status == "finished", second.error
    backbone = load_model_safely(second.path / "model.keras").get_layer("backbone")
    assert len(backbone.outputs) == 1 and backbone.output.shape[-1] == 128


def test_auto_records_the_cross_validated_choice_with_its_reason(tiny_dataset: Path) -> None:
    info = train_multi(
        tiny_dataset, "auto", cross_validate=True, cv_folds=3,
        split=SplitConfig(val_fraction=0.0, test_fraction=0.0),
    )  # fmt: skip
    assert info.status == "finished", info.error
    metrics = json.loads((info.path / "metrics.json").read_text())
    choice = metrics["head_solver"]["feature_set"]
    scores = {s["features"]: s for s in choice["scores"]}
    assert set(scores) == {"last", "multi"} and scores["multi"]["layers"] == 4
    assert choice["features"] in scores
    assert choice["reason"] in metrics["head_solver"]["message"]
    # The reported accuracy is the chosen candidate's own cross-validated score.
    assert metrics["accuracy"] == pytest.approx(scores[choice["features"]]["accuracy"])


def test_unknown_head_features_is_one_clear_error(tiny_dataset: Path) -> None:
    with pytest.raises(ConfigError, match="Head features must be one of last, multi, auto"):
        tiny_config(tiny_dataset, head_features="all").validate()


def candidate(name: str, folds: list[float]) -> CandidateScore:
    acc = float(np.mean(folds))
    return CandidateScore(name, 1, 10, acc, float(np.std(folds)), 1.0, tuple(folds))


def test_multi_layer_features_are_kept_unless_the_last_layer_is_clearly_better() -> None:
    multi = candidate("multi", [0.5, 0.5, 0.6, 0.4, 0.5])
    tie = candidate("last", [0.5, 0.5, 0.6, 0.4, 0.5])
    luck = candidate("last", [0.7, 0.4, 0.6, 0.4, 0.6])  # +0.04 on average, noisy
    clear = candidate("last", [0.6, 0.6, 0.7, 0.5, 0.6])  # +0.1 on every fold
    assert pick([multi, tie]) is multi
    assert pick([multi, luck]) is multi and luck.accuracy > multi.accuracy
    assert pick([multi, clear]) is clear
    assert reason(clear, [multi, clear]).startswith("Features from the last layer alone:")
    assert "did not beat them by more than the folds' luck" in reason(multi, [multi, luck])
