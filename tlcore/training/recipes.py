"""Recipes: the set-ups that well-known tutorials teach, as complete, pinned configs.

A recipe is every setting a run needs — network, input size, head layers, which layers
train (by index where the tutorial counts layers), optimizers, learning rates, epochs,
phases, augmentation — with the tutorial step each value comes from (``steps``). Nothing
automatic touches it: ``auto_defaults`` is off and ``recipe`` names it in the run's
``spec.json``. A config that differs from its recipe in any of ``PINNED`` is no longer
that recipe (``differences``). A recipe whose network downloads its weights has an offline
variant on EfficientNet-Lite0, whose ImageNet weights come with TransferLab
(``offline_variant``). No TensorFlow is imported here.
"""

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from tlcore.config import AugmentConfig, FreezeConfig, TrainConfig
from tlcore.registry import lookup

PINNED = (
    "backbone",
    "weights",
    "image_size",
    "resize_mode",
    "freeze",
    "augment",
    "two_phase",
    "head_epochs",
    "epochs",
    "batch_size",
    "optimizer",
    "learning_rate",
    "fine_tune_learning_rate",
    "fine_tune_optimizer",
    "pooling",
    "head_units",
    "dropout",
    "early_stopping_patience",
    "class_weighting",
    "solve_head",
    "schedule",
    "warmup_epochs",
    "cross_validate",
    "auto_defaults",
)
"""The settings a recipe fixes; the dataset, its split, the seed and the name stay the
person's."""

OFFLINE_BACKBONE = "efficientnet_lite0"

_DLWP = "Deep Learning with Python (Chollet, 2nd ed.), chapter 8"
_TF = "TensorFlow tutorial 'Transfer learning and fine-tuning' (MobileNetV2)"
_KERAS = "Keras guide 'Transfer learning & fine-tuning' (Xception)"


@dataclass(frozen=True)
class Recipe:
    """A named, pinned set-up: display name, its tutorial, when it fits, the config.

    ``steps`` maps a ``TrainConfig`` field to the tutorial line it comes from;
    ``offline`` holds what else changes (beyond the network and its input size) in the
    closest variant on EfficientNet-Lite0, e.g. where fine-tuning starts.
    """

    key: str
    display_name: str
    tutorial: str
    when: str
    template: TrainConfig
    steps: dict[str, str] = field(default_factory=dict)
    offline: dict[str, Any] = field(default_factory=dict)

    def config(self, data: str) -> TrainConfig:
        """The recipe's config for ``data`` (its name recorded in ``recipe``)."""
        return self.template.replace(data=data, recipe=self.key)

    def offline_variant(self) -> "Recipe | None":
        """The closest recipe on EfficientNet-Lite0 (no download), or None if not needed."""
        if self.template.weights != "imagenet":
            return None
        changes = {"backbone": OFFLINE_BACKBONE, "image_size": None, **self.offline}
        return Recipe(
            f"{self.key}_lite0",
            f"{self.display_name}, on EfficientNet-Lite0 (offline)",
            self.tutorial,
            f"{self.display_name} with EfficientNet-Lite0 in place of "
            f"{_backbone_name(self.template.backbone)}: its ImageNet weights come with "
            "TransferLab, so nothing downloads. Everything else as in the tutorial.",
            self.template.replace(**changes),
            {
                **self.steps,
                "backbone": "Not the tutorial's: EfficientNet-Lite0 works offline.",
                "image_size": "EfficientNet-Lite0's own input size.",
                **(
                    {
                        "freeze": "Not the tutorial's: the same place in EfficientNet-Lite0's "
                        f"stages (the tutorial: {self.steps.get('freeze', '—')})."
                    }
                    if "freeze" in self.offline
                    else {}
                ),
            },
        )


def _backbone_name(key: str) -> str:
    from tlcore.models.backbones import get_backbone

    return get_backbone(key).display_name


