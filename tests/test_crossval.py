"""Small-data evaluation: when to cross-validate, the folds, out-of-fold scores."""

import json

import numpy as np
import pytest

from tlcore.errors import DataError
from tlcore.training.crossval import (
    fold_count,
    kfold_assignments,
    out_of_fold_predictions,
    should_cross_validate,
    summarise,
)


@pytest.mark.parametrize(
    ("counts", "gave_split", "expected", "says"),
    [
        ([30, 30], False, True, "60 images are too few"),
        ({"cats": 5, "dogs": 50}, False, True, "The smallest class has 5 images"),
        ([29] + [100] * 9, False, True, "smallest class has 29 images"),
        ([1, 40], False, True, "smallest class has 1 image:"),
        ([30] * 10, False, False, "With 300 images and at least 30 a class"),
        ([5, 5], True, False, "its own test images"),
    ],
)
def test_when_to_cross_validate(counts, gave_split, expected, says):
    decision, reason = should_cross_validate(counts, gave_split)
    assert decision is expected
    assert says in reason


def test_fold_count_keeps_every_class_in_every_training_part():
    assert fold_count([40, 40]) == 5
    assert fold_count([3, 40]) == 3
    assert fold_count([1, 40]) == 2
    assert fold_count({"a": 9}, wanted=10) == 9


def test_folds_are_stratified_balanced_seeded_and_deterministic():
    labels = np.repeat([0, 1, 2], [10, 7, 3])
    folds = kfold_assignments(labels, 5, seed=1)
    assert np.bincount(folds).tolist() == [4, 4, 4, 4, 4]
    for c, n in ((0, 10), (1, 7), (2, 3)):
        per_fold = np.bincount(folds[labels == c], minlength=5)
        assert per_fold.max() - per_fold.min() <= 1 and per_fold.sum() == n
    assert folds.tolist() == kfold_assignments(labels, 5, seed=1).tolist()
    assert folds.tolist() != kfold_assignments(labels, 5, seed=2).tolist()


def test_too_few_images_for_the_folds_is_an_error():
    with pytest.raises(DataError, match="Cannot make 5 folds from 3 images"):
        kfold_assignments([0, 1, 0], 5, seed=0)
    with pytest.raises(DataError, match="at least 2 folds"):
        kfold_assignments([0, 1, 0], 1, seed=0)


def test_each_image_is_predicted_by_the_model_that_left_it_out():
    labels = np.repeat([0, 1], 6)
    features = np.arange(12)
    seen = []

    def fit_fn(train_x, train_y, test_x):
        seen.append((set(train_x.tolist()), set(test_x.tolist())))
        probs = np.zeros((len(test_x), 2))
        probs[:, 0] = 1.0  # always "class 0"
        return probs

    events = []
    oof = out_of_fold_predictions(features, labels, fit_fn, 3, seed=0, progress=events.append)
    assert all(not (train & test) for train, test in seen)
    assert set().union(*(test for _, test in seen)) == set(range(12))
    assert oof.fold_accuracies == (0.5, 0.5, 0.5)
    assert oof.probs[:, 0].tolist() == [1.0] * 12
    assert events[1]["message"].endswith("(fold 2/3).")


def test_summary_reports_fold_spread_and_out_of_fold_per_class_scores():
    labels = [0, 0, 1, 1, 1]
    probs = np.array([[0.9, 0.1], [0.4, 0.6], [0.2, 0.8], [0.3, 0.7], [0.8, 0.2]])
    out = summarise([1.0, 0.5], probs, labels, ["cat", "dog"], paths=list("abcde"))
    assert out["accuracy"] == 0.75 and out["accuracy_std"] == 0.25
    assert out["pooled_accuracy"] == 0.6 and out["folds"] == 2
    assert out["confusion_matrix"] == [[1, 1], [1, 2]]
    assert out["per_class"]["dog"] == pytest.approx(
        {"precision": 2 / 3, "recall": 2 / 3, "f1": 2 / 3, "support": 3}
    )
    assert [m["path"] for m in out["misclassified"]] == ["e", "b"]  # most confident first
    assert out["sentence"] == (
        "Accuracy is cross-validated (2 folds): 5 images are too few for a held-out test "
        "set; the final model is trained on all 5."
    )
    json.dumps(out)


def test_the_head_solver_plugs_in_as_fit_fn():
    from tlcore.training.head_solver import solve_head

    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1, 2], 8)
    features = rng.normal(size=(24, 6)) + labels[:, None] * 3.0

    def fit_fn(train_x, train_y, test_x):
        return solve_head(train_x, train_y, n_classes=3).predict_proba(test_x)

    oof = out_of_fold_predictions(features, labels, fit_fn, 4, seed=0)
    out = summarise(oof.fold_accuracies, oof.probs, labels, ["a", "b", "c"])
    assert out["pooled_accuracy"] == 1.0 and out["accuracy_std"] == 0.0
