"""Which features the solved head should read, measured on real images in one process.

One forward pass of EfficientNet-Lite0 (the installed ImageNet weights) over every image
of a dataset gives the pooled last layer and the layers ``tlcore.training.multilayer``
taps; then, for each (images a class, seed) split (the same splits as
``bench_fewshot.py``: ``shots`` a class train, every other image tests), every head is
fitted on the training features only and scored on the test images:

- ``last``: the solved head on the last layer (today's default before issue 20);
- ``multi``: the solved head on the group-scaled multi-layer features;
- ``auto``: the run's default: ``multi`` unless ``last`` cross-validates clearly better
  on the training images (``tlcore.training.head_choice``, the loop's own functions);
- ``higher-cv-mean``: ``last`` or ``multi``, whichever has the higher mean fold accuracy;
- ``ncm-last`` / ``ncm-multi``: nearest class mean on centred, L2-normalised features
  (SimpleShot);
- ``lrcv-last``: scikit-learn's ``LogisticRegressionCV`` on the last layer.
- ``+flip``: the solved head with horizontally flipped training views as extra rows and
  the two views of each test image averaged.

It also times the two extractors (the last layer alone, the multi-layer one) on the same
images. Usage: ``python bench/bench_multilayer.py [--dataset twemoji|lfw] [--shots
5,10,20] [--seeds 0,1,2,3,4]``; rows in ``bench/_out/multilayer-<dataset>.json``. With
``--cost N``: the end-to-end cost instead (``cost``), ``tlcore train`` with the default
and with ``--head-features last`` alternated N times on the largest ``--shots`` split.
"""

import argparse
import json
import os
import statistics
import sys
import time
import zlib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

OUT = ROOT / "bench" / "_out"
DATA = ROOT / "bench" / "_data"
SIZE = 224


def dataset(name: str) -> Path:
    """The class folders of ``name`` (made on first use)."""
    from bench import realdata

    if name == "twemoji":
        return realdata.twemoji_dataset(DATA / "twemoji", per_class=60)
    if name == "lfw":
        dest = DATA / "lfw"
        return dest if (dest / "face").is_dir() else realdata.lfw_faces(dest, per_class=100)
    raise SystemExit(f"Unknown dataset '{name}': twemoji or lfw.")


def features_of(root: Path) -> dict:
    """Every image's multi-layer features (and of its mirror image), labels, class names,
    file order per class, and the extraction times."""
    import keras

    from bench import realdata
    from tlcore.config import TrainConfig
    from tlcore.data.pipeline import load_arrays
    from tlcore.data.scan import scan
    from tlcore.models.backbone_models import prepare_weights
    from tlcore.models.classifier import build_classifier
    from tlcore.training import features, multilayer

    report = scan(str(root))
    classes = sorted(report.classes)
    by_path = {str(Path(i.path).resolve()): i for i in report.items}
    # The file order of realdata.fewshot_split, so the splits are bench_fewshot's.
    files = {c: [str(p.resolve()) for p in realdata._images(root / c)] for c in classes}
    items = [by_path[p] for c in classes for p in files[c]]
    images, labels = load_arrays(items, classes, SIZE, "pad")
    images = np.asarray(images)
    config = TrainConfig(data=str(root))
    prepare_weights(config.backbone, SIZE, "imagenet", None)
    model = build_classifier(config, len(classes))
    taps = multilayer.tap_layers(model.get_layer("backbone"))
    multi, widths = multilayer.extractor(model, taps)
    last = keras.Model(model.inputs, model.get_layer("pool").output)
    features.extract(last, images[:8]), features.extract(multi, images[:8])  # traced
    seconds: dict[str, float] = {}
    out = {}
    for name, m in (("last", last), ("multi", multi)) * 2:  # alternated, best of two
        t = time.perf_counter()
        out[name] = features.extract(m, images)
        seconds[name] = min(seconds.get(name, 1e9), time.perf_counter() - t)
    feats = out["multi"]
    assert np.allclose(feats[:, : widths[0]], out["last"], atol=1e-4)  # the same last layer
    flipped = features.extract(multi, images[:, :, ::-1].copy())
    return {
        "feats": feats, "flipped": flipped, "labels": np.asarray(labels), "classes": classes,
        "files": files, "widths": widths, "layers": 1 + len(taps), "seconds": seconds,
    }  # fmt: skip


def split(files: dict, shots: int, seed: int) -> np.ndarray:
    """Train mask: realdata.fewshot_split's draw (``shots`` a class)."""
    mask, start = [], 0
    for name, paths in files.items():
        rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
        keep = np.zeros(len(paths), bool)
        keep[rng.permutation(len(paths))[:shots]] = True
        mask.append(keep)
        start += len(paths)
    return np.concatenate(mask)


