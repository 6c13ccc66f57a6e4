"""Inspect benchmark: planted wrong labels in real images, found or not; and the time.

Quality. Real images no one here made: Twemoji artwork (6 Unicode emoji categories,
``bench/realdata.py``) and LFW photographs (face / not face, scikit-image), 10 and 20 a
class. Each image goes once through EfficientNet-Lite0 (224 px, its pip-installed
ImageNet weights); then, for each seed, 5% or 10% of the labels are changed to another
class at random and ``check_labels`` (the solved head's out-of-fold probabilities +
cleanlab) ranks the images. An image's features do not depend on its folder, so this is
the same as moving the files (the timing part below does move them, through the CLI).
Reported, averaged over the seeds, with k = the number planted:

- precision at k: of the k least believable labels, the share that were planted
  (a random ranking scores the planted rate, 5% or 10%);
- flagged: how many images cleanlab flags as issues; their precision and recall.

Time. ``python -m tlcore inspect DATA --json`` as a process (Python and TensorFlow
start-up included) on 100 and 1,000 Twemoji images with 5% of the files moved to a wrong
class folder: first in an empty workspace (decode, features, cross-validation, map), then
again (the feature cache read back). Also reports the CLI's precision at k there.

Near-duplicates and outliers. scikit-image's photos, each with three copies (half size
as JPEG 75, cropped by 5% a side, 15% brighter), among 80 LFW crops and 80 Twemoji
images; two other photos (an astronaut, a coffee cup) put alone into emoji classes.
Reported: the similarity of each copy to its original, the most similar pair of distinct
images, the pairs found at the threshold (true and false), and the outliers found among
the emoji with the two photos.

Usage: ``python bench/bench_inspect.py [--seeds 0,1,2,3,4] [--parts quality,findings,timing]``
writes ``bench/_out/inspect-<parts>.json`` and prints Markdown tables.
"""

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import zlib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import realdata  # noqa: E402
from bench.bench_training import timed  # noqa: E402

OUT = ROOT / "bench" / "_out"
DATA = ROOT / "bench" / "_data"
RATES = (0.05, 0.10)


def datasets(per_class: int) -> dict[str, Path]:
    """The real-image class folders of the quality part, ``per_class`` a class."""
    twemoji = realdata.twemoji_dataset(DATA / f"inspect-twemoji-{per_class}", per_class)
    lfw = DATA / f"inspect-lfw-{per_class}"
    if not lfw.is_dir():
        realdata.lfw_faces(lfw, per_class=per_class)
    return {"Twemoji, 6 classes": twemoji, "LFW, face / not face": lfw}


