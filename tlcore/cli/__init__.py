"""``python -m tlcore``: the command line, the same engine the app uses.

The arguments of every command are declared here, in one place, because they are a
stable contract (scripts and benchmarks rely on them). Each command's work lives in its
own module ``tlcore.cli.<command>_cmd`` with ``run(args) -> int``, imported only when that
command runs, so ``--help`` and ``scan`` never import TensorFlow.

Errors a person can act on (``TransferLabError``) print one sentence on stderr and exit 2.
"""

import argparse
import sys
from importlib import import_module

from tlcore.config import DEFAULT_BACKBONE, FreezeConfig, TrainConfig, check_image_size
from tlcore.errors import TransferLabError

STRATEGY_HELP = "feature-extraction | fine-tune | full | scratch | custom"


def _add_model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--backbone",
        default=DEFAULT_BACKBONE,
        help=f"backbone key (default {DEFAULT_BACKBONE}: works offline), e.g. mobilenet_v2, "
        "efficientnet_b0, small_cnn; `python -m tlcore layers --help` lists them",
    )
    p.add_argument(
        "--weights", default="imagenet", help="imagenet | none | PATH to a weights file | run:<id>"
    )
    p.add_argument("--strategy", default="feature-extraction", help=STRATEGY_HELP)
    unfreeze = p.add_mutually_exclusive_group()
    unfreeze.add_argument(
        "--unfreeze", type=int, metavar="N", help="fine-tune: unfreeze the top N backbone layers"
    )
    unfreeze.add_argument(
        "--unfreeze-from",
        metavar="LAYER",
        help="fine-tune: unfreeze from this layer or block upwards",
    )
    p.add_argument(
        "--train-batchnorm",
        action="store_true",
        help="let BatchNorm layers train too (off by default)",
    )
    p.add_argument(
        "--image-size", type=int, help="square input size in px (default: the backbone's)"
    )


def model_config(
    args: argparse.Namespace, data: str = "-", strategy: str | None = None
) -> TrainConfig:
    """The ``TrainConfig`` the model options (``_add_model_options``) describe."""
    check_image_size(args.image_size)  # 0 would silently mean "the backbone's size"
    return TrainConfig(
        data=data,
        backbone=args.backbone,
        weights=args.weights,
        image_size=args.image_size,
        freeze=FreezeConfig(
            strategy=strategy or args.strategy,
            unfreeze_top=args.unfreeze,
            unfreeze_from=args.unfreeze_from,
            train_batchnorm=args.train_batchnorm,
        ),
    )


def _add_training_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("data", nargs="?", help="a folder (one subfolder per class) or a .zip")
    _add_model_options(p)
    # Options that default to None are chosen from the dataset unless given
    # (tlcore.training.defaults); what a person gives always wins.
    p.add_argument("--epochs", type=int, help="epochs (default: chosen from the data)")
    p.add_argument("--batch-size", type=int, help="batch size (default: chosen from the data)")
    p.add_argument("--lr", type=float, help="learning rate of the head (default 0.001)")
    p.add_argument(
        "--fine-tune-lr",
        type=float,
        help="learning rate of the fine-tuning phase (default: chosen from the data)",
    )
    p.add_argument(
        "--head",
        choices=["solve", "gradient"],
        help="solve: fit the head exactly on the frozen network's features (default when "
        "nothing is augmented); gradient: train it with the optimizer",
    )
    p.add_argument(
        "--head-features",
        choices=["last", "multi", "auto"],
        help="what a solved head reads: the last layer, several layers, or auto (the one "
        "that cross-validates better; the default for feature extraction)",
    )
    p.add_argument(
        "--try-mirror-images",
        action="store_true",
        help="a solved head also tries each image's features averaged with its mirror "
        "image's, kept only if cross-validation says it helps (one more pass over the "
        "images; not for images whose orientation matters: arrows, letters, left/right)",
    )
    p.add_argument(
        "--cv-folds",
        type=int,
        help="cross-validate over N folds and train the final model on every image "
        "(default: when the dataset is small)",
    )
    p.add_argument(
        "--no-auto",
        action="store_true",
        help="use the fixed defaults below instead of choosing them from the data",
    )
    p.add_argument("--optimizer", default="adam", help="adam | sgd | rmsprop")
    p.add_argument(
        "--augment",
        default="",
        help="comma list, each optionally NAME=STRENGTH, e.g. flip,rotate=0.1,zoom",
    )
    p.add_argument(
        "--two-phase",
        action="store_true",
        help="train the head first, then unfreeze at --fine-tune-lr",
    )
    p.add_argument(
        "--head-epochs", type=int, default=2, help="epochs of the first phase (with --two-phase)"
    )
    p.add_argument("--dropout", type=float, default=0.2)
    p.add_argument("--patience", type=int, help="early-stopping patience in epochs (0 = off)")
    p.add_argument(
        "--budget",
        type=float,
        metavar="SECONDS",
        help="time budget of a run: epochs are cut to what fits, and training ends at it "
        "with its best epoch (compare: per strategy, default 180)",
    )
    p.add_argument("--class-weights", default="auto", choices=["auto", "on", "off"])
    p.add_argument("--resize", default="pad", choices=["pad", "crop", "stretch"])
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--val-split", type=float, help="validation fraction (default 0.2 or chosen)")
    p.add_argument("--test-split", type=float, help="test fraction (default 0.1 or chosen)")
    p.add_argument("--split-file", help="reuse a split saved earlier (split.json)")
    p.add_argument(
        "--no-cache",
        action="store_true",
        help="decode images every time instead of using the workspace cache",
    )
    p.add_argument("--tensorboard", action="store_true", help="also write TensorBoard logs")
    p.add_argument("--json", action="store_true", help="print a JSON object as the last line")