def ncm(xtr: np.ndarray, ytr: np.ndarray, xte: np.ndarray, k: int) -> np.ndarray:
    """Nearest class mean on centred, L2-normalised features: predicted classes."""
    mu = xtr.mean(axis=0)

    def norm(z: np.ndarray) -> np.ndarray:
        z = z - mu
        return z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)

    a, b = norm(xtr), norm(xte)
    means = np.stack([a[ytr == c].mean(axis=0) for c in range(k)])
    return np.argmin(((b[:, None, :] - means[None]) ** 2).sum(axis=2), axis=1)


def full_auto(d: dict, tr: np.ndarray, te: np.ndarray, mirror: bool) -> tuple[str, float]:
    """What a run on defaults keeps (every candidate of ``head_candidates``, cross-validated
    on the training images exactly as ``multilayer_solve`` does), and its test accuracy."""
    from tlcore.training import head_candidates, multilayer, nearest_mean
    from tlcore.training.crossval import fold_count
    from tlcore.training.head_choice import pick
    from tlcore.training.head_solver import solve_head
    from tlcore.training.multilayer_solve import train_rows

    y, k, w0 = d["labels"], len(d["classes"]), d["widths"][0]
    raw, flipped, last = d["feats"], d["flipped"], d["feats"][:, :w0]
    counts = np.bincount(y[tr], minlength=k)
    folds = fold_count(counts)
    cands = head_candidates.candidates(d["layers"], int(counts.min()), mirror)
    scored = [
        head_candidates.cross_validate(
            c, train_rows(c, raw[tr], last[tr], flipped[tr], d["widths"]), y[tr], k, folds
        )
        for c in cands
    ]
    kept = next(c for c in scored if c.score is pick([c.score for c in scored]))
    cand = kept.candidate
    if cand.features == "last":
        xtr, xte = last[tr], last[te]
    else:
        x = (raw + flipped) / 2 if cand.views else raw
        mean, scale = multilayer.group_scaling(x[tr], d["widths"])
        xtr, xte = (x[tr] - mean) / scale, (x[te] - mean) / scale
    if cand.head == "nearest-mean":
        probs = nearest_mean.fit_nearest_mean(xtr, y[tr], k, kept.temperature).predict_proba(xte)
    else:
        probs = solve_head(xtr, y[tr], k, seed=42).predict_proba(xte)
    return cand.key, float((probs.argmax(1) == y[te]).mean())


def one_split(d: dict, shots: int, seed: int) -> dict:
    """Every head on one split: test accuracy and fitting seconds."""
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.model_selection import StratifiedKFold

    from tlcore.training import multilayer
    from tlcore.training.crossval import fold_count
    from tlcore.training.head_choice import pick, score
    from tlcore.training.head_solver import out_of_fold, solve_head

    tr = split(d["files"], shots, seed)
    te = ~tr
    y, k, w0 = d["labels"], len(d["classes"]), d["widths"][0]
    mean, scale = multilayer.group_scaling(d["feats"][tr], d["widths"])
    multi = (d["feats"] - mean) / scale
    multi_flip = (d["flipped"] - mean) / scale
    last = d["feats"][:, :w0]
    row: dict = {"shots": shots, "seed": seed, "test_images": int(te.sum())}

    def solved(name: str, x: np.ndarray) -> np.ndarray:
        t = time.perf_counter()
        fit = solve_head(x[tr], y[tr], k, seed=42)
        row[f"{name}_seconds"] = time.perf_counter() - t
        row[f"{name}_accuracy"] = float((fit.predict_proba(x[te]).argmax(1) == y[te]).mean())
        return fit.predict_proba(x[te])

    solved("last", last)
    solved("multi", multi)
    t = time.perf_counter()
    folds = fold_count(np.bincount(y[tr]))
    scores = [
        score(name, n, x[tr], y[tr], out_of_fold(x[tr], y[tr], k, folds, seed=42))
        for name, n, x in (("multi", d["layers"], multi), ("last", 1, last))
    ]
    chosen = pick(scores).features
    by_mean = max(scores[::-1], key=lambda s: s.accuracy).features  # a tie: last
    row["higher-cv-mean_accuracy"] = row[f"{by_mean}_accuracy"]
    row["auto_choice"] = chosen
    row["auto_cv"] = {s.features: s.accuracy for s in scores}
    row["auto_accuracy"] = row[f"{chosen}_accuracy"]
    row["auto_seconds"] = time.perf_counter() - t + row[f"{chosen}_seconds"]
    fit = solve_head(np.vstack([multi[tr], multi_flip[tr]]), np.concatenate([y[tr], y[tr]]), k)
    p = fit.predict_proba(multi[te]) + fit.predict_proba(multi_flip[te])
    row["multi+flip_accuracy"] = float((p.argmax(1) == y[te]).mean())
    row["ncm-last_accuracy"] = float((ncm(last[tr], y[tr], last[te], k) == y[te]).mean())
    row["ncm-multi_accuracy"] = float((ncm(multi[tr], y[tr], multi[te], k) == y[te]).mean())
    mirror_avg = (d["feats"] + d["flipped"]) / 2
    m_mean, m_scale = multilayer.group_scaling(mirror_avg[tr], d["widths"])
    solved("mirror-avg", (mirror_avg - m_mean) / m_scale)
    for way, mirror in (("default", True), ("default-orientation", False)):
        chosen, acc = full_auto(d, tr, te, mirror)
        row[f"{way}_choice"], row[f"{way}_accuracy"] = chosen, acc
    cv = StratifiedKFold(min(5, shots), shuffle=True, random_state=0)
    lr = LogisticRegressionCV(Cs=10, cv=cv, max_iter=5000).fit(last[tr], y[tr])
    row["lrcv-last_accuracy"] = float((lr.predict(last[te]) == y[te]).mean())
    print(json.dumps(row), flush=True)
    return row


