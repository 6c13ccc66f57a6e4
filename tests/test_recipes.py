"""Recipes: valid TrainConfig templates for the classic tutorial set-ups."""

import pytest

from tlcore.config import TrainConfig
from tlcore.errors import ConfigError
from tlcore.models.augment import AUGMENTATIONS
from tlcore.models.backbone_models import build_backbone
from tlcore.models.backbones import BACKBONES
from tlcore.models.freezing import STRATEGIES, batchnorm_trains, trainable_plan
from tlcore.training.recipes import RECIPES, get_recipe


def test_the_six_recipes_exist_with_a_line_each() -> None:
    assert list(RECIPES) == [
        "vgg16_feature_extraction",
        "vgg16_augmented",
        "vgg16_fine_tune_block5",
        "mobilenet_v2_fine_tune_100",
        "xception_two_phase",
        "small_cnn_scratch",
    ]
    for recipe in RECIPES.values():
        assert recipe.display_name and recipe.when.endswith(".")
        assert recipe.template.data == ""


@pytest.mark.parametrize("key", list(RECIPES))
def test_each_recipe_is_a_valid_config(key) -> None:
    config = get_recipe(key).config("/data/photos")
    assert isinstance(config, TrainConfig) and config.data == "/data/photos"
    config.validate()
    assert config.backbone in BACKBONES and config.freeze.strategy in STRATEGIES
    assert set(config.augment.as_dict()) <= set(AUGMENTATIONS)
    assert config.image_size >= BACKBONES[config.backbone].min_size
    assert TrainConfig.from_json(config.to_json()) == config


def test_recipes_say_what_the_tutorials_do() -> None:
    assert not get_recipe("vgg16_feature_extraction").template.augment.enabled
    assert get_recipe("vgg16_augmented").template.augment.enabled
    fine = get_recipe("vgg16_fine_tune_block5").template
    assert fine.freeze.unfreeze_from == "block5" and fine.fine_tune_learning_rate <= 1e-5
    xception = get_recipe("xception_two_phase").template
    assert xception.two_phase and xception.freeze.strategy == "full"
    assert xception.fine_tune_learning_rate == 1e-5 and not batchnorm_trains(xception.freeze)
    scratch = get_recipe("small_cnn_scratch").template
    assert scratch.weights == "none" and scratch.freeze.strategy == "scratch"
    with pytest.raises(ConfigError, match="Unknown recipe"):
        get_recipe("resnet_magic")


def test_recipe_plans_resolve_on_the_real_architectures() -> None:
    mobilenet = build_backbone("mobilenet_v2", 32)
    plan = trainable_plan(mobilenet, get_recipe("mobilenet_v2_fine_tune_100").template.freeze)
    assert plan.index(True) == 100 and all(plan[100:])
    vgg = build_backbone("vgg16", 32)
    plan = trainable_plan(vgg, get_recipe("vgg16_fine_tune_block5").template.freeze)
    trainable = [layer.name for layer, t in zip(vgg.layers, plan, strict=True) if t]
    assert trainable == ["block5_conv1", "block5_conv2", "block5_conv3", "block5_pool"]
