"""Unused settings are named and reset, so nothing a run does not use hides in its spec."""

import json
from pathlib import Path

from tlcore.config import AugmentConfig, FreezeConfig, TrainConfig
from tlcore.runs import store
from tlcore.training.defaults import apply_defaults, choose_defaults
from tlcore.training.recipes import get_recipe
from tlcore.training.run_summary import will_do
from tlcore.training.unused import drop_unused, settle, unused_settings

LEFTOVERS = dict(
    two_phase=True,
    head_epochs=5,
    epochs=60,
    fine_tune_learning_rate=3e-5,
    fine_tune_optimizer="rmsprop",
)


def test_feature_extraction_drops_a_second_phase_left_from_a_recipe() -> None:
    config = TrainConfig(data="d", freeze=FreezeConfig("feature-extraction"), **LEFTOVERS)
    unused = unused_settings(config)
    assert {"two_phase", "head_epochs", "fine_tune_learning_rate", "fine_tune_optimizer"} <= set(
        unused
    )
    clean = drop_unused(config)
    assert (clean.two_phase, clean.head_epochs, clean.fine_tune_learning_rate) == (False, 2, 1e-5)
    assert clean.fine_tune_optimizer is None
    assert clean.epochs == 60  # the head still trains by gradient for 60 epochs
    assert "epochs" not in unused


def test_a_solved_head_keeps_no_gradient_settings() -> None:
    config = TrainConfig(
        data="d", solve_head=True, learning_rate=0.01, optimizer="sgd", **LEFTOVERS
    )
    clean, names = settle(config)
    assert clean == TrainConfig(data="d", solve_head=True, epochs=1)
    assert {"epochs", "optimizer", "learning_rate", "two_phase"} <= set(names)
    assert "dropout" in unused_settings(config)


def test_fine_tuning_keeps_what_it_uses() -> None:
    config = TrainConfig(
        data="d", freeze=FreezeConfig("fine-tune", unfreeze_from="block5"), **LEFTOVERS
    )
    assert drop_unused(config) == config
    assert "two_phase" not in unused_settings(config)
    # Augmentation on: the head cannot be solved first, so only two_phase makes a phase 2.
    single = config.replace(two_phase=False, augment=AugmentConfig.of(zoom=0.1))
    assert {"head_epochs", "fine_tune_learning_rate"} <= set(unused_settings(single))


def test_a_changed_recipe_loses_its_name_but_an_unchanged_one_keeps_it() -> None:
    recipe = get_recipe("small_cnn_scratch").config("d")
    assert settle(recipe)[0].recipe == "small_cnn_scratch"
    assert settle(recipe.replace(epochs=3))[0].recipe == ""


def test_the_run_folder_stores_the_settled_config_and_the_unused_names(
    tiny_dataset: Path,
) -> None:
    config = TrainConfig(
        data=str(tiny_dataset),
        backbone="small_cnn",
        weights="none",
        image_size=32,
        freeze=FreezeConfig("feature-extraction"),
        recipe="xception_two_phase",  # a name left over: not that recipe any more
        **LEFTOVERS,
    )
    info = store.create_run(config)
    spec = json.loads((info.path / "spec.json").read_text())
    assert spec["config"]["two_phase"] is False and spec["config"]["recipe"] == ""
    assert "two_phase" in spec["unused"] and "head_epochs" in spec["unused"]


def test_this_run_will_names_every_setting_and_what_is_not_used() -> None:
    config, unused = settle(get_recipe("mobilenet_v2_fine_tune_100").config("d"))
    lines = will_do(config, {"train": 28, "val": 8, "test": 4}, 40, unused)
    assert lines == [
        "start from MobileNetV2 with ImageNet weights, images stretched square to 160 px",
        "layers 100 and up train (counted from 0), the rest stay frozen; BatchNorm scale and "
        "offset train, its statistics stay frozen; head: global average pooling → dropout "
        "0.2 → Dense(classes, softmax)",
        "train the head alone for 10 epochs (Adam, learning rate 0.0001), then the chosen "
        "layers too for 10 more (RMSprop, 1e-05): 20 epochs in all",
        "augmentation: horizontal flips, rotation 0.2",
        "learn from 28 images, check on 8 validation images, measure accuracy on the 4 test images",
        "batches of 32; run every epoch (no early stopping)",
    ]
    solved, unused = settle(
        TrainConfig(
            data="d", solve_head=True, cross_validate=True, epochs=60, early_stopping_patience=5
        )
    )
    lines = will_do(solved, {"train": 40, "val": 0, "test": 0}, 40, unused)
    assert lines[2].startswith("solve the head exactly on the frozen network's last layer")
    auto = will_do(solved.replace(head_features="auto"), {"train": 40}, 40, unused)[2]
    assert "between features from several layers and the last layer alone" in auto
    assert "mirror image" not in auto  # not asked for
    mirror = solved.replace(head_features="auto", head_views="auto")
    assert "averaged with its mirror image" in will_do(mirror, {"train": 40}, 40, unused)[2]
    assert lines[4].startswith("measure accuracy by 5-fold cross-validation on all 40 images")
    assert lines[-1].startswith("not used by this run: early stopping patience, epochs")
    assert not any("Epoch" in line or "batches of" in line for line in lines)


def test_a_default_solved_head_says_nothing_about_epochs_batches_or_stopping() -> None:
    # The defaults of a small dataset: feature extraction, head solved, 5-fold CV.
    defaults = choose_defaults([8, 8, 8], 3, None, "feature-extraction", fast_path=True)
    config = apply_defaults(
        TrainConfig(data="d", freeze=FreezeConfig("feature-extraction")), defaults, set()
    )
    config, unused = settle(config)
    assert config.cross_validate and config.solve_head
    lines = will_do(config, {"train": 24, "val": 0, "test": 0}, 24, unused)
    text = "\n".join(lines)
    assert "stop early" not in text and "batches of" not in text and "epoch(s)" not in text
    assert "no epochs" in lines[2]
    assert "only the new head is fitted" in lines[1] and "head trains" not in text
    assert lines[4].endswith("then solve the final head on all of them")
    assert "dropout" not in text  # the solver has its own regularisation
    with_dropout = will_do(config.replace(solve_head=False), {"train": 24}, 24, [])
    assert "dropout 0.2" in "\n".join(with_dropout)  # a head trained by gradient uses it


def test_a_gradient_run_without_validation_images_does_not_promise_early_stopping() -> None:
    config = TrainConfig(
        data="d",
        freeze=FreezeConfig("fine-tune", unfreeze_top=5),
        cross_validate=True,
        early_stopping_patience=3,
    )
    config, unused = settle(config)
    lines = will_do(config, {"train": 30, "val": 0, "test": 0}, 30, unused)
    assert "stop early after" not in "\n".join(lines)
    assert "batches of 32; run every epoch and keep the last (no validation images" in lines[5]
    with_val = will_do(config, {"train": 24, "val": 6, "test": 0}, 30, unused)
    assert "stop early after 3 epochs" in with_val[5]


def test_settling_a_settled_config_changes_and_names_nothing() -> None:
    config = TrainConfig(data="d", solve_head=True, learning_rate=0.01, **LEFTOVERS)
    settled, names = settle(config)
    assert names  # the leftovers
    assert settle(settled) == (settled, [])  # epochs = 1 is settle's own value, not the person's
