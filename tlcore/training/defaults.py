"""Training defaults chosen from the dataset's shape, each with a one-line reason.

``choose_defaults`` turns (images per class, strategy, fast path or not) into learning
rates, epochs, batch size, early stopping, splits, cross-validation and the learning-rate
schedule; ``apply_defaults`` writes them into a ``TrainConfig``, where anything the
person set explicitly always wins. The rules, for 5 to 50 photos a class:

- Few images: accuracy is cross-validated (``tlcore.training.crossval``) instead of read
  off a test split of 5 images, and no validation split is held out (it would be too
  small to stop on); gradient phases then run a fixed number of epochs.
- The head on cached features is solved exactly (``head_solver``): no epochs, no batch
  size, no validation images needed.
- Gradient phases get about ``TARGET_UPDATES`` optimizer steps (epochs follow from the
  number of batches per epoch), small batches on small sets, a low learning rate for
  pretrained layers (scaled by sqrt(batch / 32), as for Adam), a short linear warm-up
  and cosine decay.
"""

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tlcore.config import TrainConfig
from tlcore.data.split import held_out_counts
from tlcore.errors import ConfigError
from tlcore.training.crossval import fold_count, should_cross_validate

STRATEGY_KEYS = ("feature-extraction", "fine-tune", "full", "scratch", "custom")
"""The keys of ``tlcore.freezing.STRATEGIES`` this policy knows (a test keeps them equal)."""
HEAD_LR = 1e-3
BACKBONE_LR = {"fine-tune": 1e-4, "custom": 1e-4, "full": 1e-5}
TARGET_UPDATES = {"feature-extraction": 600, "fine-tune": 300, "custom": 300, "full": 300}
EPOCH_RANGE = {"feature-extraction": (10, 60), "fine-tune": (5, 40), "full": (5, 30)}
SCRATCH_UPDATES, SCRATCH_EPOCHS = 3000, (20, 200)
MIN_VAL_TO_STOP = 30  # fewer validation images: their loss is too noisy to stop on
WARMUP_FRACTION = 0.1
DEFAULT_IMAGE_SIZE = 224

TARGETS = {
    "learning_rate": "learning_rate",
    "fine_tune_learning_rate": "fine_tune_learning_rate",
    "epochs": "epochs",
    "batch_size": "batch_size",
    "patience": "early_stopping_patience",
    "val_split": "split.val_fraction",
    "test_split": "split.test_fraction",
    "schedule": "schedule",
    "warmup_epochs": "warmup_epochs",
    "cross_validate": "cross_validate",
    "folds": "cv_folds",
    "solve_head": "solve_head",
}
"""``Defaults`` field -> ``TrainConfig`` field (dotted: inside ``split``). The last five
do not exist in ``TrainConfig`` yet; ``apply_defaults`` sets them once they do."""


@dataclass(frozen=True)
class Defaults:
    """What to train with, and why (``reasons``: field -> one plain sentence)."""

    learning_rate: float
    fine_tune_learning_rate: float
    epochs: int  # gradient epochs; 0 when the head is solved and nothing else trains
    batch_size: int
    patience: int  # 0: no early stopping
    val_split: float
    test_split: float
    cross_validate: bool
    folds: int  # 0 unless cross_validate
    schedule: str  # "cosine" (with warm-up) or "none" (nothing trains by gradient)
    warmup_epochs: int
    solve_head: bool
    reasons: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Defaults":
        """Rebuild from ``to_dict`` output."""
        return cls(**dict(d))


def _counts(images_per_class: Sequence[int] | Mapping[str, int], n_classes: int) -> list[int]:
    values = images_per_class
    if isinstance(images_per_class, Mapping):
        values = images_per_class.values()
    counts = [int(c) for c in values]
    if len(counts) != n_classes:
        raise ConfigError(f"Got image counts for {len(counts)} classes but {n_classes} classes.")
    if n_classes < 2 or min(counts) < 1:
        raise ConfigError("Training needs at least two classes with at least one image each.")
    return counts


def _two_digits(x: float) -> float:
    return float(f"{x:.2g}")


