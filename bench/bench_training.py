"""Training benchmark: TransferLab against plain Keras, measured in one run.

1. Feature extraction, end to end: the same 10-epoch MobileNetV2 (weights=None, 224 px)
   feature-extraction training on ~1,000 generated images, by
   ``python -m tlcore train`` (cold workspace: decode + backbone features computed in the
   run) and by a plain Keras script written the tutorial way
   (``image_dataset_from_directory``, frozen base inside the model, ``model.fit``). Both
   are separate processes timed from start to exit (both pay Python + TF start-up).
   A second tlcore run reuses the caches (warm), as a comparison of head settings does.
2. Overhead of live events on a full fine-tune: the same model, data and epochs fitted
   by plain ``model.fit`` (no callbacks) and by ``tlcore.runs.job.train`` (events per
   batch, status per epoch, best model saved); we compare the fit phase (tlcore: from its
   ``phase`` event to its last ``epoch`` event). Alternating, three times each; medians.

Usage: ``python bench/bench_training.py [--images 1000] [--size 224] [--epochs 10]``.
Writes ``bench/_out/training.json`` and prints a Markdown summary.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "_out"
DATA = ROOT / "bench" / "_data"

PLAIN_SCRIPT = r"""
import sys, time
import keras, tensorflow as tf
data, size, epochs, batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
train_ds, val_ds = keras.utils.image_dataset_from_directory(
    data, validation_split=0.2, subset="both", seed=42, image_size=(size, size),
    batch_size=batch)
n_classes = len(train_ds.class_names)
train_ds = train_ds.prefetch(tf.data.AUTOTUNE)
val_ds = val_ds.prefetch(tf.data.AUTOTUNE)
base = keras.applications.MobileNetV2(input_shape=(size, size, 3), include_top=False,
                                      weights=None)
base.trainable = False
inputs = keras.Input((size, size, 3))
x = keras.layers.Rescaling(1 / 127.5, offset=-1)(inputs)
x = base(x, training=False)
x = keras.layers.GlobalAveragePooling2D()(x)
x = keras.layers.Dropout(0.2)(x)
outputs = keras.layers.Dense(n_classes, activation="softmax")(x)
model = keras.Model(inputs, outputs)
model.compile(optimizer=keras.optimizers.Adam(1e-3),
              loss="sparse_categorical_crossentropy", metrics=["accuracy"])
history = model.fit(train_ds, validation_data=val_ds, epochs=epochs, verbose=2)
print("VAL_ACCURACY", history.history["val_accuracy"][-1])
"""


def make_data(n_images: int, size: int) -> Path:
    """~n_images generated JPEG/PNG images (the demo shapes, 4 classes) at ``size`` px."""
    sys.path.insert(0, str(ROOT))
    from tlcore.data.demo import make_demo_dataset

    dest = DATA / f"train_{n_images}_{size}"
    return make_demo_dataset(dest, per_class=n_images // 4, size=size, seed=1)


def timed(cmd: list[str], env: dict) -> tuple[float, str]:
    """Run a command; return (wall seconds, stdout). Fails loudly."""
    t = time.perf_counter()
    out = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - t
    if out.returncode != 0:
        raise SystemExit(f"{cmd[:4]} failed:\n{out.stderr[-3000:]}")
    return seconds, out.stdout


def feature_extraction(data: Path, size: int, epochs: int) -> dict:
    """Part 1: end-to-end seconds, tlcore (cold, warm) vs the tutorial script."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    home = tempfile.mkdtemp(prefix="tl-bench-")
    tl_env = {**env, "TRANSFERLAB_HOME": home}
    tl_cmd = [
        sys.executable,
        "-m",
        "tlcore",
        "train",
        str(data),
        "--backbone",
        "mobilenet_v2",
        "--weights",
        "none",
        "--image-size",
        str(size),
        "--strategy",
        "feature-extraction",
        "--epochs",
        str(epochs),
        "--batch-size",
        "32",
        "--val-split",
        "0.2",
        "--test-split",
        "0",
        "--patience",
        "0",
        "--json",
    ]
    plain_cmd = [sys.executable, "-c", PLAIN_SCRIPT, str(data), str(size), str(epochs), "32"]
    plain_s, plain_out = timed(plain_cmd, env)
    cold_s, cold_out = timed(tl_cmd, tl_env)
    warm_s, warm_out = timed(tl_cmd, tl_env)
    cold, warm = json.loads(cold_out.splitlines()[-1]), json.loads(warm_out.splitlines()[-1])
    plain_acc = float(plain_out.split("VAL_ACCURACY")[-1])
    return {
        "plain_seconds": plain_s,
        "tlcore_cold_seconds": cold_s,
        "tlcore_warm_seconds": warm_s,
        "speedup_cold": plain_s / cold_s,
        "speedup_warm": plain_s / warm_s,
        "plain_val_accuracy": plain_acc,
        "tlcore_val_accuracy": cold["val_accuracy"],
        "tlcore_epochs": cold["epochs_run"],
        "tlcore_warm_status": warm["status"],
    }


