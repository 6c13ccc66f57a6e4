"""Recipes: each is its tutorial, pinned, and the run made from it stores exactly that."""

import json

import pytest

from tlcore.config import TrainConfig
from tlcore.errors import ConfigError
from tlcore.models.augment import AUGMENTATIONS
from tlcore.models.backbone_models import build_backbone
from tlcore.models.backbones import BACKBONES
from tlcore.models.freezing import STRATEGIES, apply_freeze, trainable_plan
from tlcore.runs import store
from tlcore.training.recipes import (
    OFFLINE_RECIPES,
    PINNED,
    RECIPES,
    differences,
    get_recipe,
    recipe_of,
)

TUTORIAL_RECIPES = [
    "vgg16_feature_extraction",
    "vgg16_augmented",
    "vgg16_fine_tune_block5",
    "small_cnn_scratch",
    "mobilenet_v2_fine_tune_100",
    "xception_feature_extraction",
    "xception_two_phase",
]


def tutorial_trainable(key: str, base) -> list[str]:
    """The layers each tutorial trains in its last phase, the way the tutorial says it."""
    names = [layer.name for layer in base.layers]
    return {
        "vgg16_feature_extraction": [],  # conv_base.predict: nothing in it trains
        "vgg16_augmented": [],  # conv_base.trainable = False
        "vgg16_fine_tune_block5": names[-4:],  # for layer in conv_base.layers[:-4]: freeze
        "small_cnn_scratch": names,  # a new network: everything trains
        "mobilenet_v2_fine_tune_100": names[100:],  # base_model.layers[:100] frozen
        "xception_feature_extraction": [],  # base_model.trainable = False
        "xception_two_phase": names,  # base_model.trainable = True
    }[key]


def test_the_recipes_are_the_tutorials_listed_in_order() -> None:
    assert list(RECIPES) == TUTORIAL_RECIPES
    for recipe in RECIPES.values():
        assert recipe.display_name and recipe.when.endswith(".") and recipe.tutorial
        assert recipe.template.data == "" and not recipe.template.auto_defaults
        assert set(recipe.steps) <= set(PINNED)


@pytest.mark.parametrize("key", [*RECIPES, *OFFLINE_RECIPES])
def test_each_recipe_is_a_valid_pinned_config(key) -> None:
    config = get_recipe(key).config("/data/photos")
    assert isinstance(config, TrainConfig) and config.data == "/data/photos"
    config.validate()
    assert config.recipe == key and recipe_of(config) is get_recipe(key)
    assert config.backbone in BACKBONES and config.freeze.strategy in STRATEGIES
    assert set(config.augment.as_dict()) <= set(AUGMENTATIONS)
    assert TrainConfig.from_json(config.to_json()) == config
    # Nothing automatic: no defaults, no early stopping, no schedule the tutorial lacks.
    assert (config.auto_defaults, config.early_stopping_patience, config.schedule) == (
        False,
        0,
        "constant",
    )


def test_recipes_hold_the_tutorials_numbers() -> None:
    vgg = get_recipe("vgg16_feature_extraction").template
    assert (vgg.pooling, vgg.head_units, vgg.dropout) == ("flatten", (256,), 0.5)
    assert (vgg.optimizer, vgg.learning_rate, vgg.epochs, vgg.image_size) == (
        "rmsprop",
        1e-3,
        20,
        180,
    )
    assert not vgg.solve_head and not vgg.augment.enabled
    fine = get_recipe("vgg16_fine_tune_block5").template
    assert (fine.head_epochs, fine.epochs, fine.fine_tune_learning_rate) == (50, 80, 1e-5)
    mobilenet = get_recipe("mobilenet_v2_fine_tune_100").template
    assert (mobilenet.optimizer, mobilenet.learning_rate) == ("adam", 1e-4)
    assert (mobilenet.fine_tune_optimizer, mobilenet.fine_tune_learning_rate) == ("rmsprop", 1e-5)
    assert (mobilenet.head_epochs, mobilenet.epochs, mobilenet.image_size) == (10, 20, 160)
    assert mobilenet.augment.as_dict() == {"flip_horizontal": 1.0, "rotation": 0.2}
    xception = get_recipe("xception_two_phase").template
    assert (xception.head_epochs, xception.epochs, xception.fine_tune_learning_rate) == (
        20,
        30,
        1e-5,
    )
    assert xception.freeze.batchnorm_scale_trains and not xception.freeze.train_batchnorm
    with pytest.raises(ConfigError, match="Unknown recipe"):
        get_recipe("resnet_magic")


