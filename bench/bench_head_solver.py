"""Head-solver benchmark: the solved head against LogisticRegressionCV and today's Adam head.

Real data: scikit-learn's handwritten digits (1,797 8x8 images, 10 classes, bundled, no
download). ``--features pixels`` uses the 64 raw pixels as features; ``--features
random1280`` passes them through a fixed random ReLU layer to 1,280 features (the shape of
a pooled MobileNetV2 / EfficientNet output; like a frozen, untrained backbone). For 5, 10
and 20 training images a class, ``--repeats`` random draws each; every method is scored
on all remaining images (~1,600-1,750):

- ``solver``: ``tlcore.training.head_solver.solve_head`` (C by CV log-loss, global scale)
- ``solver-acc``: the same, C chosen by CV accuracy
- ``solver-feature``: the same, each feature standardised
- ``lrcv``: ``sklearn.linear_model.LogisticRegressionCV`` (its defaults: 10 Cs, 5 folds)
- ``keras``: ``Dropout(0.2) -> Dense(softmax)`` by Adam 1e-3, 20 epochs, batch 32 (the
  head as trained before the solver)

Usage: ``python bench/bench_head_solver.py [--features pixels] [--repeats 20]``.
Prints one line per (images a class, method): mean +- std test accuracy, median seconds.
"""

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from tlcore.training.head_solver import solve_head  # noqa: E402

K = 10
METHODS = ("solver", "solver-acc", "solver-feature", "lrcv", "keras")


def load(features: str) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = x.astype(np.float32)
    if features == "random1280":
        w = np.random.default_rng(123).normal(size=(64, 1280)).astype(np.float32) / 8
        x = np.maximum(x @ w - 1.0, 0.0)
    return x, y


def draw(y: np.ndarray, per_class: int, repeat: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1000 * per_class + repeat)
    train = np.concatenate(
        [rng.choice(np.flatnonzero(y == c), per_class, replace=False) for c in range(K)]
    )
    return train, np.setdiff1d(np.arange(len(y)), train)


def keras_head(xt: np.ndarray, yt: np.ndarray, xv: np.ndarray, seed: int) -> np.ndarray:
    import keras

    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input((xt.shape[1],)),
            keras.layers.Dropout(0.2, seed=seed),
            keras.layers.Dense(K, activation="softmax"),
        ]
    )
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
    model.fit(xt, yt, epochs=20, batch_size=32, verbose=0, shuffle=True)
    return model.predict(xv, verbose=0, batch_size=512)


def predict(method: str, xt, yt, xv, seed: int) -> np.ndarray:
    if method.startswith("solver"):
        criterion = "accuracy" if method == "solver-acc" else "log_loss"
        scaling = "feature" if method == "solver-feature" else "global"
        fit = solve_head(xt, yt, K, criterion=criterion, scaling=scaling, seed=seed)
        return fit.predict_proba(xv)
    if method == "lrcv":
        from sklearn.linear_model import LogisticRegressionCV
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1):  # as the solver: fair, and faster on 2 shared cores
            est = LogisticRegressionCV(max_iter=1000, l1_ratios=(0.0,), use_legacy_attributes=False)
            return est.fit(xt, yt).predict_proba(xv)
    return keras_head(xt, yt, xv, seed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--features", choices=("pixels", "random1280"), default="pixels")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--methods", default=",".join(METHODS))
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    x, y = load(args.features)
    for per_class in (5, 10, 20):
        for method in args.methods.split(","):
            accs, secs = [], []
            for r in range(args.repeats):
                train, test = draw(y, per_class, r)
                t0 = time.perf_counter()
                probs = predict(method, x[train], y[train], x[test], r)
                secs.append(time.perf_counter() - t0)
                accs.append(float((probs.argmax(axis=1) == y[test]).mean()))
            print(
                f"{args.features} {per_class:>2}/class {method:>14}: "
                f"{np.mean(accs):.1%} +- {np.std(accs):.1%}  median {np.median(secs):.2f} s",
                flush=True,
            )


if __name__ == "__main__":
    main()