def overhead(data: Path, size: int, epochs: int, n_images: int) -> dict:
    """Part 2: fit-phase seconds of a full fine-tune, plain model.fit vs tlcore.train.

    Three alternating rounds; the medians are compared."""
    sys.path.insert(0, str(ROOT))
    os.environ["TRANSFERLAB_HOME"] = tempfile.mkdtemp(prefix="tl-bench-ovh-")
    import keras

    from tlcore.config import FreezeConfig, SplitConfig, TrainConfig
    from tlcore.data.pipeline import load_arrays
    from tlcore.data.scan import scan
    from tlcore.data.split import make_split
    from tlcore.models.classifier import build_classifier
    from tlcore.runs import run_files, store
    from tlcore.runs.job import train
    from tlcore.training.batches import array_dataset

    config = TrainConfig(
        data=str(data),
        backbone="mobilenet_v2",
        weights="none",
        image_size=size,
        freeze=FreezeConfig("full"),
        epochs=epochs,
        batch_size=32,
        early_stopping_patience=0,
        split=SplitConfig(val_fraction=0.2, test_fraction=0.0),
    )
    report = scan(data)
    split = make_split(report, config.split)
    classes = list(split.classes)
    x, y = load_arrays(split.train, classes, size, "pad")
    vx, vy = load_arrays(split.val, classes, size, "pad")  # warms the decode cache for both

    def plain() -> float:
        keras.utils.set_random_seed(config.seed)
        model = build_classifier(config, len(classes))
        model.compile(
            optimizer=keras.optimizers.Adam(1e-3),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        train_ds = array_dataset(x, y, 32, True, config.seed)
        val_ds = array_dataset(vx, vy, 32, False, config.seed)
        t = time.perf_counter()
        model.fit(train_ds, validation_data=val_ds, epochs=epochs, verbose=0, shuffle=False)
        return time.perf_counter() - t

    def tlcore() -> tuple[float, float]:
        t = time.perf_counter()
        info = store.create_run(config, split=split)
        info = train(config, info.path, split=split)
        total = time.perf_counter() - t
        events = run_files.read_events(info.run_id)[0]
        start = next(e["time"] for e in events if e["type"] == "phase")
        end = [e["time"] for e in events if e["type"] == "epoch"][-1]
        assert info.status == "finished", info.error
        return end - start, total

    plain_runs, tl_runs = [], []
    for _ in range(3):  # alternate, so a busy moment on the shared machine hits both
        plain_runs.append(plain())
        tl_runs.append(tlcore())
    plain_s = sorted(plain_runs)[1]  # medians
    fit_s = sorted(r[0] for r in tl_runs)[1]
    return {
        "images": len(y) + len(vy),
        "epochs": epochs,
        "size": size,
        "plain_fit_seconds": plain_runs,
        "tlcore_fit_seconds": [r[0] for r in tl_runs],
        "tlcore_total_seconds": [r[1] for r in tl_runs],
        "overhead": fit_s / plain_s - 1.0,
    }


def callback_cost(n: int = 20000) -> dict:
    """Part 3: microseconds per batch spent in tlcore's event hooks (stop check, throttled
    batch event, NaN check), measured directly with fake logs (no TensorFlow)."""
    sys.path.insert(0, str(ROOT))
    from tlcore.training.events import EventLog, TrainingEvents

    class Model:
        stop_training = False

    folder = Path(tempfile.mkdtemp(prefix="tl-bench-cb-"))
    hooks = TrainingEvents(
        EventLog(folder / "events.jsonl"),
        "train",
        10,
        32,
        should_stop=lambda: (folder / "stop.flag").exists(),
    )
    hooks.model, hooks.params = Model(), {"steps": n}
    hooks.on_train_begin()
    hooks.on_epoch_begin(0)
    t = time.perf_counter()
    for b in range(n - 1):
        hooks.on_train_batch_end(b, {"loss": 0.5, "accuracy": 0.9})
    return {"microseconds_per_batch": (time.perf_counter() - t) / (n - 1) * 1e6}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--ft-images", type=int, default=240)
    parser.add_argument("--ft-size", type=int, default=128)
    parser.add_argument("--ft-epochs", type=int, default=6)
    parser.add_argument("--part", choices=["all", "fe", "overhead"], default="all")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    out_file = OUT / "training.json"
    result = json.loads(out_file.read_text()) if out_file.is_file() else {}
    result.update({"cpus": os.cpu_count(), "loadavg_before": os.getloadavg()})
    if args.part in ("all", "fe"):
        data = make_data(args.images, args.size)
        result["feature_extraction"] = feature_extraction(data, args.size, args.epochs)
    if args.part in ("all", "overhead"):
        result["callback"] = callback_cost()
        ft_data = make_data(args.ft_images, args.ft_size)
        result["overhead"] = overhead(ft_data, args.ft_size, args.ft_epochs, args.ft_images)
    result["loadavg_after"] = os.getloadavg()
    out_file.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    fe, ovh = result.get("feature_extraction"), result.get("overhead")
    if not fe or not ovh:
        return
    print(
        f"\n| feature extraction, {args.images} images, {args.size} px, {args.epochs} epochs "
        "| seconds |\n|---|---|"
    )
    print(f"| plain Keras (tutorial) | {fe['plain_seconds']:.1f} |")
    print(
        f"| tlcore, cold workspace | {fe['tlcore_cold_seconds']:.1f} ({fe['speedup_cold']:.1f}x) |"
    )
    print(f"| tlcore, warm caches | {fe['tlcore_warm_seconds']:.1f} ({fe['speedup_warm']:.1f}x) |")
    print(f"\noverhead of tlcore on a full fine-tune: {ovh['overhead']:+.1%}")


if __name__ == "__main__":
    main()
