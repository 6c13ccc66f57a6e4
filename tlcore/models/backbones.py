"""The backbone registry: which feature extractors TransferLab offers.

Importing this module never imports TensorFlow: each spec names its ``keras.applications``
builder as a string; ``tlcore.models.backbone_models`` builds the Keras models. The UI lists
``BACKBONES``; the CLI and saved specs use the keys.
"""

from dataclasses import dataclass
from typing import Any

from tlcore.errors import ConfigError
from tlcore.registry import lookup

PREPROCESS_KINDS = ("tf", "caffe", "torch", "none", "unit", "lite")
"""How raw 0-255 RGB becomes what the backbone expects: ``tf`` x/127.5-1, ``caffe``
RGB->BGR minus the ImageNet mean, ``torch`` /255 then per-channel mean/std, ``none`` the
backbone does it itself, ``unit`` x/255 (the small CNN), ``lite`` (x-127)/128
(EfficientNet-Lite). ``from_run`` / ``from_file`` mark backbones whose preprocessing comes
with the model."""


@dataclass(frozen=True)
class BackboneSpec:
    """One entry of the backbone registry.

    Attributes:
        key: short snake_case name used by the CLI and saved specs.
        display_name: what the UI shows.
        description: one plain-language line (size, speed, accuracy trade-off).
        default_size: input size in px used when the config gives none.
        min_size: smallest input size the architecture accepts.
        preprocess: a ``PREPROCESS_KINDS`` value, ``from_run`` or ``from_file``.
        params_millions: parameters without the classification top (approximate).
        builder: ``keras.applications`` function name, or ``""`` for the special ones.
        pretrained: True when ``imagenet`` weights exist for it.
        weights_hint: what ``weights`` must be for this backbone (empty = the usual choices).
        bundled_weights: its ImageNet weights come from a pip-installed package, so they
            work offline (no download).
    """

    key: str
    display_name: str
    description: str
    default_size: int
    min_size: int
    preprocess: str
    params_millions: float
    builder: str = ""
    pretrained: bool = True
    weights_hint: str = ""
    bundled_weights: bool = False


def _spec(*args: Any, **kwargs: Any) -> tuple[str, BackboneSpec]:
    spec = BackboneSpec(*args, **kwargs)
    return spec.key, spec


BACKBONES: dict[str, BackboneSpec] = dict(
    [
        _spec(
            "efficientnet_lite0",
            "EfficientNet-Lite0",
            "Installed with TransferLab, works offline. Small (3.4M) and fast on a CPU: "
            "EfficientNet made for phones; the recommended start.",
            224,
            32,
            "lite",
            3.41,
            bundled_weights=True,
        ),
        _spec(
            "efficientnet_lite1",
            "EfficientNet-Lite1",
            "Installed with TransferLab, works offline. 4.2M; a little more accurate and "
            "slower than Lite0, made for 240 px.",
            240,
            32,
            "lite",
            4.19,
            bundled_weights=True,
        ),
        _spec(
            "efficientnet_lite2",
            "EfficientNet-Lite2",
            "Installed with TransferLab, works offline. 4.9M; more accurate again and "
            "slower, made for 260 px.",
            260,
            32,
            "lite",
            4.87,
            bundled_weights=True,
        ),
        _spec(
            "mobilenet_v2",
            "MobileNetV2",
            "Small (2.3M) and fast; a good first choice on a "
            "laptop CPU, accuracy a little below the big networks.",
            224,
            32,
            "tf",
            2.26,
            "MobileNetV2",
        ),
        _spec(
            "mobilenet_v3_small",
            "MobileNetV3 Small",
            "Tiny (0.9M) and the fastest; for phones and quick experiments, the least accurate.",
            224,
            32,
            "none",
            0.94,
            "MobileNetV3Small",
        ),
        _spec(
            "mobilenet_v3_large",
            "MobileNetV3 Large",
            "Small (3M) and fast, more accurate than MobileNetV2 at about the same speed.",
            224,
            32,
            "none",
            3.0,
            "MobileNetV3Large",
        ),
        _spec(
            "efficientnet_b0",
            "EfficientNetB0",
            "Small (4M), very accurate for its size; somewhat slower than MobileNet on a CPU.",
            224,
            32,
            "none",
            4.05,
            "EfficientNetB0",
        ),
        _spec(
            "efficientnet_v2_b0",
            "EfficientNetV2B0",
            "Small (6M), accurate and trains faster than EfficientNetB0.",
            224,
            32,
            "none",
            5.92,
            "EfficientNetV2B0",
        ),
        _spec(
            "resnet50",
            "ResNet50",
            "Medium (24M), the classic; solid accuracy, slow on a CPU.",
            224,
            32,
            "caffe",
            23.59,
            "ResNet50",
        ),
        _spec(
            "resnet50_v2",
            "ResNet50V2",
            "Medium (24M); ResNet50 improved, slightly more accurate, about as slow.",
            224,
            32,
            "tf",
            23.56,
            "ResNet50V2",
        ),
        _spec(
            "vgg16",
            "VGG16",
            "Large (15M conv, heavy compute); simple and famous from "
            "tutorials, slow and less accurate than newer networks.",
            224,
            32,
            "caffe",
            14.71,
            "VGG16",
        ),
        _spec(
            "xception",
            "Xception",
            "Medium (21M), accurate; needs at least 71 px and is slow on a CPU.",
            299,
            71,
            "tf",
            20.86,
            "Xception",
        ),
        _spec(
            "inception_v3",
            "InceptionV3",
            "Medium (22M), accurate; needs at least 75 px, slow on a CPU.",
            299,
            75,
            "tf",
            21.8,
            "InceptionV3",
        ),
        _spec(
            "densenet121",
            "DenseNet121",
            "Small in parameters (7M) but compute-heavy; accurate, slowish.",
            224,
            32,
            "torch",
            7.04,
            "DenseNet121",
        ),
        _spec(
            "convnext_tiny",
            "ConvNeXt Tiny",
            "Large (28M), the most accurate here; the slowest on a CPU, best with a GPU.",
            224,
            32,
            "none",
            27.82,
            "ConvNeXtTiny",
        ),
        _spec(
            "small_cnn",
            "Small CNN (from scratch)",
            "A tiny network (0.24M) trained from "
            "scratch: the baseline that shows what pretrained features add.",
            96,
            32,
            "unit",
            0.24,
            "",
            pretrained=False,
            weights_hint="none",
        ),
        _spec(
            "my_model",
            "One of my models",
            "The feature part of a model you trained earlier "
            "here; works offline, good when your earlier data resembles the new data.",
            224,
            16,
            "from_run",
            0.0,
            "",
            pretrained=False,
            weights_hint="run:<id>",
        ),
        _spec(
            "keras_file",
            "A Keras model file",
            "Your own .keras model, loaded in safe mode; "
            "its convolutional part becomes the feature extractor.",
            224,
            16,
            "from_file",
            0.0,
            "",
            pretrained=False,
            weights_hint="path to a .keras model file",
        ),
    ]
)


def get_backbone(key: str) -> BackboneSpec:
    """Return the spec for ``key``; raise ``ConfigError`` listing the valid keys."""
    return lookup(BACKBONES, key, "backbone")


def check_image_size(spec: BackboneSpec, size: int) -> None:
    """Raise ``ConfigError`` when ``size`` is below what ``spec`` accepts."""
    if size < spec.min_size:
        raise ConfigError(
            f"{spec.display_name} needs images of at least {spec.min_size} px (got {size})."
        )