WAYS = (
    "default",
    "default-orientation",
    "mirror-avg",
    "auto",
    "last",
    "multi",
    "higher-cv-mean",
    "multi+flip",
    "ncm-last",
    "ncm-multi",
    "lrcv-last",
)


def summary(rows: list[dict]) -> str:
    """A Markdown table: mean accuracy ± spread over seeds, per way and size."""
    lines = [
        "| images a class | " + " | ".join(WAYS) + " | auto chose multi | default kept |",
        "|---" * (len(WAYS) + 3) + "|",
    ]
    for shots in sorted({r["shots"] for r in rows}):
        mine = [r for r in rows if r["shots"] == shots]
        cells = []
        for way in WAYS:
            v = [r[f"{way}_accuracy"] for r in mine]
            cells.append(f"{100 * statistics.mean(v):.1f} ± {100 * statistics.pstdev(v):.1f}")
        multi = sum(r["auto_choice"] == "multi" for r in mine)
        kept = ", ".join(sorted(r["default_choice"] for r in mine))
        lines.append(f"| {shots} | " + " | ".join(cells) + f" | {multi}/{len(mine)} | {kept} |")
    return "\n".join(lines)


def cost(dataset_name: str, shots: int, repeats: int) -> dict:
    """End-to-end cost of the default against the last-layer probe (and of the default with
    mirror images, ``--try-mirror-images``): ``tlcore train`` in one
    command on a ``shots``-a-class split (train and test folders), each run in a fresh
    workspace, alternated ``repeats`` times; wall and CPU seconds (user + system, the
    child's own: CPU time hardly depends on what else runs on the machine)."""
    import resource
    import subprocess

    from bench import realdata
    from bench.bench_fewshot import fresh_home, lite0_base

    lite0_base(DATA)  # the converted Lite0 every fresh workspace starts with
    train, _test = realdata.fewshot_split(dataset(dataset_name), shots=shots, seed=0)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    ways = (
        ("default", []),
        ("last", ["--head-features", "last"]),
        ("mirror", ["--try-mirror-images"]),
    )
    runs: dict[str, list] = {way: [] for way, _ in ways}
    for _ in range(repeats):
        for way, extra in ways:
            cmd = [sys.executable, "-m", "tlcore", "train", str(train.parent), *extra, "--json"]
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t = time.perf_counter()
            subprocess.run(cmd, env={**env, **fresh_home()}, cwd=ROOT, check=True,
                           capture_output=True)  # fmt: skip
            wall = time.perf_counter() - t
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            runs[way].append({"wall": wall, "cpu": cpu})
            print(way, json.dumps(runs[way][-1]), flush=True)
    out = {k: {m: min(r[m] for r in v) for m in ("wall", "cpu")} for k, v in runs.items()}
    print(json.dumps(out))
    return {"dataset": dataset_name, "shots": shots, "runs": runs, "best": out}


def main() -> None:
    """Run the benchmark and print its table."""
    from threadpoolctl import threadpool_limits

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="twemoji")
    parser.add_argument("--shots", default="5,10,20")
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--cost", type=int, default=0, help="instead: N alternated CLI runs")
    args = parser.parse_args()
    if args.cost:
        shots = int(args.shots.split(",")[-1])
        result = cost(args.dataset, shots, args.cost)
        OUT.mkdir(parents=True, exist_ok=True)
        (OUT / f"multilayer-cost-{args.dataset}.json").write_text(json.dumps(result, indent=2))
        return
    d = features_of(dataset(args.dataset))
    with threadpool_limits(limits=1):
        rows = [
            one_split(d, int(shots), int(seed))
            for shots in args.shots.split(",")
            for seed in args.seeds.split(",")
        ]
    OUT.mkdir(parents=True, exist_ok=True)
    out = {"dataset": args.dataset, "images": len(d["labels"]), "layers": d["layers"]}
    out |= {"extract_seconds": d["seconds"], "rows": rows}
    (OUT / f"multilayer-{args.dataset}.json").write_text(json.dumps(out, indent=2))
    s = d["seconds"]
    print(f"extraction of {len(d['labels'])} images: last layer {s['last']:.2f} s, "
          f"{d['layers']} layers {s['multi']:.2f} s ({s['multi'] / s['last']:.2f}x)")  # fmt: skip
    print(summary(rows))


if __name__ == "__main__":
    main()
