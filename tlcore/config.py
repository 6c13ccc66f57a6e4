"""The training configuration: frozen dataclasses that round-trip through JSON.

The UI builds a ``TrainConfig``, the CLI builds one, the worker runs one; ``spec.json``
in a run folder holds one. Nothing here imports TensorFlow. Names that refer to a
registry (backbone, strategy, augmentation) are checked by the module that owns the
registry; this module checks only what it can see by itself (ranges, types).
"""

import dataclasses
import json
import math
from dataclasses import dataclass, field
from typing import Any

from tlcore.errors import ConfigError

RESIZE_MODES = ("pad", "crop", "stretch")
"""How an image becomes a square: ``pad`` keeps the whole image (the default: it loses
nothing), ``crop`` takes the largest centred square, ``stretch`` distorts to fit."""

CLASS_WEIGHTING = ("auto", "on", "off")
POOLINGS = ("avg", "flatten")
"""How the backbone's feature map becomes one vector: ``avg`` global average pooling (the
default), ``flatten`` every position kept (the VGG16 tutorials' ``Flatten``)."""
OPTIMIZERS = ("adam", "sgd", "rmsprop")
SCHEDULES = ("constant", "none", "cosine")
HEAD_FEATURES = ("last", "multi", "auto")
HEAD_VIEWS = ("none", "auto")
"""``none`` (the default): the solved head never sees mirror images; ``auto`` (the person
asked for it, and orientation does not matter in their images): features averaged with
the mirror image's are a candidate in the head's cross-validation. Not on by default: the
extra pass cost up to 1.41x the last-layer probe's CPU time end to end, over
the 1.3x the default may cost, and never won on the benchmark sets (BENCHMARKS.md)."""
"""What a solved head reads (``tlcore.training.multilayer_solve``): the last layer's pooled
features, several layers' (``multi``), or whichever cross-validates better (``auto``)."""

MIN_IMAGE_SIZE, MAX_IMAGE_SIZE = 16, 1024
"""Input sizes TransferLab trains and predicts at, whether chosen or declared by a model
file (2048 px already means a 577 MB cache and 5.4 GB of memory for 24 small images)."""

MAX_SEED = 2**32 - 1  # NumPy and Keras take seeds from 0 to 2**32 - 1


def check_image_size(size: int | None) -> None:
    """Raise ``ConfigError`` for an image size outside ``MIN_IMAGE_SIZE..MAX_IMAGE_SIZE``."""
    if size is not None and not MIN_IMAGE_SIZE <= size <= MAX_IMAGE_SIZE:
        raise ConfigError(
            f"Image size must be between {MIN_IMAGE_SIZE} and {MAX_IMAGE_SIZE} px (got {size})."
        )