def test_a_changed_setting_is_no_longer_the_recipe() -> None:
    recipe = get_recipe("mobilenet_v2_fine_tune_100")
    config = recipe.config("/data")
    changed = config.replace(epochs=12, optimizer="adam")
    assert differences(changed, recipe) == ["epochs"]
    assert recipe_of(changed) is None
    # The dataset, split, seed and name stay the person's: still the recipe.
    assert recipe_of(config.replace(data="/other", seed=3, name="x")) is recipe


def test_downloading_recipes_have_an_offline_twin_on_lite0() -> None:
    assert set(OFFLINE_RECIPES) == {f"{k}_lite0" for k in RECIPES if k != "small_cnn_scratch"}
    twin = get_recipe("mobilenet_v2_fine_tune_100_lite0").template
    original = get_recipe("mobilenet_v2_fine_tune_100").template
    assert twin.backbone == "efficientnet_lite0" and twin.image_size is None
    same = [n for n in PINNED if n not in ("backbone", "image_size", "freeze")]
    assert all(getattr(twin, n) == getattr(original, n) for n in same)
    # The table says which values are not the tutorial's.
    steps = get_recipe("mobilenet_v2_fine_tune_100_lite0").steps
    assert steps["freeze"].startswith("Not the tutorial's: the same place")
    assert steps["backbone"].startswith("Not the tutorial's")


@pytest.mark.slow
@pytest.mark.parametrize("key", TUTORIAL_RECIPES)
def test_a_run_made_from_a_recipe_stores_the_recipe(key, tiny_dataset) -> None:
    """spec.json equals the recipe; its plan trains the tutorial's layers; its head is the
    tutorial's (networks built with weights=None: the real weights are not here)."""
    from tlcore.models.classifier import backbone_of, build_classifier

    recipe = get_recipe(key)
    info = store.create_run(recipe.config(str(tiny_dataset)))
    spec = json.loads((info.path / "spec.json").read_text())
    stored = TrainConfig.from_dict(spec["config"])
    assert stored == recipe.config(str(tiny_dataset))
    assert spec["config"]["recipe"] == key

    model = build_classifier(stored.replace(weights="none"), num_classes=3)
    base = backbone_of(model)
    plan = trainable_plan(base, stored.freeze)
    ours = [layer.name for layer, trains in zip(base.layers, plan, strict=True) if trains]
    assert ours == tutorial_trainable(key, base)
    head = [type(model.get_layer(n)).__name__ for n in _head_names(model)]
    t = recipe.template
    expected = ["Flatten" if t.pooling == "flatten" else "GlobalAveragePooling2D"]
    expected += ["Dense"] * len(t.head_units) + ["Dropout", "Dense"]
    assert head == expected
    for i, units in enumerate(t.head_units, start=1):
        assert model.get_layer(f"hidden_{i}").units == units
    assert model.get_layer("dropout").rate == t.dropout


def _head_names(model) -> list[str]:
    names = [layer.name for layer in model.layers]
    return names[names.index("pool") :]


def test_batchnorm_scale_trains_like_the_tutorials_in_inference_mode() -> None:
    """base_model.trainable = True with training=False: BatchNorm's gamma and beta train,
    its moving statistics do not."""
    recipe = get_recipe("mobilenet_v2_fine_tune_100").template
    base = build_backbone("mobilenet_v2", 32)
    apply_freeze(base, recipe.freeze)
    bn = [layer for layer in base.layers[100:] if type(layer).__name__ == "BatchNormalization"]
    assert bn and all(layer.trainable for layer in bn)
    assert all(not layer.trainable for layer in base.layers[:100])
    trained = {w.path.split("/")[-1] for layer in bn for w in layer.trainable_weights}
    assert trained == {"gamma", "beta"}
    plain = build_backbone("mobilenet_v2", 32)
    apply_freeze(plain, recipe.freeze.__class__(strategy="fine-tune", unfreeze_from="100"))
    assert not any(
        layer.trainable for layer in plain.layers if type(layer).__name__ == "BatchNormalization"
    )
