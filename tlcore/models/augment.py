"""Data augmentation: random changes to training images, built from Keras' own layers.

The layers live inside the model (a ``keras.Sequential`` named ``augmentation``), so they
act only while training and are the identity at inference and after export. Strength is a
fraction: rotation 0.1 = up to 10% of a full turn, zoom 0.2 = up to 20% in or out,
translation 0.1 = up to 10% of the side, contrast/brightness 0.2 = up to 20%.
"""

from dataclasses import dataclass
from typing import Any

from tlcore.config import AugmentConfig
from tlcore.errors import ConfigError


@dataclass(frozen=True)
class Augmentation:
    """One augmentation toggle: display name, default strength, and how to build it."""

    key: str
    display_name: str
    description: str
    default_strength: float
    uses_strength: bool = True
    aliases: tuple[str, ...] = ()


AUGMENTATIONS: dict[str, Augmentation] = {
    a.key: a
    for a in (
        Augmentation(
            "flip_horizontal",
            "Horizontal flip",
            "Mirror left-right (fine for most photos; not for text or left/right classes).",
            1.0,
            False,
            ("flip", "hflip"),
        ),
        Augmentation(
            "flip_vertical",
            "Vertical flip",
            "Mirror upside down (for images without an up, e.g. microscopy or satellite).",
            1.0,
            False,
            ("vflip",),
        ),
        Augmentation(
            "rotation",
            "Rotation",
            "Turn by a random angle, up to the one chosen (strength 0.1 = 36°, a tenth of a turn).",
            0.1,
            aliases=("rotate",),
        ),
        Augmentation(
            "zoom", "Zoom", "Zoom in or out by up to the share chosen (strength 0.1 = 10%).", 0.1
        ),
        Augmentation(
            "translation",
            "Shift",
            "Move by up to the share of the side chosen (strength 0.1 = 10%).",
            0.1,
            aliases=("translate", "shift"),
        ),
        Augmentation(
            "contrast",
            "Contrast",
            "Change contrast by up to the share chosen (strength 0.2 = 20%).",
            0.2,
        ),
        Augmentation(
            "brightness",
            "Brightness",
            "Brighten or darken by up to the share chosen (strength 0.2 = 20%).",
            0.2,
        ),
    )
}

_ALIASES = {alias: a.key for a in AUGMENTATIONS.values() for alias in (a.key, *a.aliases)}


def get_augmentation(name: str) -> Augmentation:
    """Look up an augmentation by key or alias; ``ConfigError`` listing the valid names."""
    try:
        return AUGMENTATIONS[_ALIASES[name.strip().lower()]]
    except KeyError:
        raise ConfigError(
            f"Unknown augmentation '{name}'. Choose from: "
            f"{', '.join(AUGMENTATIONS)} (or flip, rotate)."
        ) from None


def parse_augment(text: str) -> AugmentConfig:
    """Parse ``"flip,rotate=0.1,zoom"`` (name or alias, optional ``=strength``).

    An empty string or ``none`` means no augmentation; a name without a strength gets its
    default.
    """
    strengths: dict[str, float] = {}
    for part in (text or "").split(","):
        part = part.strip()
        if not part or part.lower() == "none":
            continue
        name, _, value = part.partition("=")
        aug = get_augmentation(name)
        try:
            strength = float(value) if value.strip() else aug.default_strength
        except ValueError:
            raise ConfigError(
                f"Augmentation strength must be a number, e.g. rotate=0.1 (got '{part}')."
            ) from None
        strengths[aug.key] = strength
    cfg = AugmentConfig.of(**strengths)
    cfg.validate()
    return cfg


def format_augment(cfg: AugmentConfig) -> str:
    """The inverse of ``parse_augment`` (for showing a config as text)."""
    return ",".join(k if not AUGMENTATIONS[k].uses_strength else f"{k}={v:g}" for k, v in cfg.ops)


def _layer(key: str, strength: float, seed: int) -> Any:
    from keras import layers

    name = f"aug_{key}"
    if key == "flip_horizontal":
        return layers.RandomFlip("horizontal", seed=seed, name=name)
    if key == "flip_vertical":
        return layers.RandomFlip("vertical", seed=seed, name=name)
    if key == "rotation":
        return layers.RandomRotation(strength, seed=seed, name=name)
    if key == "zoom":
        return layers.RandomZoom(strength, seed=seed, name=name)
    if key == "translation":
        return layers.RandomTranslation(strength, strength, seed=seed, name=name)
    if key == "contrast":
        return layers.RandomContrast(strength, value_range=(0, 255), seed=seed, name=name)
    if key == "brightness":
        return layers.RandomBrightness(strength, value_range=(0, 255), seed=seed, name=name)
    raise ConfigError(f"Unknown augmentation '{key}'.")


def build_augmentation(cfg: AugmentConfig, seed: int = 0) -> Any:
    """Return a ``keras.Sequential`` named ``augmentation``, or ``None`` when nothing is on.

    It acts only when called with ``training=True`` (as ``fit`` does) and passes images
    through unchanged otherwise. Input and output are float 0-255 RGB.
    """
    import keras

    cfg.validate()
    ops = [
        (aug.key, s)
        for aug, s in ((get_augmentation(k), s) for k, s in cfg.ops)
        if s > 0 or not aug.uses_strength
    ]  # strength 0 = off; flips have no strength
    if not ops:
        return None
    return keras.Sequential(
        [_layer(k, s, seed + i) for i, (k, s) in enumerate(ops)], name="augmentation"
    )


def preview_augmentation(images: Any, cfg: AugmentConfig, n: int = 4, seed: int = 0) -> Any:
    """Return ``n`` augmented versions of each image: uint8 array ``(N, n, S, S, 3)``.

    Args:
        images: uint8 array ``(N, S, S, 3)``.
        cfg: the augmentation setting to show.
        n: versions per image.
        seed: makes the preview repeatable.
    """
    import numpy as np

    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ConfigError(f"Preview needs images shaped (N, S, S, 3), got {images.shape}.")
    layer = build_augmentation(cfg, seed)
    batch = images.astype("float32")
    versions = []
    for _ in range(n):
        out = batch if layer is None else np.asarray(layer(batch, training=True))
        versions.append(np.clip(np.rint(out), 0, 255).astype(np.uint8))
    return np.stack(versions, axis=1)