def needs_download(config: TrainConfig) -> bool:
    """True when ``config`` starts from ImageNet weights that are not on this computer."""
    if config.weights != "imagenet":
        return False
    from tlcore.models.backbones import get_backbone
    from tlcore.models.weights import imagenet_ready

    size = config.image_size or get_backbone(config.backbone).default_size
    return not imagenet_ready(config.backbone, size)


def differences(config: TrainConfig, recipe: Recipe) -> list[str]:
    """The pinned settings in which ``config`` is not ``recipe`` (empty: it is the recipe)."""
    return [name for name in PINNED if getattr(config, name) != getattr(recipe.template, name)]


def _pinned(**settings: Any) -> TrainConfig:
    """A recipe's config: the tutorials' plain training (no automatic defaults, no early
    stopping, constant learning rate, no class weights, images stretched to the square as
    ``image_dataset_from_directory`` and ``tf.image.resize`` do)."""
    base = {
        "data": "",
        "weights": "imagenet",
        "resize_mode": "stretch",
        "batch_size": 32,
        "early_stopping_patience": 0,
        "class_weighting": "off",
        "schedule": "constant",
        "solve_head": False,
        "auto_defaults": False,
    }
    return TrainConfig(**{**base, **settings})


_BOOK_AUGMENT = AugmentConfig.of(flip_horizontal=1.0, rotation=0.1, zoom=0.2)
_BOOK_AUGMENT_STEP = "RandomFlip('horizontal'), RandomRotation(0.1), RandomZoom(0.2)"
_VGG_HEAD_STEPS = {
    "pooling": "layers.Flatten()",
    "head_units": "layers.Dense(256)",
    "dropout": "layers.Dropout(0.5)",
    "optimizer": 'model.compile(optimizer="rmsprop") — learning rate 0.001, its default',
    "learning_rate": "RMSprop's default, 0.001",
    "image_size": "image_dataset_from_directory(..., image_size=(180, 180))",
    "batch_size": "batch_size=32",
}

