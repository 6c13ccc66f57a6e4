"""The classifier: raw RGB pixels in, class probabilities out, everything inside one model.

Top-level layers, in order and by these exact names (training, Grad-CAM and export rely on
them): input ``image`` (float32 0-255 RGB, (S, S, 3)) -> ``augmentation`` (only when
enabled; identity at inference) -> ``preprocess`` -> ``backbone`` (nested model, called
with ``training=False`` unless BatchNorm trains) -> ``pool`` (global average pooling, or
``Flatten`` with ``pooling="flatten"``) -> ``hidden_1`` ... (``Dense(units, relu)``, one per
``head_units`` entry) -> ``dropout`` -> ``predictions`` (softmax). Only built-in Keras
layers are used, so the saved ``.keras`` loads with
``keras.models.load_model(path, safe_mode=True)`` without TransferLab.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tlcore.config import TrainConfig
from tlcore.errors import ConfigError
from tlcore.models.backbone_models import build_backbone
from tlcore.models.backbones import BackboneSpec, get_backbone
from tlcore.models.freezing import (
    LayerInfo,
    apply_freeze,
    batchnorm_trains,
    get_strategy,
    list_layers,
    param_counts,
    unavailable_reason,
)

LAYER_NAMES = ("augmentation", "preprocess", "backbone", "pool", "dropout", "predictions")
INPUT_NAME = "image"

# ImageNet statistics used by keras.applications.imagenet_utils.preprocess_input.
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
TORCH_MEAN = (0.485, 0.456, 0.406)
TORCH_STD = (0.229, 0.224, 0.225)


def image_size_for(config: TrainConfig) -> int:
    """The input size a config trains at: its own, else the backbone's (or the run's)."""
    spec = get_backbone(config.backbone)
    if config.image_size:
        return int(config.image_size)
    if spec.key == "my_model":
        from tlcore.models.my_models import run_id_of, run_image_size

        return run_image_size(run_id_of(config.weights))
    if spec.key == "keras_file":
        from tlcore.models.backbone_models import file_input_size

        return file_input_size(config.weights) or spec.default_size
    return spec.default_size


def effective_weights(config: TrainConfig) -> str:
    """The weights actually used: ``none`` for strategies that start from random weights."""
    spec = get_backbone(config.backbone)
    if get_strategy(config.freeze.strategy).forces_random_weights:
        reason = unavailable_reason(config.freeze.strategy, spec)
        if reason:
            raise ConfigError(reason)
        return "none"
    if not spec.pretrained and spec.key == "small_cnn" and config.weights == "imagenet":
        return "none"  # the small CNN has nothing pretrained; imagenet is the CLI default
    return config.weights


def preprocess_layer(kind: str, name: str = "preprocess") -> Any:
    """A built-in Keras layer that does a backbone family's ``preprocess_input``.

    ``tf``: x/127.5 - 1; ``caffe``: RGB->BGR then minus the ImageNet mean (a frozen 1x1
    convolution, because no built-in layer reorders channels); ``torch``: x/255 then
    per-channel mean/std; ``unit``: x/255; ``none``: identity (the backbone does it).
    """
    import numpy as np
    from keras import layers

    if kind == "tf":
        return layers.Rescaling(1 / 127.5, offset=-1.0, name=name)
    if kind == "unit":
        return layers.Rescaling(1 / 255.0, name=name)
    if kind == "lite":
        from tlcore.models.efficientnet_lite import preprocess_layer as lite_preprocess

        return lite_preprocess(name)
    if kind == "torch":
        mean = [255.0 * m for m in TORCH_MEAN]
        variance = [(255.0 * s) ** 2 for s in TORCH_STD]
        return layers.Normalization(mean=mean, variance=variance, name=name)
    if kind == "caffe":
        kernel = np.zeros((1, 1, 3, 3), dtype="float32")
        for out_channel, in_channel in enumerate((2, 1, 0)):  # BGR <- RGB
            kernel[0, 0, in_channel, out_channel] = 1.0
        bias = -np.array(CAFFE_MEAN_BGR, dtype="float32")
        conv = layers.Conv2D(
            3,
            1,
            name=name,
            trainable=False,
            kernel_initializer=_constant(kernel),
            bias_initializer=_constant(bias),
        )
        return conv
    if kind in ("none", "from_file"):
        return layers.Identity(name=name)
    raise ConfigError(f"Unknown preprocessing '{kind}'.")


def _constant(values: Any) -> Any:
    import keras

    return keras.initializers.Constant(values.tolist())


def build_classifier(
    config: TrainConfig, num_classes: int, progress: Callable[[int, int], None] | None = None
) -> Any:
    """Build the end-to-end classifier for ``config`` (see module doc for its layers).

    Args:
        config: the training config (backbone, weights, image size, freeze, augment,
            dropout, seed).
        num_classes: number of classes (at least 2).
        progress: ``callback(bytes_done, bytes_total)`` while weights download.

    Returns:
        An uncompiled ``keras.Model`` with the freezing plan already applied.
    """
    import keras
    from keras import layers

    from tlcore.models.augment import build_augmentation

    if num_classes < 2:
        raise ConfigError(f"A classifier needs at least 2 classes (got {num_classes}).")
    config.freeze.validate()
    config.augment.validate()
    spec: BackboneSpec = get_backbone(config.backbone)
    size = image_size_for(config)
    weights = effective_weights(config)
    preprocess, backbone = build_feature_part(spec, size, weights, progress)
    apply_freeze(backbone, config.freeze)

    inputs = keras.Input((size, size, 3), dtype="float32", name=INPUT_NAME)
    x = inputs
    augmentation = build_augmentation(config.augment, seed=config.seed)
    if augmentation is not None:
        x = augmentation(x)
    x = preprocess(x)
    # training=False keeps BatchNorm in inference mode even where its block is unfrozen.
    x = backbone(x) if batchnorm_trains(config.freeze) else backbone(x, training=False)
    if config.pooling == "flatten":
        x = layers.Flatten(name="pool")(x)
    else:
        x = layers.GlobalAveragePooling2D(name="pool")(x)
    for i, units in enumerate(config.head_units, start=1):
        x = layers.Dense(
            units,
            activation="relu",
            name=f"hidden_{i}",
            kernel_initializer=keras.initializers.GlorotUniform(config.seed + i),
        )(x)
    x = layers.Dropout(config.dropout, seed=config.seed, name="dropout")(x)
    outputs = layers.Dense(
        num_classes,
        activation="softmax",
        name="predictions",
        kernel_initializer=keras.initializers.GlorotUniform(config.seed),
    )(x)
    return keras.Model(inputs, outputs, name=f"transferlab_{spec.key}")


def build_feature_part(
    spec: BackboneSpec,
    image_size: int,
    weights: str,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[Any, Any]:
    """Return ``(preprocess layer, backbone model)`` for a backbone spec and weights.

    For ``my_model`` both come from the earlier run's saved model (loaded once).
    """
    if spec.key == "my_model":
        from tlcore.models.my_models import check_run_size, run_feature_layers, run_id_of

        run_id = run_id_of(weights)
        preprocess, backbone = run_feature_layers(run_id)
        check_run_size(run_id, backbone, image_size)
        return preprocess, backbone
    return (
        preprocess_layer(spec.preprocess),
        build_backbone(spec.key, image_size, weights, progress),
    )


@dataclass(frozen=True)
class PlanSummary:
    """What a config will train, known before training: the layer list and the counts.

    ``layers`` are the backbone's layers with the plan's trainable flags; the counts are
    for the whole classifier (head included), as Keras counts them.
    """

    image_size: int
    weights: str
    layers: tuple[LayerInfo, ...]
    trainable_params: int
    non_trainable_params: int

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-friendly dict."""
        return {
            "image_size": self.image_size,
            "weights": self.weights,
            "layers": [li.to_dict() for li in self.layers],
            "trainable_params": self.trainable_params,
            "non_trainable_params": self.non_trainable_params,
        }


def plan_summary(config: TrainConfig, num_classes: int = 2) -> PlanSummary:
    """Describe ``config``'s freezing plan without training and without downloading.

    Pretrained weights change neither the layers nor the counts, so standard backbones are
    built with random weights here (fast, works offline).
    """
    weights = effective_weights(config)
    spec = get_backbone(config.backbone)
    build_config = config
    if spec.key not in ("my_model", "keras_file"):
        build_config = config.replace(weights="none")
    model = build_classifier(build_config, num_classes)
    trainable, frozen = param_counts(model)
    return PlanSummary(
        image_size_for(config), weights, tuple(list_layers(backbone_of(model))), trainable, frozen
    )


def backbone_of(model: Any) -> Any:
    """The nested ``backbone`` model of a classifier built here."""
    return model.get_layer("backbone")