def choose_defaults(
    images_per_class: Sequence[int] | Mapping[str, int],
    n_classes: int,
    image_size: int | None,
    strategy_key: str,
    fast_path: bool,
    user_gave_split: bool = False,
) -> Defaults:
    """Defaults for this dataset and strategy (see the module docstring for the rules).

    Args:
        images_per_class: images per class (list, or ``{class: count}``).
        n_classes: number of classes.
        image_size: input size in pixels (None: the backbone's default, taken as 224).
        strategy_key: ``feature-extraction``, ``fine-tune``, ``full``, ``scratch``, ``custom``.
        fast_path: the frozen backbone's features can be cached (no augmentation), so the
            head is solved on them.
        user_gave_split: the dataset has its own test folder or a saved split.
    """
    if strategy_key not in STRATEGY_KEYS:
        raise ConfigError(
            f"No training defaults for strategy '{strategy_key}' "
            f"(known: {', '.join(STRATEGY_KEYS)})."
        )
    counts = _counts(images_per_class, n_classes)
    n = sum(counts)
    size = image_size or DEFAULT_IMAGE_SIZE
    scratch = strategy_key == "scratch"
    solve = fast_path and not scratch
    head_only = solve and strategy_key == "feature-extraction"
    reasons: dict[str, str] = {}

    cv, reasons["cross_validate"] = should_cross_validate(counts, user_gave_split)
    if cv and not head_only:
        # Each fold would retrain the network by gradient: k times the run's cost. Only the
        # solved head is cheap enough to cross-validate by default.
        cv = False
        reasons["cross_validate"] = (
            "A held-out test split, not cross-validation: each fold would retrain the "
            f"network, and with {n} images the test accuracy is only a rough guide."
        )
    folds = fold_count(counts, 5 if head_only else 3) if cv else 0
    if cv:
        test = val = 0.0
        reasons["test_split"] = f"No test split: accuracy is cross-validated ({folds} folds)."
        reasons["folds"] = (
            f"{folds} folds: each image is predicted once by a model that did not train on it"
            + ("." if head_only else "; each fold retrains the network, so 3, not 5.")
        )
    else:
        test = 0.2 if n < 1000 else 0.1
        # Below MIN_VAL_TO_STOP validation images nothing could stop on them: train instead.
        val = 0.0 if head_only or n * 0.2 < MIN_VAL_TO_STOP else (0.2 if n < 1000 else 0.1)
        n_test = sum(held_out_counts(c, val, test)[1] for c in counts)
        reasons["test_split"] = f"Test {test:.0%}: {n_test} of {n} images held out."
        reasons["folds"] = "No cross-validation: the test split is large enough."
    if head_only:
        reasons["val_split"] = (
            "No validation split: the solver chooses its regularisation by cross-validation "
            "on the training images, so those images train instead."
        )
    elif cv or val == 0.0:
        reasons["val_split"] = (
            f"No validation split: with {n} images it would be too small to stop training "
            "on; training runs a fixed number of epochs instead."
        )
    else:
        reasons["val_split"] = (
            f"Validation {val:.0%}: {sum(held_out_counts(c, val, test)[0] for c in counts)} "
            "images to stop on."
        )
    # The exact counts of the split the run makes (per class, as tlcore.data.split does).
    held = [held_out_counts(c, val, test) for c in counts]
    n_val = sum(v for v, _ in held)
    n_train = max(1, n - n_val - sum(t for _, t in held))

    if head_only:
        batch = 32
        reasons["batch_size"] = (
            "Batch size 32: the head is solved on all features at once; this only sets how "
            "many images go through the backbone at a time."
        )
    else:
        batch = 8 if n_train < 100 else 16 if n_train < 500 else 32
        why = f"with {n_train} training images, " + (
            "smaller batches give more updates per epoch."
            if batch < 32
            else "batches of 32 give enough updates per epoch."
        )
        if strategy_key in ("full", "scratch") and size >= 300 and batch > 16:
            batch, why = 16, f"{size}-px images with every layer training need memory."
        reasons["batch_size"] = f"Batch size {batch}: {why}"

    if head_only:
        epochs, warmup, schedule = 0, 0, "none"
        reasons["epochs"] = "No epochs: the head is solved exactly on the cached features."
    else:
        steps = math.ceil(n_train / batch)
        if scratch:
            target, (lo, hi) = SCRATCH_UPDATES, SCRATCH_EPOCHS
        else:
            target = TARGET_UPDATES.get(strategy_key, 300)
            lo, hi = EPOCH_RANGE.get(strategy_key, EPOCH_RANGE["fine-tune"])
        epochs = min(hi, max(lo, math.ceil(target / steps)))
        reasons["epochs"] = (
            f"Epochs {epochs}: {n_train} training images in batches of {batch} are {steps} "
            f"updates an epoch; this training needs about {target} updates "
            f"(kept within {lo}-{hi} epochs)."
        )
        if solve:  # the solved head counts as the first epoch
            reasons["epochs"] = (
                f"Epochs {epochs + 1}: the solved head, then {epochs} of fine-tuning "
                f"({n_train} training images in batches of {batch} are {steps} updates an "
                f"epoch; fine-tuning needs about {target}, kept within {lo}-{hi} epochs)."
            )
            epochs += 1
        pretrained_trains = strategy_key in BACKBONE_LR
        warmup = max(1, round(WARMUP_FRACTION * epochs)) if pretrained_trains or scratch else 0
        schedule = "cosine"
    reasons["schedule"] = (
        "No schedule: nothing trains by gradient."
        if schedule == "none"
        else f"Cosine decay after {warmup} warm-up epoch(s): "
        + (
            "a gentle start keeps the first large updates from wrecking pretrained layers, "
            "and a decaying rate lets them settle."
            if warmup
            else "a decaying rate lets the head settle."
        )
    )
    reasons["warmup_epochs"] = reasons["schedule"]

    lr = HEAD_LR
    reasons["learning_rate"] = (
        "Learning rate 0.001 (Adam) for a new head or a network from scratch."
        if not solve
        else "Learning rate 0.001 (Adam) only if the head is trained by gradient after all: "
        "here it is solved."
    )
    base = BACKBONE_LR.get(strategy_key)
    if base is None:
        ft_lr = 1e-5
        reasons["fine_tune_learning_rate"] = "Fine-tune learning rate not used: no pretrained "
        reasons["fine_tune_learning_rate"] += "layer trains." if not scratch else "weights."
    else:
        ft_lr = _two_digits(base * math.sqrt(batch / 32))
        reasons["fine_tune_learning_rate"] = (
            f"Fine-tune learning rate {ft_lr:g}: {base:g} for "
            + ("every pretrained layer" if strategy_key == "full" else "the top layers")
            + f", scaled by sqrt({batch}/32) for batches of {batch}."
        )

    if head_only or n_val < MIN_VAL_TO_STOP:
        patience = 0
        reasons["patience"] = (
            "No early stopping: the head is solved, so there is nothing to stop."
            if head_only
            else "No early stopping: there are no validation images; training runs the fixed "
            "number of epochs."
            if n_val == 0
            else f"No early stopping: {n_val} validation images are too few for their loss "
            "to tell real progress from chance; training runs the fixed number of epochs."
        )
    else:
        patience = max(3, epochs // 5)
        reasons["patience"] = (
            f"Early stopping after {patience} epochs without a better validation loss "
            f"({n_val} validation images)."
        )
    reasons["solve_head"] = (
        "The head is solved exactly (multinomial logistic regression, regularisation "
        "cross-validated) on the frozen backbone's features"
        + (" before the backbone is fine-tuned." if solve and not head_only else ".")
        if solve
        else "The head trains by gradient: "
        + ("augmentation changes the features every epoch." if not scratch else "from scratch.")
    )
    return Defaults(
        learning_rate=lr,
        fine_tune_learning_rate=ft_lr,
        epochs=epochs,
        batch_size=batch,
        patience=patience,
        val_split=val,
        test_split=test,
        cross_validate=cv,
        folds=folds,
        schedule=schedule,
        warmup_epochs=warmup,
        solve_head=solve,
        reasons=reasons,
    )


def not_applied(config: TrainConfig) -> list[str]:
    """``Defaults`` fields that ``TrainConfig`` has no field for yet (the integrator's list)."""
    names = {f.name for f in dataclasses.fields(config)}
    return [k for k, target in TARGETS.items() if target.split(".")[0] not in names]


def apply_defaults(config: TrainConfig, defaults: Defaults, explicit: set[str]) -> TrainConfig:
    """``config`` with the defaults written in, except what the person set explicitly.

    Args:
        config: the config as built from the person's choices.
        defaults: from ``choose_defaults``.
        explicit: names the person set, as ``Defaults`` fields (``patience``) or
            ``TrainConfig`` fields (``early_stopping_patience``, ``split.val_fraction``).

    Raises:
        ConfigError: a name in ``explicit`` is neither.
    """
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    known |= {f"split.{f.name}" for f in dataclasses.fields(config.split)}
    unknown = sorted(explicit - known - set(TARGETS) - set(TARGETS.values()))
    if unknown:
        raise ConfigError(f"Unknown setting(s) marked as chosen: {', '.join(unknown)}.")
    top: dict[str, Any] = {}
    split: dict[str, Any] = {}
    for name, target in TARGETS.items():
        value = getattr(defaults, name)
        if name in explicit or target in explicit or target.split(".")[0] not in known:
            continue
        if target == "epochs" and value < 1:
            continue  # nothing trains by gradient: the epochs setting is not used
        if target.startswith("split."):
            if config.split.split_file is None:  # a saved split is reused as it is
                split[target.removeprefix("split.")] = value
        else:
            top[target] = value
    if split:
        top["split"] = dataclasses.replace(config.split, **split)
    return dataclasses.replace(config, **top)


def resolve(config: TrainConfig, report: Any) -> tuple[TrainConfig, Defaults | None]:
    """Apply the policy to a config that asks for it (``auto_defaults``).

    Args:
        config: the person's config; ``config.chosen`` names what they set themselves.
        report: the dataset's ``DatasetReport`` (class counts, given split folders).

    Returns:
        The config to train (``auto_defaults`` now off, so it is applied once) and the
        ``Defaults`` with their reasons; ``(config, None)`` when it does not ask.
    """
    if not config.auto_defaults:
        return config, None
    from tlcore.models.classifier import image_size_for

    classes = sorted(report.classes)
    counts = [int(report.classes[c]) for c in classes]
    user_split = config.split.split_file is not None or any(
        getattr(item, "split", None) == "test" for item in report.items
    )
    defaults = choose_defaults(
        counts,
        len(classes),
        image_size_for(config),
        config.freeze.strategy,
        # A head the person wants trained by gradient gets the gradient defaults.
        fast_path=not config.augment.enabled
        and ("solve_head" not in config.chosen or config.solve_head),
        user_gave_split=user_split,
    )
    chosen = set(config.chosen)
    if chosen & {"split.val_fraction", "split.test_fraction", "val_split", "test_split"}:
        chosen.add("cross_validate")  # a split the person asked for wins over k folds
    resolved = apply_defaults(config, defaults, chosen)
    resolved, defaults = _stop_on_kept_validation(resolved, defaults, sum(counts), chosen)
    if resolved.solve_head and "head_features" not in chosen:
        # A solved head reads the layers that cross-validate best (tlcore.training.head_choice).
        resolved = resolved.replace(head_features="auto")
    if resolved.warmup_epochs >= resolved.epochs:  # the person chose fewer epochs
        resolved = resolved.replace(warmup_epochs=round(WARMUP_FRACTION * resolved.epochs))
    return resolved.replace(auto_defaults=False), defaults


def _stop_on_kept_validation(
    config: TrainConfig, defaults: Defaults, n_images: int, chosen: set[str]
) -> tuple[TrainConfig, Defaults]:
    """Early stopping for a run that keeps validation images the policy would have dropped.

    A split chosen by the person (or shared by a comparison) can hold out fewer than
    ``MIN_VAL_TO_STOP`` validation images, for which the policy switched early stopping
    off: the run then trained all its epochs on a loss it never stopped on (a network at
    chance ran 68 of 200 epochs, "best epoch 1 of 68"). Images held out to stop on are
    used to stop on.
    """
    n_val = round(n_images * config.split.val_fraction)
    if (
        n_val == 0
        or defaults.epochs < 1
        or config.early_stopping_patience > 0
        or chosen & {"patience", "early_stopping_patience"}
    ):
        return config, defaults
    patience = max(3, config.epochs // 5)
    reason = (
        f"Early stopping after {patience} epochs without a better validation loss: only "
        f"{n_val} validation images, a noisy signal, but they are held out anyway."
    )
    reasons = {**defaults.reasons, "patience": reason}
    return (
        config.replace(early_stopping_patience=patience),
        dataclasses.replace(defaults, patience=patience, reasons=reasons),
    )
