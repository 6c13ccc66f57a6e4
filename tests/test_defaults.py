"""Training defaults from the dataset's shape: exact outcomes, and explicit choices win."""

import json

import pytest

from tlcore.config import SplitConfig, TrainConfig
from tlcore.errors import ConfigError
from tlcore.training.defaults import (
    STRATEGY_KEYS,
    Defaults,
    apply_defaults,
    choose_defaults,
    not_applied,
)

FIELDS = [
    "learning_rate",
    "fine_tune_learning_rate",
    "epochs",
    "batch_size",
    "patience",
    "val_split",
    "test_split",
    "cross_validate",
    "folds",
    "schedule",
    "warmup_epochs",
    "solve_head",
]


def outcome(d: Defaults) -> tuple:
    return tuple(getattr(d, name) for name in FIELDS)


@pytest.mark.parametrize(
    ("counts", "size", "strategy", "fast", "expected"),
    [
        # 60 photos, frozen backbone: solve the head, cross-validate, nothing to train.
        ([30, 30], None, "feature-extraction", True,
         (1e-3, 1e-5, 0, 32, 0, 0.0, 0.0, True, 5, "none", 0, True)),
        # 50 photos, fine-tune the top: small batches, fixed epochs, low LR; a test split
        # (cross-validating would retrain the network per fold), no validation to stop on.
        ([10] * 5, 224, "fine-tune", True,
         (1e-3, 5e-5, 41, 8, 0, 0.0, 0.2, False, 0, "cosine", 4, True)),
        # 1,000 photos: a held-out split big enough to stop on.
        ([100] * 10, 224, "fine-tune", True,
         (1e-3, 1e-4, 13, 32, 3, 0.1, 0.1, False, 0, "cosine", 1, True)),
        # 600 large photos, everything trains, no cached features.
        ([200] * 3, 384, "full", False,
         (1e-3, 7.1e-6, 14, 16, 3, 0.2, 0.2, False, 0, "cosine", 1, False)),
        # From scratch on 2,000 small images.
        ([500] * 4, 96, "scratch", False,
         (1e-3, 1e-5, 60, 32, 12, 0.1, 0.1, False, 0, "cosine", 6, False)),
        # Augmentation on: the head trains by gradient on 80 images.
        ([20] * 4, 224, "feature-extraction", False,
         (1e-3, 1e-5, 60, 8, 0, 0.0, 0.2, False, 0, "cosine", 0, False)),
        # 1,200 large photos, full fine-tune: batch capped for memory.
        ([600] * 2, 448, "full", True,
         (1e-3, 7.1e-6, 6, 16, 3, 0.1, 0.1, False, 0, "cosine", 1, True)),
    ],
)  # fmt: skip
def test_the_policy_for_several_dataset_shapes(counts, size, strategy, fast, expected):
    d = choose_defaults(counts, len(counts), size, strategy, fast)
    assert outcome(d) == expected
    assert set(d.reasons) == set(FIELDS)
    assert all(isinstance(r, str) and r.endswith(".") for r in d.reasons.values())


def test_reasons_are_plain_sentences_about_this_dataset():
    d = choose_defaults({"cats": 10, "dogs": 10, "birds": 10, "fish": 10, "ants": 10}, 5, 224,
                        "fine-tune", True)  # fmt: skip
    assert d.reasons["batch_size"] == (
        "Batch size 8: with 40 training images, smaller batches give more updates per epoch."
    )
    assert d.reasons["epochs"].startswith(
        "Epochs 41: the solved head, then 40 of fine-tuning (40 training images in batches "
        "of 8 are 5 updates"
    )
    assert d.reasons["fine_tune_learning_rate"] == (
        "Fine-tune learning rate 5e-05: 0.0001 for the top layers, scaled by sqrt(8/32) "
        "for batches of 8."
    )
    assert "there are no validation images" in d.reasons["patience"]
    enough = choose_defaults([60] * 5, 5, 224, "fine-tune", True)  # 60 validation images
    assert (enough.epochs, enough.patience) == (26, 5)  # the solved head + 25
    assert enough.reasons["patience"] == (
        "Early stopping after 5 epochs without a better validation loss (60 validation images)."
    )
    tiny_val = choose_defaults([60] * 2, 2, 224, "fine-tune", True, user_gave_split=True)
    assert tiny_val.patience == 0 and "no validation images" in tiny_val.reasons["patience"]
    assert d.reasons["cross_validate"].startswith("A held-out test split, not cross-validation")
    head = choose_defaults([10] * 5, 5, 224, "feature-extraction", True)
    assert head.reasons["cross_validate"].startswith("The smallest class has 10 images")