def check_seed(seed: object) -> None:
    """Raise ``ConfigError`` unless ``seed`` is a whole number NumPy and Keras accept."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise ConfigError(f"The seed must be a whole number from 0 to {MAX_SEED} (got {seed}).")


DEFAULT_BACKBONE = "efficientnet_lite0"
"""EfficientNet-Lite0: ImageNet weights installed with TransferLab by pip, so it works offline."""


@dataclass(frozen=True)
class SplitConfig:
    """How images are divided into train / validation / test.

    A dataset that comes with its own ``train/ val/ test/`` folders keeps them and these
    fractions are not used. ``split_file`` reuses a split saved earlier (exact same files).
    """

    val_fraction: float = 0.2
    test_fraction: float = 0.1
    seed: int = 42
    split_file: str | None = None

    def validate(self) -> None:
        """Raise ``ConfigError`` if the fractions cannot make a split."""
        for name in ("val_fraction", "test_fraction"):
            value = getattr(self, name)
            if not 0.0 <= value < 1.0:
                raise ConfigError(f"{name} must be between 0 and 1 (got {value}).")
        check_seed(self.seed)
        if self.val_fraction + self.test_fraction >= 0.9:
            raise ConfigError(
                "Validation and test together must leave at least 10% of the images for "
                f"training (got {self.val_fraction + self.test_fraction:.0%} held out)."
            )


@dataclass(frozen=True)
class FreezeConfig:
    """Which backbone layers train: a strategy name plus its arguments.

    ``strategy`` is a key of ``tlcore.models.freezing.STRATEGIES``: ``feature-extraction``,
    ``fine-tune`` (with ``unfreeze_top`` or ``unfreeze_from``), ``full``, ``scratch``,
    ``custom`` (with ``frozen_layers``). BatchNorm layers stay frozen and in inference
    mode unless ``train_batchnorm``. ``batchnorm_scale_trains`` lets the scale and offset of
    BatchNorm layers in retrained layers train while their statistics stay frozen (the
    layers run in inference mode): what ``base_model.trainable = True`` with
    ``base_model(x, training=False)`` does in the TensorFlow and Keras tutorials.
    """

    strategy: str = "feature-extraction"
    unfreeze_top: int | None = None
    unfreeze_from: str | None = None
    frozen_layers: tuple[str, ...] = ()
    train_batchnorm: bool = False
    batchnorm_scale_trains: bool = False

    def validate(self) -> None:
        """Raise ``ConfigError`` for contradictory arguments."""
        if self.unfreeze_top is not None and self.unfreeze_from is not None:
            raise ConfigError(
                "Give either the number of top layers to unfreeze or a layer "
                "to unfreeze from, not both."
            )
        if self.unfreeze_top is not None and self.unfreeze_top < 0:
            raise ConfigError(f"unfreeze_top must be 0 or more (got {self.unfreeze_top}).")


@dataclass(frozen=True)
class AugmentConfig:
    """Data augmentation: operation name -> strength, only the enabled ones.

    Names are keys of ``tlcore.models.augment.AUGMENTATIONS`` (``flip_horizontal``,
    ``flip_vertical``, ``rotation``, ``zoom``, ``translation``, ``contrast``,
    ``brightness``). Strength is a fraction (e.g. rotation 0.1 = up to 10% of a full turn);
    flips ignore it. Stored as sorted pairs so the config stays hashable and stable.
    """

    ops: tuple[tuple[str, float], ...] = ()

    @classmethod
    def of(cls, **strengths: float) -> "AugmentConfig":
        """Build from keyword arguments, e.g. ``AugmentConfig.of(flip_horizontal=1, zoom=.2)``."""
        return cls(tuple(sorted((k, float(v)) for k, v in strengths.items())))

    @property
    def enabled(self) -> bool:
        """True when at least one operation is on."""
        return bool(self.ops)

    def as_dict(self) -> dict[str, float]:
        """Return ``{name: strength}``."""
        return dict(self.ops)

    def validate(self) -> None:
        """Raise ``ConfigError`` for a strength outside 0..1."""
        for name, strength in self.ops:
            if not 0.0 <= strength <= 1.0:
                raise ConfigError(
                    f"Augmentation '{name}' strength must be between 0 and 1 (got {strength})."
                )


@dataclass(frozen=True)
class TrainConfig:
    """Everything needed to reproduce one training run.

    ``data`` is a folder or ``.zip``. ``weights`` is ``imagenet``, ``none``, a path to a
    weights file, or ``run:<id>`` (the feature part of an earlier run). ``image_size``
    ``None`` means the backbone's default. With ``two_phase``, the head first trains for
    ``head_epochs`` with the backbone frozen at ``learning_rate``, then the plan's layers
    unfreeze and train for the remaining epochs at ``fine_tune_learning_rate``.

    ``solve_head`` fits the head on the frozen backbone's cached features exactly
    (``tlcore.training.head_solver``) instead of by gradient, and before any fine-tuning.
    ``schedule`` ``cosine`` warms the learning rate up for ``warmup_epochs``, then decays
    it. ``pooling`` and ``head_units`` shape the new head: pooling, then one
    ``Dense(units, relu)`` per entry, dropout, the softmax layer. ``fine_tune_optimizer``
    (None: ``optimizer``) trains the second phase. ``recipe`` names the recipe this config
    is, unchanged (``tlcore.training.recipes``). ``cross_validate`` reports accuracy over
    ``cv_folds`` folds and trains the final model on every image. With ``auto_defaults``
    the run's settings are chosen from the dataset (``tlcore.training.defaults``) when the
    run is created, except the names in ``chosen`` (what the person set). ``head_features``
    says what a solved head reads when it is the run's only phase: ``last`` (the last
    layer), ``multi`` (several layers) or ``auto`` (the one that cross-validates better;
    ``HEAD_FEATURES``). ``head_views`` (``HEAD_VIEWS``) says whether, with ``auto``
    features, the head may also read each image's features averaged with its mirror
    image's.
    """

    data: str
    backbone: str = DEFAULT_BACKBONE
    weights: str = "imagenet"
    image_size: int | None = None
    resize_mode: str = "pad"
    freeze: FreezeConfig = field(default_factory=FreezeConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    two_phase: bool = False
    head_epochs: int = 2
    epochs: int = 10
    batch_size: int = 32
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    fine_tune_learning_rate: float = 1e-5
    fine_tune_optimizer: str | None = None
    pooling: str = "avg"
    head_units: tuple[int, ...] = ()
    dropout: float = 0.2
    early_stopping_patience: int = 3
    class_weighting: str = "auto"
    split: SplitConfig = field(default_factory=SplitConfig)
    seed: int = 42
    use_cache: bool = True
    tensorboard: bool = False
    name: str = ""
    solve_head: bool = False
    schedule: str = "constant"
    warmup_epochs: int = 0
    cross_validate: bool = False
    cv_folds: int = 5
    auto_defaults: bool = False
    chosen: tuple[str, ...] = ()
    budget_seconds: float | None = None  # a time budget for the run (tlcore.training.budget)
    head_features: str = "last"
    head_views: str = "none"
    recipe: str = ""

    def validate(self) -> None:
        """Raise ``ConfigError`` naming the first setting that cannot work."""
        if not self.data:
            raise ConfigError("No dataset chosen: give a folder or a .zip of images.")
        if self.resize_mode not in RESIZE_MODES:
            raise ConfigError(
                f"Resize mode must be one of {', '.join(RESIZE_MODES)} (got '{self.resize_mode}')."
            )
        if self.class_weighting not in CLASS_WEIGHTING:
            raise ConfigError(f"Class weighting must be one of {', '.join(CLASS_WEIGHTING)}.")
        check_image_size(self.image_size)
        if self.epochs < 1:
            raise ConfigError(f"Train for at least 1 epoch (got {self.epochs}).")
        if self.batch_size < 1:
            raise ConfigError(f"Batch size must be at least 1 (got {self.batch_size}).")
        if self.two_phase and not 1 <= self.head_epochs < self.epochs:
            raise ConfigError(
                "Two-phase training needs head epochs between 1 and one less "
                f"than the total epochs (got {self.head_epochs} of {self.epochs})."
            )
        for name in ("learning_rate", "fine_tune_learning_rate"):
            if not 0.0 < getattr(self, name) < 10.0:
                raise ConfigError(
                    f"{name} must be a small positive number (got {getattr(self, name)})."
                )
        for name, label in (
            ("optimizer", "Optimizer"),
            ("fine_tune_optimizer", "Fine-tune optimizer"),
        ):
            value = getattr(self, name)
            if value is not None and value not in OPTIMIZERS:
                raise ConfigError(
                    f"{label} must be one of {', '.join(OPTIMIZERS)} (got '{value}')."
                )
        if self.pooling not in POOLINGS:
            raise ConfigError(
                f"Pooling must be one of {', '.join(POOLINGS)} (got '{self.pooling}')."
            )
        if any(not isinstance(u, int) or not 1 <= u <= 4096 for u in self.head_units):
            raise ConfigError(
                f"Hidden head layers need 1 to 4096 units each (got {list(self.head_units)})."
            )
        if self.solve_head and (self.head_units or self.pooling != "avg"):
            raise ConfigError(
                "The solved head is one Dense layer on average-pooled features: turn off "
                "solving the head to train hidden layers or a Flatten head by gradient."
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"Dropout must be between 0 and 1 (got {self.dropout}).")
        if self.early_stopping_patience < 0:
            raise ConfigError("Early-stopping patience must be 0 (off) or more.")
        if self.schedule not in SCHEDULES:
            raise ConfigError(
                f"Schedule must be one of {', '.join(SCHEDULES)} (got '{self.schedule}')."
            )
        if not 0 <= self.warmup_epochs < max(self.epochs, 1):
            raise ConfigError(
                f"Warm-up epochs must be between 0 and {self.epochs - 1} "
                f"(got {self.warmup_epochs})."
            )
        check_seed(self.seed)
        if self.head_views not in HEAD_VIEWS:
            raise ConfigError(
                f"Head views must be one of {', '.join(HEAD_VIEWS)} (got '{self.head_views}')."
            )
        if self.head_features not in HEAD_FEATURES:
            raise ConfigError(
                f"Head features must be one of {', '.join(HEAD_FEATURES)} "
                f"(got '{self.head_features}')."
            )
        if self.cross_validate and self.cv_folds < 2:
            raise ConfigError(f"Cross-validation needs at least 2 folds (got {self.cv_folds}).")
        if self.budget_seconds is not None and not 0 < self.budget_seconds < math.inf:
            raise ConfigError(
                f"The time budget must be a positive number of seconds (got {self.budget_seconds})."
            )
        self.split.validate()
        self.freeze.validate()
        self.augment.validate()

    def replace(self, **changes: Any) -> "TrainConfig":
        """Return a copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict (augmentation as ``{name: strength}``)."""
        d = dataclasses.asdict(self)
        d["augment"] = self.augment.as_dict()
        d["freeze"]["frozen_layers"] = list(self.freeze.frozen_layers)
        d["chosen"] = list(self.chosen)
        d["head_units"] = list(self.head_units)
        return d

    def to_json(self) -> str:
        """Return the config as indented JSON."""
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrainConfig":
        """Build from a dict as written by ``to_dict``; unknown keys are an error."""
        d = dict(d)
        _check_keys(cls, d)
        freeze = dict(d.pop("freeze", None) or {})
        _check_keys(FreezeConfig, freeze)
        freeze["frozen_layers"] = tuple(freeze.get("frozen_layers") or ())
        split = dict(d.pop("split", None) or {})
        _check_keys(SplitConfig, split)
        augment = d.pop("augment", None) or {}
        if not isinstance(augment, dict):
            raise ConfigError("'augment' must map operation names to strengths.")
        for key in ("chosen", "head_units"):
            if key in d:
                d[key] = tuple(d[key] or ())
        return cls(
            freeze=FreezeConfig(**freeze),
            split=SplitConfig(**split),
            augment=AugmentConfig.of(**augment),
            **d,
        )

    @classmethod
    def from_json(cls, text: str) -> "TrainConfig":
        """Parse JSON written by ``to_json``."""
        try:
            return cls.from_dict(json.loads(text))
        except json.JSONDecodeError as e:
            raise ConfigError(
                f"The training spec is not valid JSON ({e.msg}, line {e.lineno})."
            ) from None


def _check_keys(cls: type, d: dict[str, Any]) -> None:
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(d) - known)
    if unknown:
        raise ConfigError(f"Unknown setting(s) in the training spec: {', '.join(unknown)}.")