def plant(labels: np.ndarray, k: int, rate: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``round(rate * n)`` (at least 1) labels changed to another class, uniformly."""
    rng = np.random.default_rng(seed)
    n = len(labels)
    idx = np.sort(rng.choice(n, max(1, round(rate * n)), replace=False))
    noisy = labels.copy()
    for i in idx:
        noisy[i] = rng.choice([c for c in range(k) if c != labels[i]])
    return noisy, idx


def quality(seeds: list[int]) -> list[dict]:
    """Precision at k and flagged precision / recall per dataset, size and rate."""
    from tlcore.config import TrainConfig
    from tlcore.data.scan import scan
    from tlcore.results.inspect.embed import embed_dataset
    from tlcore.results.inspect.label_issues import check_labels

    rows = []
    for per_class in (10, 20):
        for name, root in datasets(per_class).items():
            emb = embed_dataset(TrainConfig(data=str(root)), scan(root))
            for rate in RATES:
                runs = []
                for seed in seeds:
                    noisy, idx = plant(emb.labels, len(emb.classes), rate, seed)
                    check = check_labels(emb.features, noisy, emb.classes, seed)
                    planted = set(idx.tolist())
                    flagged = [i.index for i in check.issues]
                    hits = len(planted & set(flagged))
                    runs.append(
                        {
                            "planted": len(idx),
                            "p_at_k": len(planted & set(check.ranking[: len(idx)])) / len(idx),
                            "flagged": len(flagged),
                            "flagged_precision": hits / len(flagged) if flagged else 0.0,
                            "recall": hits / len(idx),
                        }
                    )
                row = {"dataset": name, "per_class": per_class, "images": len(emb.labels)}
                row |= {"rate": rate, "seeds": len(seeds)}
                row |= {key: statistics.mean(r[key] for r in runs) for key in runs[0]}
                row["p_at_k_min"] = min(r["p_at_k"] for r in runs)
                rows.append(row)
                print(json.dumps(row), flush=True)
    return rows


def timing_dataset(images: int) -> tuple[Path, set[str]]:
    """Twemoji class folders of ``images`` images with 5% moved to a wrong class."""
    classes = [c for c in realdata.CATEGORIES if c != "activities"]  # 85 images only
    classes = classes[:5] if images <= 100 else classes
    per_class = images // len(classes)
    clean = realdata.twemoji_dataset(DATA / f"inspect-time-{images}", per_class, classes)
    dest = Path(tempfile.mkdtemp(prefix="inspect-planted-")) / "data"
    shutil.copytree(clean, dest)
    files = sorted(p for p in dest.glob("*/*.png"))
    rng = np.random.default_rng(zlib.crc32(b"inspect"))
    moved = set()
    for i in rng.choice(len(files), round(0.05 * len(files)), replace=False):
        src = files[i]
        other = rng.choice([c for c in classes if c != src.parent.name])
        target = dest / other / src.name
        shutil.move(src, target)
        moved.add(str(target))
    return dest, moved


def timing() -> list[dict]:
    """Seconds of the CLI on 100 and 1,000 images, cold and warm."""
    rows = []
    for images in (100, 1000):
        data, moved = timing_dataset(images)
        home = tempfile.mkdtemp(prefix="tl-bench-inspect-")
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "TRANSFERLAB_HOME": home}
        cmd = [sys.executable, "-m", "tlcore", "inspect", str(data), "--json"]
        cold, out = timed(cmd, env)
        warm, _ = timed(cmd, env)
        found = json.loads(out.strip().splitlines()[-1])
        first = [i["path"] for i in found["label_issues"][: len(moved)]]
        row = {
            "images": found["images"],
            "cold_seconds": round(cold, 1),
            "warm_seconds": round(warm, 1),
            "planted": len(moved),
            "p_at_k_flagged": len(moved & set(first)) / len(moved),
            "flagged": len(found["label_issues"]),
            "recall": len(moved & {i["path"] for i in found["label_issues"]}) / len(moved),
            "duplicate_pairs": found["duplicate_pairs_found"],
            "outliers": len(found["outliers"]),
            "map": found["map_method"],
            "load_average": os.getloadavg()[0],
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
        shutil.rmtree(data.parent, ignore_errors=True)
        shutil.rmtree(home, ignore_errors=True)
    return rows


def findings() -> dict:
    """Near-duplicate similarities and outlier ranks on planted copies and odd ones out."""
    from PIL import Image, ImageEnhance

    from tlcore.config import TrainConfig
    from tlcore.data.scan import scan
    from tlcore.results.inspect.embed import embed_dataset
    from tlcore.results.inspect.near_duplicates import SIMILARITY, near_duplicates, unit_rows
    from tlcore.results.inspect.outliers import find_outliers

    root = Path(tempfile.mkdtemp(prefix="inspect-findings-")) / "data"
    classes = ["animals_nature", "food_drink", "flags", "travel_places"]
    emoji = realdata.twemoji_dataset(DATA / "inspect-findings-emoji", 20, classes)
    shutil.copytree(emoji, root)
    realdata.lfw_faces(root, per_class=40)
    photos = realdata.skimage_photos(root.parent / "photos")
    (root / "photo").mkdir()
    odd_out = {"astronaut": "animals_nature", "coffee": "flags"}  # alone among emoji
    copies = {}
    for name, src in photos.items():
        if name in odd_out:
            continue
        im = Image.open(src).convert("RGB")
        w, h = im.size
        im.save(root / "photo" / f"{name}.jpg", quality=95)
        variants = {
            "half": im.resize((w // 2, h // 2)),
            "crop": im.crop((w // 20, h // 20, w - w // 20, h - h // 20)),
            "bright": ImageEnhance.Brightness(im).enhance(1.15),
        }
        for kind, copy in variants.items():
            copy.save(root / "photo" / f"{name}_{kind}.jpg", quality=75 if kind == "half" else 85)
            copies[str(root / "photo" / f"{name}_{kind}.jpg")] = str(root / "photo" / f"{name}.jpg")
    odd = {}
    for name, cls in odd_out.items():
        if name in photos:
            shutil.copy(photos[name], root / cls / f"odd_{name}.jpg")
            odd[str(root / cls / f"odd_{name}.jpg")] = cls
    emb = embed_dataset(TrainConfig(data=str(root)), scan(root))
    where = {p: i for i, p in enumerate(emb.paths)}
    z = unit_rows(emb.features)
    sims = z @ z.T
    copy_sims = {Path(c).name: float(sims[where[c], where[o]]) for c, o in copies.items()}
    same = {(where[c], where[o]) for c, o in copies.items()}
    same |= {(b, a) for a, b in same}
    group = {}
    for c, o in copies.items():
        group[where[c]] = group[where[o]] = where[o]
    distinct = max(
        (float(sims[a, b]), emb.paths[a], emb.paths[b])
        for a in range(len(z))
        for b in range(a + 1, len(z))
        if not (a in group and b in group and group[a] == group[b])
    )
    pairs, n = near_duplicates(emb.features, emb.labels, emb.parts)
    true = sum(1 for p in pairs if p.a in group and p.b in group and group[p.a] == group[p.b])
    # Outliers among the emoji (with the two photos): the photo class is left out, or the
    # lone photos would have neighbours (they are then label mistakes, not outliers).
    rows = [i for i, p in enumerate(emb.paths) if Path(p).parent.name in classes]
    outliers = [emb.paths[rows[o.index]] for o in find_outliers(emb.features[rows])]
    outliers_everything = [emb.paths[o.index] for o in find_outliers(emb.features)]
    shutil.rmtree(root.parent, ignore_errors=True)
    return {
        "images": len(emb.paths),
        "threshold": SIMILARITY,
        "copies": len(copies),
        "copy_similarity": copy_sims,
        "copy_similarity_min_median_max": [
            min(copy_sims.values()),
            statistics.median(copy_sims.values()),
            max(copy_sims.values()),
        ],
        "closest_distinct": [distinct[0], Path(distinct[1]).name, Path(distinct[2]).name],
        "pairs_found": n,
        "true_pairs": true,
        "true_pairs_possible": 6 * (len(photos) - len(odd)),  # 4 pictures: 6 pairs
        "outliers": [str(Path(p).relative_to(root)) for p in outliers],
        "odd_ones": [str(Path(p).relative_to(root)) for p in odd],
        "outliers_among_everything": [str(Path(p).relative_to(root)) for p in outliers_everything],
    }


def markdown(q: list[dict], t: list[dict]) -> str:
    """The tables for BENCHMARKS.md."""
    lines = [
        "| data | a class | images | planted | precision at k | flagged | flagged precision "
        "| recall |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in q:
        lines.append(
            f"| {r['dataset']} | {r['per_class']} | {r['images']} | {100 * r['rate']:.0f}% "
            f"({r['planted']:.0f}) | {100 * r['p_at_k']:.0f}% (min {100 * r['p_at_k_min']:.0f}%)"
            f" | {r['flagged']:.1f} | {100 * r['flagged_precision']:.0f}% "
            f"| {100 * r['recall']:.0f}% |"
        )
    if t:
        lines += [
            "",
            "| images | first look | second look | planted | of them in the first k flagged "
            "| flagged | recall | map |",
            "|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        for r in t:
            lines.append(
                f"| {r['images']} | {r['cold_seconds']} s | {r['warm_seconds']} s "
                f"| {r['planted']} | {100 * r['p_at_k_flagged']:.0f}% | {r['flagged']} "
                f"| {100 * r['recall']:.0f}% | {r['map']} |"
            )
    return "\n".join(lines)


def main() -> None:
    """Run both parts; write the JSON and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--parts", default="quality,findings,timing")
    args = parser.parse_args()
    os.environ.setdefault("TRANSFERLAB_HOME", tempfile.mkdtemp(prefix="tl-bench-inspect-q-"))
    parts = args.parts.split(",")
    q = quality([int(s) for s in args.seeds.split(",")]) if "quality" in parts else []
    f = findings() if "findings" in parts else {}
    print(json.dumps(f), flush=True)
    t = timing() if "timing" in parts else []
    OUT.mkdir(parents=True, exist_ok=True)
    result = {"quality": q, "findings": f, "timing": t}
    (OUT / f"inspect-{'-'.join(parts)}.json").write_text(json.dumps(result, indent=1))
    print(markdown(q, t))


if __name__ == "__main__":
    main()