_RECIPES = (
    Recipe(
        "vgg16_feature_extraction",
        "VGG16 fast feature extraction",
        _DLWP + ", 'Fast feature extraction without data augmentation'",
        "A few hundred images and a CPU: the frozen VGG16 base computes its features once, "
        "and a small dense head trains on them in minutes.",
        _pinned(
            backbone="vgg16",
            image_size=180,
            freeze=FreezeConfig(strategy="feature-extraction"),
            pooling="flatten",
            head_units=(256,),
            dropout=0.5,
            optimizer="rmsprop",
            learning_rate=1e-3,
            epochs=20,
        ),
        {
            **_VGG_HEAD_STEPS,
            "freeze": "conv_base.predict(...): the convolutional base only computes features",
            "epochs": "model.fit(..., epochs=20)",
        },
        {},
    ),
    Recipe(
        "vgg16_augmented",
        "VGG16 feature extraction with augmentation",
        _DLWP + ", 'Feature extraction together with data augmentation'",
        "Same network and head, the base frozen inside the model, with flips, rotations and "
        "zoom: slower per epoch, overfits less on small datasets.",
        _pinned(
            backbone="vgg16",
            image_size=180,
            freeze=FreezeConfig(strategy="feature-extraction"),
            augment=_BOOK_AUGMENT,
            pooling="flatten",
            head_units=(256,),
            dropout=0.5,
            optimizer="rmsprop",
            learning_rate=1e-3,
            epochs=50,
        ),
        {
            **_VGG_HEAD_STEPS,
            "freeze": "conv_base.trainable = False",
            "augment": _BOOK_AUGMENT_STEP,
            "epochs": "model.fit(..., epochs=50)",
        },
        {},
    ),
    Recipe(
        "vgg16_fine_tune_block5",
        "VGG16 fine-tuning its last block",
        _DLWP + ", 'Fine-tuning a pretrained model'",
        "When feature extraction plateaus: the augmented model above (50 epochs), then its "
        "top four layers (block5's convolutions and pooling) also train at 1e-5.",
        _pinned(
            backbone="vgg16",
            image_size=180,
            freeze=FreezeConfig(strategy="fine-tune", unfreeze_top=4),
            augment=_BOOK_AUGMENT,
            pooling="flatten",
            head_units=(256,),
            dropout=0.5,
            optimizer="rmsprop",
            learning_rate=1e-3,
            two_phase=True,
            head_epochs=50,
            epochs=80,
            fine_tune_learning_rate=1e-5,
        ),
        {
            **_VGG_HEAD_STEPS,
            "freeze": "for layer in conv_base.layers[:-4]: layer.trainable = False",
            "augment": _BOOK_AUGMENT_STEP,
            "two_phase": "first the augmented feature-extraction model, then fine-tuning",
            "head_epochs": "the feature-extraction model: epochs=50",
            "epochs": "then model.fit(..., epochs=30): 50 + 30",
            "fine_tune_learning_rate": "keras.optimizers.RMSprop(learning_rate=1e-5)",
        },
        {"freeze": FreezeConfig(strategy="fine-tune", unfreeze_from="block7a")},
    ),
    Recipe(
        "small_cnn_scratch",
        "Small CNN from scratch",
        _DLWP + ", 'Training a convnet from scratch on a small dataset'",
        "The baseline: no pretraining, no download. Shows how much transfer learning adds. "
        "TransferLab's Small CNN stands in for the book's five convolutions.",
        _pinned(
            backbone="small_cnn",
            weights="none",
            image_size=180,
            freeze=FreezeConfig(strategy="scratch"),
            augment=_BOOK_AUGMENT,
            pooling="flatten",
            dropout=0.5,
            optimizer="rmsprop",
            learning_rate=1e-3,
            epochs=100,
        ),
        {
            "backbone": "Conv2D / MaxPooling2D blocks (TransferLab's Small CNN)",
            "image_size": "image_size=(180, 180)",
            "augment": _BOOK_AUGMENT_STEP,
            "pooling": "layers.Flatten()",
            "dropout": "layers.Dropout(0.5)",
            "optimizer": 'optimizer="rmsprop" (learning rate 0.001)',
            "epochs": "model.fit(..., epochs=100) with augmentation",
        },
        {},
    ),
    Recipe(
        "mobilenet_v2_fine_tune_100",
        "MobileNetV2 fine-tuned from layer 100",
        _TF,
        "A fast, small network: the head first with the base frozen, then layers 100 and up "
        "at a tenth of the learning rate. Good on a laptop.",
        _pinned(
            backbone="mobilenet_v2",
            image_size=160,
            freeze=FreezeConfig(
                strategy="fine-tune", unfreeze_from="100", batchnorm_scale_trains=True
            ),
            augment=AugmentConfig.of(flip_horizontal=1.0, rotation=0.2),
            dropout=0.2,
            optimizer="adam",
            learning_rate=1e-4,
            two_phase=True,
            head_epochs=10,
            epochs=20,
            fine_tune_optimizer="rmsprop",
            fine_tune_learning_rate=1e-5,
        ),
        {
            "image_size": "IMG_SIZE = (160, 160)",
            "augment": "RandomFlip('horizontal'), RandomRotation(0.2)",
            "pooling": "tf.keras.layers.GlobalAveragePooling2D()",
            "dropout": "tf.keras.layers.Dropout(0.2)",
            "optimizer": "tf.keras.optimizers.Adam(learning_rate=base_learning_rate)",
            "learning_rate": "base_learning_rate = 0.0001",
            "two_phase": "base_model.trainable = False, then base_model.trainable = True",
            "head_epochs": "initial_epochs = 10",
            "epochs": "total_epochs = initial_epochs + fine_tune_epochs (10 + 10)",
            "freeze": "fine_tune_at = 100; for layer in base_model.layers[:fine_tune_at]: "
            "layer.trainable = False (BatchNorm runs in inference mode: training=False)",
            "fine_tune_optimizer": "tf.keras.optimizers.RMSprop(...) for fine-tuning",
            "fine_tune_learning_rate": "learning_rate=base_learning_rate/10",
            "batch_size": "BATCH_SIZE = 32",
        },
        {
            "freeze": FreezeConfig(
                strategy="fine-tune", unfreeze_from="block5a", batchnorm_scale_trains=True
            )
        },
    ),
    Recipe(
        "xception_feature_extraction",
        "Xception feature extraction",
        _KERAS + ", 'The typical transfer-learning workflow'",
        "The guide's first workflow: the frozen base, global average pooling and one Dense "
        "layer, trained with Adam for 20 epochs.",
        _pinned(
            backbone="xception",
            image_size=150,
            freeze=FreezeConfig(strategy="feature-extraction"),
            dropout=0.0,
            optimizer="adam",
            learning_rate=1e-3,
            epochs=20,
        ),
        {
            "image_size": "input_shape=(150, 150, 3)",
            "freeze": "base_model.trainable = False; base_model(inputs, training=False)",
            "pooling": "keras.layers.GlobalAveragePooling2D()",
            "dropout": "no dropout: GlobalAveragePooling2D, then Dense",
            "optimizer": "keras.optimizers.Adam() (learning rate 0.001)",
            "epochs": "model.fit(new_dataset, epochs=20, ...)",
        },
        {},
    ),
    Recipe(
        "xception_two_phase",
        "Xception two-phase",
        _KERAS + ", 'An end-to-end example: fine-tuning ... cats vs. dogs'",
        "The guide's end-to-end example: the head first with the backbone frozen, then "
        "everything unfrozen at 1e-5 with BatchNorm in inference mode. Best with a GPU.",
        _pinned(
            backbone="xception",
            image_size=150,
            freeze=FreezeConfig(strategy="full", batchnorm_scale_trains=True),
            augment=AugmentConfig.of(flip_horizontal=1.0, rotation=0.1),
            dropout=0.2,
            optimizer="adam",
            learning_rate=1e-3,
            two_phase=True,
            head_epochs=20,
            epochs=30,
            fine_tune_learning_rate=1e-5,
        ),
        {
            "image_size": "size = (150, 150)",
            "augment": "layers.RandomFlip('horizontal'), layers.RandomRotation(0.1)",
            "pooling": "keras.layers.GlobalAveragePooling2D()",
            "dropout": "keras.layers.Dropout(0.2)",
            "optimizer": "keras.optimizers.Adam() (learning rate 0.001)",
            "two_phase": "'Train the top layer', then 'Do a round of fine-tuning'",
            "head_epochs": "epochs = 20",
            "epochs": "then epochs = 10: 20 + 10",
            "freeze": "base_model.trainable = True, called with training=False",
            "fine_tune_learning_rate": "keras.optimizers.Adam(1e-5)",
        },
        {},
    ),
)

RECIPES: dict[str, Recipe] = {r.key: r for r in _RECIPES}
OFFLINE_RECIPES: dict[str, Recipe] = {
    v.key: v for v in (r.offline_variant() for r in _RECIPES) if v is not None
}


def get_recipe(key: str) -> Recipe:
    """Return recipe ``key`` (or its offline variant); ``ConfigError`` listing the valid ones."""
    return lookup({**RECIPES, **OFFLINE_RECIPES}, key, "recipe")


def recipe_of(config: TrainConfig) -> Recipe | None:
    """The recipe ``config`` still is (its ``recipe`` named and nothing pinned changed)."""
    recipe = {**RECIPES, **OFFLINE_RECIPES}.get(config.recipe)
    if recipe is None or differences(config, recipe):
        return None
    return recipe


def as_recipe_or_not(config: TrainConfig) -> TrainConfig:
    """``config`` with ``recipe`` kept only while it still is that recipe."""
    if config.recipe and recipe_of(config) is None:
        return dataclasses.replace(config, recipe="")
    return config