def build_parser() -> argparse.ArgumentParser:
    """Return the parser for all commands."""
    parser = argparse.ArgumentParser(
        prog="python -m tlcore",
        description="TransferLab: train an image classifier on your own photos.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("scan", help="check a dataset: classes, problems, duplicates")
    p.add_argument("data", help="a folder or a .zip")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("layers", help="list a backbone's layers and what a strategy freezes")
    _add_model_options(p)
    p.add_argument("--json", action="store_true")

    p = sub.add_parser(
        "advise", help="measure which strategy suits a dataset (seconds, frozen features)"
    )
    p.add_argument("data", help="a folder (one subfolder per class) or a .zip")
    _add_model_options(p)
    p.add_argument("--json", action="store_true")

    p = sub.add_parser(
        "inspect",
        help="find likely label mistakes, near-duplicates and outliers; map the images",
    )
    p.add_argument("data", help="a folder (one subfolder per class) or a .zip")
    _add_model_options(p)
    p.add_argument(
        "--similarity",
        type=float,
        help="cosine similarity of the features from which two images count as "
        "near-duplicates (default 0.95)",
    )
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("train", help="train a classifier (one run)")
    _add_training_options(p)
    p.add_argument("--spec", help="run an existing spec.json instead (the app's worker)")
    p.add_argument("--name", default="", help="a label for this run")
    p.add_argument(
        "--recipe",
        metavar="NAME",
        help="start from a tutorial's pinned settings (`python -m tlcore recipes` lists them); "
        "any other option typed changes it, and the run is then no longer the recipe",
    )

    p = sub.add_parser("compare", help="train several strategies on the same split")
    _add_training_options(p)
    p.add_argument("--strategies", required=True, help="comma list, e.g. feature-extraction,full")

    p = sub.add_parser("recipes", help="list the recipes train --recipe takes")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("predict", help="classify images with a trained run or model file")
    p.add_argument("model", metavar="RUN_OR_MODEL", help="run id, run folder or .keras file")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("--top-k", type=int, default=3)
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("export", help="export a run's model for use elsewhere")
    p.add_argument("run", metavar="RUN")
    p.add_argument(
        "--format", default="keras", choices=["keras", "savedmodel", "tflite", "tflite-int8"]
    )
    p.add_argument("--out", help="where to write (default: the run's export/ folder)")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("runs", help="list training runs in the workspace (or delete one)")
    p.add_argument("action", nargs="?", choices=["delete"], help="delete RUN (damaged too)")
    p.add_argument("run", nargs="?", metavar="RUN", help="run id or run folder to delete")
    p.add_argument("--json", action="store_true")
    return parser


def typed_options(argv: list[str] | None) -> frozenset[str]:
    """The options typed on the command line (argparse dests), not left at their defaults.

    Parses ``argv`` again with every default suppressed, so only what was typed is set
    (abbreviations and ``--opt=value`` included). Only for ``train``: a positional with
    choices (``runs``) cannot take a suppressed default.
    """
    parser = build_parser()
    parsers = [parser]
    while parsers:
        current = parsers.pop()
        for action in current._actions:
            action.default = argparse.SUPPRESS
            if isinstance(action, argparse._SubParsersAction):
                parsers.extend(action.choices.values())
    return frozenset(vars(parser.parse_args(argv)))


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    args = build_parser().parse_args(argv)
    if getattr(args, "recipe", None):
        # A recipe pins every setting: only what was typed may change it.
        args.typed = typed_options(argv)
    try:
        module = import_module(f"tlcore.cli.{args.command}_cmd")
        return int(module.run(args) or 0)
    except TransferLabError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        from tlcore import workspace

        if not workspace.holds(e.filename):
            raise  # not the workspace: a bug to see in full
        # A write in the workspace failed (read-only, a file in the way): say where.
        print(f"error: {workspace.unusable(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted.", file=sys.stderr)
        return 130
