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
from tlcore.config import SplitConfig, TrainConfig
from tlcore.errors import ConfigError, DataError


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
    return model_config(args, args.data, strategy).replace(
        resize_mode=args.resize,
        augment=parse_augment(args.augment or ""),
        two_phase=args.two_phase,
        head_epochs=args.head_epochs,
        epochs=args.epochs,
        batch_size=args.batch_size,
        optimizer=args.optimizer,
        learning_rate=args.lr,
        fine_tune_learning_rate=args.fine_tune_lr,
        dropout=args.dropout,
        early_stopping_patience=args.patience,
        class_weighting=args.class_weights,
        split=SplitConfig(
            val_fraction=args.val_split,
            test_fraction=args.test_split,
            seed=args.seed,
            split_file=args.split_file,
        ),
        seed=args.seed,
        use_cache=not args.no_cache,
        tensorboard=args.tensorboard,
        name=getattr(args, "name", "") or "",
    )


TRAIN_ONLY_WARNING = (
    "too few images to keep any aside, so the accuracy was measured on the training "
    "images themselves and says little about new photos; add images for an honest score."
)


def _split_first(config: TrainConfig) -> tuple[Any, Any]:
    """Validate, scan and split before a run folder exists (so errors leave none)."""
    from tlcore.data.scan import scan
    from tlcore.data.split import make_split

    config.validate()
    report = scan(config.data)
    return make_split(report, config.split), report


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.1%}"


def echo_event(event: dict[str, Any]) -> None:
    """Print the events a person follows in a terminal (phases, epochs, progress)."""
    kind = event["type"]
    if kind == "phase":
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
    elif kind == "prepare" and event["done"] == event["total"]:
        say(f"{event['stage']}: {event['total']} done")
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
        "epochs_run": info.epochs_run,
        "seconds": info.seconds,
        "trainable_params": info.trainable_params,
        "best_val_accuracy": info.best_val_accuracy,
        "val_accuracy": metrics.get("val_accuracy"),
        "test_accuracy": metrics.get("test_accuracy"),
        "error": info.error,
        "path": str(info.path),
    }


def _metrics(info: Any) -> dict[str, Any]:
    from tlcore.runs.store import read_metrics

    return read_metrics(info.path) or {}


def run(args: argparse.Namespace) -> int:
    """Train; print progress and a summary; exit 2 when the run failed."""
    from tlcore.runs import store
    from tlcore.runs.job import train, train_spec

    echo = None if args.json else echo_event
    if args.spec:
        info = train_spec(args.spec, echo=echo)
    else:
        config = config_from_args(args)
        split, report = _split_first(config)  # an unusable dataset leaves no run behind
        created = store.create_run(config, split=split, report=report)
        if not args.json:
            say(f"run {created.run_id} -> {created.path}")
        info = train(config, created.path, split=split, echo=echo)
    row = result_row(info)
    if not args.json:
        say(
            f"{info.status}: {info.epochs_run} epochs in {info.seconds or 0:.1f}s, "
            f"val accuracy {_pct(row['val_accuracy'])}, test accuracy "
            f"{_pct(row['test_accuracy'])} (run {info.run_id})"
        )
        if (_metrics(info).get("split")) == "train":
            say(f"warning: {TRAIN_ONLY_WARNING}")
    else:
        emit_json(row)
    if info.status == "failed":
        print(f"error: {info.error}", file=sys.stderr)
        return 2
    return 0
