"""The head solver: the exact softmax head on cached features, its C cross-validated."""

import json
import time

import numpy as np
import pytest

from tlcore.errors import ConfigError, DataError
from tlcore.training import head_solver, logreg
from tlcore.training.head_fit import CScore, HeadFit
from tlcore.training.head_solver import solve_head, write_into_dense


def blobs(per_class: tuple[int, ...], dims: int, seed: int = 0, spread: float = 1.0):
    """Overlapping Gaussian classes, non-negative like pooled ReLU features."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(len(per_class), dims)) * 1.5
    y = np.repeat(np.arange(len(per_class)), per_class)
    x = np.abs(centres[y] + rng.normal(size=(len(y), dims)) * spread) * 3.0
    return x.astype(np.float32), y


def sklearn_reference(x, y, C, x_new, **kwargs):
    """sklearn's own model on the solver's standardisation, applied to new raw rows."""
    from sklearn.linear_model import LogisticRegression

    mean, scale = logreg.standardiser(np.asarray(x, np.float64), "global")
    est = LogisticRegression(C=C, tol=logreg.TOL, max_iter=logreg.MAX_ITER, **kwargs)
    est.fit((x - mean) / scale, y)
    return est.predict_proba((np.asarray(x_new, np.float64) - mean) / scale)


def keras_probs(fit: HeadFit, x: np.ndarray) -> np.ndarray:
    import keras

    inputs = keras.Input((fit.kernel.shape[0],))
    dropout = keras.layers.Dropout(0.2)(inputs)  # as in the classifier: identity at inference
    dense = keras.layers.Dense(fit.kernel.shape[1], activation="softmax", name="predictions")
    model = keras.Model(inputs, dense(dropout))
    write_into_dense(dense, fit)
    return np.asarray(model(x.astype(np.float32), training=False))


@pytest.mark.parametrize("per_class", [(40, 35, 30), (45, 40)])
def test_keras_dense_with_the_written_weights_predicts_what_sklearn_predicts(per_class):
    x, y = blobs(per_class, dims=16)
    x_new, _ = blobs(per_class, dims=16, seed=1)
    fit = solve_head(x, y)
    expected = sklearn_reference(x, y, fit.C, x_new)
    np.testing.assert_allclose(keras_probs(fit, x_new), expected, atol=1e-5)
    np.testing.assert_allclose(fit.predict_proba(x_new), expected, atol=1e-6)


def test_fewer_images_than_features_solves_in_their_span_to_the_same_answer(monkeypatch):
    from sklearn.linear_model import LogisticRegression

    monkeypatch.setattr(logreg, "TOL", 1e-10)
    x, y = blobs((8, 7, 6), dims=200)
    x_new, _ = blobs((5, 5, 5), dims=200, seed=1)
    fit = solve_head(x, y, C=0.05)
    mean, scale = logreg.standardiser(x.astype(np.float64), "global")
    est = LogisticRegression(C=0.05, tol=1e-10, max_iter=10_000).fit((x - mean) / scale, y)
    expected = est.predict_proba((x_new - mean) / scale)
    np.testing.assert_allclose(keras_probs(fit, x_new), expected, atol=1e-5)


def test_balanced_class_weights_match_sklearns():
    x, y = blobs((60, 15, 25), dims=10)
    fit = solve_head(x, y, class_weight="balanced", C=1.0)
    expected = sklearn_reference(x, y, 1.0, x, class_weight="balanced")
    np.testing.assert_allclose(fit.predict_proba(x), expected, atol=1e-6)
    assert fit.class_weights == pytest.approx((100 / 180, 100 / 45, 100 / 75))


def test_c_is_chosen_by_the_lowest_mean_cross_validated_log_loss():
    x, y = blobs((30, 30, 30), dims=12, spread=3.0)
    fit = solve_head(x, y)
    tried = [s.C for s in fit.scores]
    assert tried == sorted(tried) and tried[0] == head_solver.C_GRID[0]
    assert fit.C == min(fit.scores, key=lambda s: s.log_loss).C
    chosen = next(s for s in fit.scores if s.C == fit.C)
    assert (fit.cv_accuracy, fit.cv_accuracy_std) == (chosen.accuracy, chosen.accuracy_std)
    assert fit.folds == 5 and fit.search_images == 90 and fit.converged


def test_ties_go_to_the_stronger_regularisation():
    scores = [CScore(0.01, 0.9, 0.8, 0.1), CScore(0.1, 0.5, 0.8, 0.1), CScore(1.0, 0.5, 0.7, 0)]
    assert head_solver._pick(scores, "log_loss").C == 0.1
    assert head_solver._pick(scores, "accuracy").C == 0.01


def test_folds_shrink_to_the_smallest_class():
    x, y = blobs((3, 12), dims=5)
    assert solve_head(x, y).folds == 3
    x, y = blobs((2, 12), dims=5)
    assert solve_head(x, y).folds == 2


def test_a_class_with_one_image_skips_cross_validation_and_says_so():
    x, y = blobs((1, 6, 6), dims=5)
    fit = solve_head(x, y)
    assert (fit.C, fit.folds, fit.cv_accuracy, fit.scores) == (head_solver.DEFAULT_C, 0, None, ())
    assert "single training image" in fit.note
    probs = fit.predict_proba(x)
    assert probs[0, 0] > probs[1:, 0].max()  # it still learned something of that class


def test_one_number_per_image_is_one_feature():
    y = np.repeat([0, 1], 10)
    x = np.where(y == 1, 5.0, -5.0) + np.linspace(0, 1, 20)
    fit = solve_head(x, y)
    assert fit.kernel.shape == (1, 2)
    assert fit.predict_proba(x.reshape(-1, 1)).argmax(axis=1).tolist() == y.tolist()


def test_identical_features_learn_only_the_class_sizes():
    y = np.repeat([0, 1, 2], [10, 5, 5])
    fit = solve_head(np.ones((20, 8)), y)
    assert "same features" in fit.note
    np.testing.assert_allclose(fit.predict_proba(np.ones((1, 8)))[0], [0.5, 0.25, 0.25], atol=1e-4)


def test_a_class_without_training_images_is_never_predicted():
    x, y = blobs((10, 10), dims=4)
    fit = solve_head(x, y, n_classes=3)
    assert fit.kernel.shape == (4, 3)
    assert fit.predict_proba(x)[:, 2].max() == 0.0
    assert "1 class(es) have no training images" in fit.note


@pytest.mark.parametrize(
    ("features", "labels", "message"),
    [
        (np.ones((6, 3)), [0] * 6, "All 6 training images are of one class"),
        (np.full((4, 3), np.nan), [0, 1, 0, 1], "NaN or infinite"),
        (np.ones((4, 2, 2, 3)), [0, 1, 0, 1], "one feature vector per image"),
        (np.ones((4, 3)), [0, 1, 0], "4 feature vectors but 3 labels"),
        (np.ones((0, 3)), [], "no training images"),
        (np.ones((4, 3)), [0, 1, 2, 5], "between 0 and 2"),
    ],
)
def test_unusable_inputs_raise_a_plain_error(features, labels, message):
    n_classes = 3 if 5 in labels else None
    with pytest.raises(DataError, match=message):
        solve_head(features, np.asarray(labels, dtype=np.int64), n_classes)


def test_progress_reports_each_setting_and_fold_in_plain_words():
    x, y = blobs((10, 10, 10), dims=6)
    events = []
    fit = solve_head(x, y, folds=3, progress=events.append)
    search = [e for e in events if e["stage"] == "choose-regularisation"]
    assert len(search) == 3 * len(fit.scores)
    assert search[0]["message"] == (
        "Choosing how strongly to regularise: trying 7 settings x 3 folds (setting 1/7, fold 1/3)."
    )
    assert [e["done"] for e in search] == list(range(len(search)))
    assert [e["stage"] for e in events[-2:]] == ["fit-head", "head-solved"]
    assert events[-1]["C"] == fit.C and "solved exactly" in events[-1]["message"]
    json.dumps(events)  # plain values only: they go to events.jsonl


def test_write_into_dense_refuses_a_layer_of_another_shape_or_activation():
    import keras

    fit = solve_head(*blobs((10, 10), dims=4))
    wrong = keras.layers.Dense(3, activation="softmax", name="predictions")
    wrong.build((None, 4))
    with pytest.raises(ConfigError, match="maps 4 features to 2 classes but the layer"):
        write_into_dense(wrong, fit)
    linear = keras.layers.Dense(2, name="logits")
    linear.build((None, 4))
    with pytest.raises(ConfigError, match="softmax activation"):
        write_into_dense(linear, fit)


def test_a_head_fit_round_trips_through_json():
    fit = solve_head(*blobs((10, 12), dims=4), class_weight="balanced")
    back = HeadFit.from_dict(json.loads(json.dumps(fit.to_dict())))
    np.testing.assert_array_equal(back.kernel, fit.kernel)
    np.testing.assert_array_equal(back.bias, fit.bias)
    assert back.summary() == fit.summary()
    assert "kernel" not in fit.summary() and fit.summary()["features"] == 4


def test_unknown_options_are_config_errors():
    x, y = blobs((5, 5), dims=3)
    with pytest.raises(ConfigError, match="criterion must be one of"):
        solve_head(x, y, criterion="auc")
    with pytest.raises(ConfigError, match="scaling must be one of"):
        solve_head(x, y, scaling="minmax")
    with pytest.raises(ConfigError, match="one class weight per class"):
        solve_head(x, y, class_weight=[1.0])


@pytest.mark.slow
def test_thousands_of_1280_dim_features_solve_in_seconds():
    import sklearn.linear_model  # noqa: F401  (its first import alone takes ~2 s)

    x, y = blobs((300,) * 10, dims=1280, spread=4.0)
    t0 = time.perf_counter()
    fit = solve_head(x, y)
    # ~1 s measured on 2 busy shared cores; the bound catches 10x regressions such as
    # BLAS thread pools fighting over the cores.
    assert time.perf_counter() - t0 < 12
    assert fit.search_images <= head_solver.SEARCH_MAX_IMAGES + 10 and fit.folds == 3
