"""Recipes: the classic tutorial set-ups as named one-click presets.

Each recipe is a ``TrainConfig`` template (``data`` left empty) plus one line on when it
fits; ``recipe.config(data)`` fills in the dataset. No TensorFlow is imported here.
"""

from dataclasses import dataclass

from tlcore.config import AugmentConfig, FreezeConfig, TrainConfig
from tlcore.registry import lookup


@dataclass(frozen=True)
class Recipe:
    """A named preset: display name, when it fits, and the config template."""

    key: str
    display_name: str
    when: str
    template: TrainConfig

    def config(self, data: str) -> TrainConfig:
        """The template with ``data`` filled in."""
        return self.template.replace(data=data)


_STANDARD_AUGMENT = AugmentConfig.of(flip_horizontal=1.0, rotation=0.1, zoom=0.2)

RECIPES: dict[str, Recipe] = {
    r.key: r
    for r in (
        Recipe(
            "vgg16_feature_extraction",
            "VGG16 feature extraction",
            "A few hundred images and a CPU: the frozen VGG16 base plus a small head trains in "
            "minutes and already beats a network trained from scratch.",
            TrainConfig(
                data="",
                backbone="vgg16",
                weights="imagenet",
                image_size=180,
                freeze=FreezeConfig(strategy="feature-extraction"),
                optimizer="rmsprop",
                learning_rate=1e-3,
                dropout=0.5,
                epochs=10,
            ),
        ),
        Recipe(
            "vgg16_augmented",
            "VGG16 with augmentation",
            "Same as feature extraction but with flips, rotations and zoom: slower per epoch, "
            "overfits less on small datasets.",
            TrainConfig(
                data="",
                backbone="vgg16",
                weights="imagenet",
                image_size=180,
                freeze=FreezeConfig(strategy="feature-extraction"),
                augment=_STANDARD_AUGMENT,
                optimizer="rmsprop",
                learning_rate=1e-3,
                dropout=0.5,
                epochs=15,
            ),
        ),
        Recipe(
            "vgg16_fine_tune_block5",
            "VGG16 fine-tuning its last block",
            "When feature extraction plateaus: train the head first, then also the last "
            "convolutional block (block5) at a low learning rate.",
            TrainConfig(
                data="",
                backbone="vgg16",
                weights="imagenet",
                image_size=180,
                freeze=FreezeConfig(strategy="fine-tune", unfreeze_from="block5"),
                augment=_STANDARD_AUGMENT,
                two_phase=True,
                head_epochs=5,
                epochs=15,
                optimizer="rmsprop",
                learning_rate=1e-3,
                fine_tune_learning_rate=1e-5,
                dropout=0.5,
            ),
        ),
        Recipe(
            "mobilenet_v2_fine_tune_100",
            "MobileNetV2 fine-tuned from layer 100",
            "The TensorFlow tutorial: a fast, small network; head first, then layers 100 "
            "and up at a tenth of the learning rate. Good on a laptop.",
            TrainConfig(
                data="",
                backbone="mobilenet_v2",
                weights="imagenet",
                image_size=160,
                freeze=FreezeConfig(strategy="fine-tune", unfreeze_from="100"),
                augment=AugmentConfig.of(flip_horizontal=1.0, rotation=0.2),
                two_phase=True,
                head_epochs=5,
                epochs=10,
                optimizer="rmsprop",
                learning_rate=1e-4,
                fine_tune_learning_rate=1e-5,
                dropout=0.2,
            ),
        ),
        Recipe(
            "xception_two_phase",
            "Xception two-phase",
            "The Keras guide: head first with the backbone frozen, then everything unfrozen "
            "at 1e-5 with BatchNorm kept frozen. Accurate; best with a GPU.",
            TrainConfig(
                data="",
                backbone="xception",
                weights="imagenet",
                image_size=150,
                freeze=FreezeConfig(strategy="full", train_batchnorm=False),
                augment=AugmentConfig.of(flip_horizontal=1.0, rotation=0.1),
                two_phase=True,
                head_epochs=5,
                epochs=10,
                optimizer="adam",
                learning_rate=1e-3,
                fine_tune_learning_rate=1e-5,
                dropout=0.2,
            ),
        ),
        Recipe(
            "small_cnn_scratch",
            "Small CNN from scratch",
            "The baseline: no pretraining, no download. Shows how much transfer learning "
            "adds; fine for very simple images (colours, shapes).",
            TrainConfig(
                data="",
                backbone="small_cnn",
                weights="none",
                image_size=96,
                freeze=FreezeConfig(strategy="scratch"),
                augment=_STANDARD_AUGMENT,
                epochs=20,
                optimizer="adam",
                learning_rate=1e-3,
                dropout=0.5,
            ),
        ),
    )
}


def get_recipe(key: str) -> Recipe:
    """Return recipe ``key``; ``ConfigError`` listing the valid ones."""
    return lookup(RECIPES, key, "recipe")
