"""``python -m tlcore train``: train one run in the foreground (also the app's worker).

``train DATA --backbone ...`` creates a run and trains it here, printing one line per
epoch; ``train --spec runs/<id>/spec.json`` trains a run created earlier (this is what
the app launches in the background). Ctrl-C / SIGTERM stop after the current batch.
"""

import argparse
import sys
from pathlib import Path
from typing import Any

from tlcore.cli import model_config
from tlcore.cli.output import emit_json, say
from tlcore.cli.recipe_args import changed_line, recipe_config
from tlcore.config import SplitConfig, TrainConfig
from tlcore.errors import ConfigError, DataError
from tlcore.training.recipes import differences, get_recipe

POLICY_OPTIONS = {
    "epochs": "epochs",
    "batch_size": "batch_size",
    "lr": "learning_rate",
    "fine_tune_lr": "fine_tune_learning_rate",
    "patience": "early_stopping_patience",
    "val_split": "split.val_fraction",
    "test_split": "split.test_fraction",
}
"""CLI option -> ``TrainConfig`` field that the dataset policy fills when it is not given."""


def config_from_args(args: argparse.Namespace, strategy: str | None = None) -> TrainConfig:
    """Build the ``TrainConfig`` the training options describe."""
    from tlcore.models.augment import parse_augment

    if not args.data:
        raise ConfigError("Give the dataset (a folder or a .zip), or --spec for a saved run.")
    if not Path(args.data).exists():
        # Checked before a run folder is made, so a typo leaves no failed run behind.
        raise DataError(
            f"'{args.data}' does not exist: give a folder with one subfolder per "
            "class, or a .zip of one."
        )
    base = TrainConfig(data=args.data)
    given = {name: getattr(args, option) for option, name in POLICY_OPTIONS.items()}
    chosen = tuple(name for name, value in given.items() if value is not None)
    if args.head is not None:
        chosen += ("solve_head",)
    if getattr(args, "head_features", None) is not None:
        chosen += ("head_features",)
    if getattr(args, "try_mirror_images", False):
        chosen += ("head_views",)
    if args.cv_folds is not None:
        chosen += ("cross_validate", "cv_folds", "split.val_fraction", "split.test_fraction")

    def value(name: str) -> Any:
        if given[name] is not None:
            return given[name]
        return getattr(base.split, name[6:]) if name.startswith("split.") else getattr(base, name)

    return model_config(args, args.data, strategy).replace(
        resize_mode=args.resize,
        augment=parse_augment(args.augment or ""),
        two_phase=args.two_phase,
        head_epochs=args.head_epochs,
        epochs=value("epochs"),
        batch_size=value("batch_size"),
        optimizer=args.optimizer,
        learning_rate=value("learning_rate"),
        fine_tune_learning_rate=value("fine_tune_learning_rate"),
        dropout=args.dropout,
        early_stopping_patience=value("early_stopping_patience"),
        class_weighting=args.class_weights,
        solve_head=args.head == "solve",
        head_features=getattr(args, "head_features", None) or base.head_features,
        head_views="auto" if getattr(args, "try_mirror_images", False) else base.head_views,
        cross_validate=args.cv_folds is not None,
        cv_folds=base.cv_folds if args.cv_folds is None else args.cv_folds,
        auto_defaults=not args.no_auto,
        chosen=chosen,
        budget_seconds=args.budget,
        split=SplitConfig(
            val_fraction=0.0 if args.cv_folds is not None else value("split.val_fraction"),
            test_fraction=0.0 if args.cv_folds is not None else value("split.test_fraction"),
            seed=args.seed,
            split_file=args.split_file,
        ),
        seed=args.seed,
        use_cache=not args.no_cache,
        tensorboard=args.tensorboard,
        name=getattr(args, "name", "") or "",
    )


def chosen_settings(run_dir: Path) -> list[str]:
    """The one-line reasons of the settings chosen from the dataset (not given by hand)."""
    from tlcore.runs.run_files import read_spec
    from tlcore.training.defaults import TARGETS

    spec = read_spec(run_dir)
    defaults, chosen = spec.get("defaults") or {}, set(spec["config"].get("chosen") or ())
    lines: list[str] = []
    for name, why in (defaults.get("reasons") or {}).items():
        unused = "not used" in why or "only if" in why  # settings that play no part
        given = name in chosen or TARGETS.get(name) in chosen
        if not (unused or given or why in lines):
            lines.append(why)
    return lines


TRAIN_ONLY_WARNING = (
    "too few images to keep any aside, so the accuracy was measured on the training "
    "images themselves and says little about new photos; add images for an honest score."
)


def _split_first(config: TrainConfig) -> tuple[TrainConfig, Any, Any, Any]:
    """Scan, choose the settings from the data, validate and split before a run folder
    exists (so errors leave none); return (config, split, report, defaults)."""
    from tlcore.data.scan import scan
    from tlcore.data.split import make_split
    from tlcore.training.defaults import resolve

    report = scan(config.data)
    config, defaults = resolve(config, report)
    config.validate()
    split = make_split(report, config.split)
    if config.cross_validate:
        check_cross_validation(config, split)
    return config, split, report, defaults