def test_a_dataset_with_its_own_test_folder_is_not_cross_validated():
    d = choose_defaults([8, 8], 2, 224, "feature-extraction", True, user_gave_split=True)
    assert (d.cross_validate, d.folds) == (False, 0)
    assert "its own test images" in d.reasons["cross_validate"]


def test_every_freezing_strategy_has_defaults_and_no_other():
    from tlcore.models.freezing import STRATEGIES

    assert set(STRATEGY_KEYS) == set(STRATEGIES)
    with pytest.raises(ConfigError, match="No training defaults for strategy 'partial'"):
        choose_defaults([5, 5], 2, 224, "partial", True)


def test_counts_must_match_the_classes():
    with pytest.raises(ConfigError, match="counts for 2 classes but 3"):
        choose_defaults([5, 5], 3, 224, "fine-tune", True)
    with pytest.raises(ConfigError, match="at least two classes"):
        choose_defaults([5, 0], 2, 224, "fine-tune", True)


def test_defaults_round_trip_through_json():
    d = choose_defaults([12, 30, 7], 3, 160, "fine-tune", True)
    assert Defaults.from_dict(json.loads(json.dumps(d.to_dict()))) == d


def test_apply_writes_defaults_but_explicit_choices_win():
    d = choose_defaults([10] * 5, 5, 224, "fine-tune", True)
    config = TrainConfig(data="photos", learning_rate=3e-4, epochs=7)
    out = apply_defaults(config, d, explicit={"learning_rate", "epochs", "split.test_fraction"})
    assert (out.learning_rate, out.epochs) == (3e-4, 7)  # the person's
    assert out.split.test_fraction == 0.1  # the person's (the default value, chosen)
    assert out.batch_size == 8 and out.fine_tune_learning_rate == 5e-5
    assert out.early_stopping_patience == 0 and out.split.val_fraction == 0.0
    out.validate()
    by_defaults_name = apply_defaults(config, d, explicit={"patience", "batch_size"})
    assert (by_defaults_name.early_stopping_patience, by_defaults_name.batch_size) == (3, 32)


def test_apply_keeps_epochs_when_nothing_trains_by_gradient_and_a_saved_split():
    d = choose_defaults([30, 30], 2, 224, "feature-extraction", True)
    config = TrainConfig(data="photos", split=SplitConfig(split_file="split.json"))
    out = apply_defaults(config, d, explicit=set())
    assert out.epochs == 10  # TrainConfig needs >= 1; the solver does not use it
    assert out.split == config.split
    assert out.batch_size == 32 and out.early_stopping_patience == 0


def test_apply_rejects_an_unknown_explicit_name():
    d = choose_defaults([30, 30], 2, 224, "feature-extraction", True)
    with pytest.raises(ConfigError, match=r"Unknown setting\(s\) marked as chosen: lr\."):
        apply_defaults(TrainConfig(data="x"), d, explicit={"lr"})


def test_every_default_has_a_train_config_field():
    assert not_applied(TrainConfig(data="x")) == []


def test_resolve_applies_the_policy_once_and_keeps_what_the_person_chose():
    from types import SimpleNamespace

    from tlcore.training.defaults import resolve

    report = SimpleNamespace(classes={"a": 6, "b": 6}, items=[])
    asked = TrainConfig(data="x", auto_defaults=True, epochs=3, chosen=("epochs",))
    config, d = resolve(asked, report)
    assert d is not None and d.solve_head and d.cross_validate
    assert (config.solve_head, config.cross_validate, config.cv_folds) == (True, True, 5)
    assert (config.split.val_fraction, config.split.test_fraction) == (0.0, 0.0)
    assert config.epochs == 3 and not config.auto_defaults
    assert resolve(config, report) == (config, None)  # applied once
