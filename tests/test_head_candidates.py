"""The solved head's candidates beyond the linear probe (issue 20, items 3 and 4): a
nearest-class-mean head on centred, length-normalised features for tiny sets, and
features averaged with the mirror image's, each cross-validated beside the multi-layer
and last-layer logistic heads; and the saved model computes what the chosen one solved."""

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import write_class_images
from run_helpers import tiny_config

from tlcore.config import SplitConfig
from tlcore.data.pipeline import load_arrays
from tlcore.models.model_files import load_model_safely
from tlcore.runs import run_files, run_info, store
from tlcore.training import head_candidates, nearest_mean
from tlcore.training.head_choice import CandidateScore, reason

AUTO = {
    "strategy": "feature-extraction", "solve_head": True, "head_features": "auto",
    "cross_validate": True, "cv_folds": 3,
    "split": SplitConfig(val_fraction=0.0, test_fraction=0.0),
}  # fmt: skip


def clusters(per_class: int, seed: int = 0, k: int = 3, dim: int = 20):
    """``k`` well separated Gaussian clusters far from the origin (so centring matters)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, dim)) * 3 + 10
    x = np.concatenate([c + rng.normal(size=(per_class, dim)) for c in centres])
    return x, np.repeat(np.arange(k), per_class)


def test_nearest_mean_predicts_the_nearest_class_direction_after_centring() -> None:
    x_all, y_all = clusters(25)
    train = np.arange(len(y_all)) % 25 < 5  # 5 a class train, 20 a class test
    x, y = x_all[train], y_all[train]
    head = nearest_mean.fit_nearest_mean(x, y, 3)
    np.testing.assert_allclose(head.centre, x.mean(axis=0))
    np.testing.assert_allclose(np.linalg.norm(head.means, axis=1), 1.0)
    predicted = head.predict_proba(x_all[~train]).argmax(axis=1)
    assert (predicted == y_all[~train]).mean() == 1.0
    # Scaling a feature vector does not change its cosine (length-normalised).
    u = nearest_mean.unit(x - head.centre)
    np.testing.assert_allclose(head.cosines(x), u @ head.means.T, atol=1e-12)


def test_the_dense_layer_form_is_the_same_head() -> None:
    x, y = clusters(4)
    head = nearest_mean.fit_nearest_mean(x, y, 4, temperature=20.0)  # class 3 has no image
    fit = nearest_mean.as_head_fit(head, len(y))
    dense = fit.predict_proba(nearest_mean.unit(x - head.centre))
    np.testing.assert_allclose(dense, head.predict_proba(x), atol=1e-5)
    assert np.all(dense[:, 3] == 0.0)  # a class with no training image is never predicted
    np.testing.assert_allclose(np.linalg.norm(fit.kernel[:, :3], axis=0), 20.0, rtol=1e-6)


def test_the_temperature_is_chosen_by_out_of_fold_log_loss() -> None:
    x, y = clusters(5)
    oof, temperature = nearest_mean.out_of_fold(x, y, 3, folds=5)
    assert temperature in nearest_mean.TEMPERATURES
    assert oof.probs.shape == (15, 3)
    np.testing.assert_allclose(oof.probs.sum(axis=1), 1.0)
    # Separable clusters: a confident (hot) temperature wins over a near-uniform one.
    assert temperature >= 10.0 and min(oof.fold_accuracies) == 1.0


def test_the_candidates_depend_on_set_size_and_orientation() -> None:
    keys = [c.key for c in head_candidates.candidates(14, 5, mirror=True)]
    assert keys == ["multi", "last", "multi+mirror", "multi/nearest-mean"]
    keys = [c.key for c in head_candidates.candidates(14, 6, mirror=False)]
    assert keys == ["multi", "last"]  # 6 a class: not tiny; mirror images not asked for


def score(folds: list[float], features: str = "multi", **kw) -> CandidateScore:
    acc = float(np.mean(folds))
    return CandidateScore(features, 14, 10, acc, float(np.std(folds)), 1.0, tuple(folds), **kw)


def test_the_reason_names_the_chosen_head_and_what_else_was_tried() -> None:
    multi = score([0.5, 0.5, 0.6])
    last = score([0.5, 0.5, 0.6], "last")
    views = score([0.5, 0.6, 0.6], views=True)
    ncm = score([0.8, 0.8, 0.9], head="nearest-mean")
    text = reason(ncm, [multi, last, views, ncm])
    assert text.startswith("A nearest-class-mean head on features from 14 layers: in ")
    assert "(83% vs 53%)" in text  # against the multi-layer head it displaced
    assert "Also tried: features from 14 layers, averaged with the mirror image's (57%)" in text
    text = reason(multi, [multi, last, views, ncm])
    assert text.startswith("Features from 14 layers:")
    assert "a nearest-class-mean head on features from 14 layers (83%) — not clearly" in text


def choose(monkeypatch: pytest.MonkeyPatch, key: str) -> None:
    """Make the run keep candidate ``key`` (its wiring is what these tests check; which
    candidate wins on real images is ``bench/bench_multilayer.py``'s question)."""
    from tlcore.training import multilayer_solve

    def pick(scores: list[CandidateScore]) -> CandidateScore:
        wanted = {"multi/nearest-mean": ("multi", "nearest-mean", False)}.get(
            key, ("multi", "logistic", True)
        )
        return next(s for s in scores if (s.features, s.head, s.views) == wanted)

    monkeypatch.setattr(multilayer_solve, "pick", pick)


def pixels_and_labels(info: run_info.RunInfo) -> tuple[np.ndarray, np.ndarray]:
    split = run_files.read_split(info.path)
    images, labels = load_arrays(list(split.train), list(split.classes), 32, "pad")
    return np.asarray(images, dtype=np.float32), np.asarray(labels)


def train(data: Path, **changes) -> run_info.RunInfo:
    from tlcore.runs.job import train as run

    config = tiny_config(data, **{**AUTO, **changes})
    info = store.create_run(config)
    return run(config, info.path)


def test_a_tiny_set_cross_validates_every_candidate(tmp_path: Path) -> None:
    data = write_class_images(tmp_path / "five", per_class=5)
    info = train(data, head_views="auto")
    assert info.status == "finished", info.error
    choice = json.loads((info.path / "metrics.json").read_text())["head_solver"]["feature_set"]
    kinds = [(s["features"], s["head"], s["views"]) for s in choice["scores"]]
    assert kinds == [
        ("multi", "logistic", False), ("last", "logistic", False),
        ("multi", "logistic", True), ("multi", "nearest-mean", False),
    ]  # fmt: skip
    info = train(data, head_views="none")  # not asked for: never a mirror image
    choice = json.loads((info.path / "metrics.json").read_text())["head_solver"]["feature_set"]
    assert not any(s["views"] for s in choice["scores"]) and not choice["views"]


def test_a_nearest_mean_run_saves_one_model_that_predicts_what_was_solved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    choose(monkeypatch, "multi/nearest-mean")
    info = train(write_class_images(tmp_path / "five", per_class=5))
    assert info.status == "finished", info.error
    metrics = json.loads((info.path / "metrics.json").read_text())
    assert metrics["head_solver"]["feature_set"]["head"] == "nearest-mean"
    assert metrics["head_solver"]["message"].startswith("The head is the nearest class mean")
    model = load_model_safely(info.path / "model.keras")
    assert "unit_length" in [layer.name for layer in model.get_layer("pool").layers]
    images, labels = pixels_and_labels(info)
    pooled = images
    for name in ("preprocess", "backbone", "pool"):
        pooled = model.get_layer(name)(pooled, training=False)
    pooled = np.asarray(pooled)
    np.testing.assert_allclose(np.linalg.norm(pooled, axis=1), 1.0, atol=1e-4)
    # The class directions are the unit means of the training images' pooled features.
    kernel, bias = model.get_layer("predictions").get_weights()
    t = float(np.linalg.norm(kernel, axis=0).max())
    means = np.stack([pooled[labels == c].mean(axis=0) for c in range(3)])
    means /= np.linalg.norm(means, axis=1, keepdims=True)
    np.testing.assert_allclose(kernel, t * means.T, atol=1e-3)
    assert np.all(bias == 0)
    assert any(t == pytest.approx(v, rel=1e-5) for v in nearest_mean.TEMPERATURES)
    # The accuracy reported is the nearest-mean head's own out-of-fold score.
    ncm = next(
        s for s in metrics["head_solver"]["feature_set"]["scores"] if s["head"] != "logistic"
    )
    assert metrics["accuracy"] == pytest.approx(ncm["accuracy"])


def test_a_mirror_run_saves_one_model_that_averages_both_views(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tlcore.models.mirrored_views import is_mirrored

    choose(monkeypatch, "multi+mirror")
    data = write_class_images(tmp_path / "eight", per_class=8)
    held_out = SplitConfig(val_fraction=0.0, test_fraction=0.25)
    info = train(data, head_views="auto", cross_validate=False, split=held_out)
    assert info.status == "finished", info.error
    metrics = json.loads((info.path / "metrics.json").read_text())
    assert metrics["head_solver"]["feature_set"]["views"] is True
    assert "averaged with the mirror image's" in metrics["head_solver"]["message"]
    model = load_model_safely(info.path / "model.keras")
    assert is_mirrored(model.get_layer("backbone"))
    # The head was solved on the mean of each image's and its mirror image's features:
    # re-solving it on those, computed by the saved model's own parts, gives its weights.
    images, labels = pixels_and_labels(info)
    pooled = images
    for name in ("preprocess", "backbone", "pool"):
        pooled = model.get_layer(name)(pooled, training=False)
    from tlcore.training.head_solver import solve_head

    fit = solve_head(np.asarray(pooled), labels, 3, seed=42)
    np.testing.assert_allclose(
        model.predict(images, verbose=0), fit.predict_proba(pooled), atol=1e-4
    )
    # The test images were scored through the cached (averaged) features; the model agrees.
    split = run_files.read_split(info.path)
    test, _ = load_arrays(list(split.test), list(split.classes), 32, "pad")
    probs = model.predict(np.asarray(test), verbose=0)
    scored = json.loads((info.path / "predictions.json").read_text())["images"]
    for p, row in zip(probs, scored, strict=True):
        assert row["probability"] == pytest.approx(float(p.max()), abs=2e-4)


def test_a_tie_on_every_fold_keeps_the_smaller_feature_set() -> None:
    from tlcore.training.head_choice import pick

    multi = CandidateScore("multi", 14, 8016, 1.0, 0.0, 0.1, (1.0, 1.0, 1.0))
    last = CandidateScore("last", 1, 1280, 1.0, 0.0, 0.2, (1.0, 1.0, 1.0))
    assert pick([multi, last]) is last  # cross-validation says nothing: the smaller model
    assert "scored exactly the same on every fold" in reason(last, [multi, last])
    same_width = CandidateScore("multi", 14, 8016, 1.0, 0.0, 0.0, (1.0, 1.0, 1.0), views=True)
    assert pick([multi, same_width]) is multi  # not smaller: the preferred one stays
    luck = CandidateScore("last", 1, 1280, 0.9, 0.0, 0.2, (1.0, 0.9, 0.8))
    assert (
        pick([CandidateScore("multi", 14, 8016, 0.9, 0.0, 0.1, (0.8, 0.9, 1.0)), luck]).features
        == "multi"
    )