def check_cross_validation(config: TrainConfig, split: Any) -> None:
    """Refuse cross-validation this split cannot give, before a run folder exists.

    Raises:
        ConfigError: the dataset keeps its own val/ or test/ folders.
        DataError: fewer images than folds.
    """
    from tlcore.training.crossval import check_folds

    if split.val or split.test:
        raise ConfigError(
            "Cross-validation uses every image, but this dataset keeps its own val/ or "
            "test/ folders: leave out --cv-folds to use them, or put every image in class "
            "folders."
        )
    check_folds(config.cv_folds, len(split.train))


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.1%}"


def echo_event(event: dict[str, Any]) -> None:
    """Print the events a person follows in a terminal (phases, epochs, progress)."""
    kind = event["type"]
    if kind == "phase" and event.get("head_solver"):
        say(
            f"phase {event['phase']}: the head is solved on the frozen network's features, "
            f"{event['trainable_params']:,} parameters"
        )
    elif kind == "head":
        say(event["message"])
    elif kind == "phase":
        say(
            f"phase {event['phase']}: epochs {event['first_epoch']}-{event['epochs']}, "
            f"learning rate {event['learning_rate']:g}, "
            f"{event['trainable_params']:,} trainable parameters"
            + (
                f" (fast path: frozen layers run once, cached up to '{event['fast_path']}')"
                if event.get("fast_path")
                else ""
            )
        )
    elif kind == "warning":
        say(f"warning: {event['message']}")
    elif kind == "prepare" and event["stage"] == "convert":
        if event["done"] == 0:
            say("preparing the pretrained network from its pip package (first time only)…")
    elif kind == "prepare" and event["done"] == event["total"]:
        say(f"{event['stage']}: {event['total']} done")
    elif kind == "epoch" and event.get("learning_rate") is None and event["phase"] == "head":
        pass  # the solved head's one "epoch": the head event above said it all
    elif kind == "epoch":
        val = ""
        if event.get("val_loss") is not None:
            val = f"  val_loss {event['val_loss']:.4f}  val_accuracy {_pct(event['val_accuracy'])}"
        say(
            f"epoch {event['epoch']}/{event['epochs']}  loss {event['loss']:.4f}  "
            f"accuracy {_pct(event['accuracy'])}{val}  ({event['seconds']:.1f}s)"
        )


def result_row(info: Any) -> dict[str, Any]:
    """The JSON object ``train --json`` prints (also the compare rows' base)."""
    metrics = _metrics(info)
    return {
        "run_id": info.run_id,
        "name": info.name,
        "status": info.status,
        "strategy": info.config.freeze.strategy,
        "recipe": info.config.recipe or None,
        "epochs_run": info.epochs_run,
        "seconds": info.seconds,
        "trainable_params": info.trainable_params,
        "best_val_accuracy": info.best_val_accuracy,
        "val_accuracy": metrics.get("val_accuracy"),
        "test_accuracy": metrics.get("test_accuracy"),
        "evaluation": metrics.get("split"),
        "cv_accuracy": metrics.get("accuracy")
        if metrics.get("split") == "cross-validation"
        else None,
        "cv_accuracy_std": metrics.get("accuracy_std"),
        "error": info.error,
        "path": str(info.path),
    }


def _metrics(info: Any) -> dict[str, Any]:
    from tlcore.runs.run_files import read_metrics

    return read_metrics(info.path) or {}


def run(args: argparse.Namespace) -> int:
    """Train; print progress and a summary; exit 2 when the run failed."""
    from tlcore.runs import store
    from tlcore.runs.job import train, train_spec

    echo = None if args.json else echo_event
    asked = getattr(args, "recipe", None) or ""  # the recipe named with --recipe
    if args.spec:
        info = train_spec(args.spec, echo=echo)
    else:
        config = config_from_args(args)
        if asked:
            config = recipe_config(args, config)
        config, split, report, defaults = _split_first(config)
        if not args.json:  # what the scan found wrong, before any work is done
            for warning in report.warnings:
                say(f"warning: {warning}")
        created = store.create_run(config, split=split, report=report, defaults=defaults)
        if not args.json:
            say(f"run {created.run_id} -> {created.path}")
            changed = changed_line(asked, created.config, getattr(args, "typed", frozenset()))
            if changed:
                say(changed)
            for line in chosen_settings(created.path):
                say(f"  {line}")
        info = train(created.config, created.path, split=split, echo=echo)
    row = result_row(info)
    if asked:  # what made the run leave the recipe (empty: it still is the recipe)
        row["changed_from_recipe"] = differences(info.config, get_recipe(asked))
    if not args.json:
        metrics = _metrics(info)
        if metrics.get("split") == "cross-validation":
            score = (
                f"cross-validated accuracy {_pct(metrics['accuracy'])} "
                f"± {_pct(metrics['accuracy_std'])}"
            )
        else:
            score = (
                f"val accuracy {_pct(row['val_accuracy'])}, "
                f"test accuracy {_pct(row['test_accuracy'])}"
            )
        solved_only = bool(metrics.get("head_solver")) and info.epochs_run == 1
        work = "head solved" if solved_only else f"{info.epochs_run} epochs"
        say(f"{info.status}: {work} in {info.seconds or 0:.1f}s, {score}")
        if metrics.get("evaluation"):
            say(metrics["evaluation"])
        if metrics.get("split") == "train":
            say(f"warning: {TRAIN_ONLY_WARNING}")
    else:
        emit_json(row)
    if info.status == "failed":
        print(f"error: {info.error}", file=sys.stderr)
        return 2
    return 0
