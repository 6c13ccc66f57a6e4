"""Data-pipeline benchmark: TransferLab against Keras' own image path, same files, one run.

    python bench/bench_data.py [--images 64] [--size 224] [--epochs 10]

1. Per image: ``tlcore.load_image`` vs ``tf.io.decode_image`` + ``tf.image.resize`` (what
   ``image_dataset_from_directory`` does per file), alternating image by image in one
   process so both see the same machine load; wall-clock median and CPU time. Run on
   two kinds of content (see ``CONTENT``). Target: >= 1.5x.
2. Input pipeline over N epochs: ``tlcore.data.pipeline.make_dataset`` with an empty cache at
   the start (the cold decode is inside the timing) vs ``image_dataset_from_directory``
   + ``prefetch`` without ``.cache()`` (decodes every epoch). Runs alternate
   (``--repeats`` each) and the best of each side is compared. Target: >= 8x.

Each measurement runs in its own child process, so its peak resident memory
(``ru_maxrss``) is its own. Images: 4000x3000 JPEGs with photo-like texture, generated
once into ``bench/_data`` (gitignored). Results go to stdout and ``bench/_out/data.json``.
"""

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DATA = HERE / "_data"
OUT = HERE / "_out"
sys.path.insert(0, str(REPO))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


# Two kinds of 4000x3000 photo: "textured" has per-pixel grain like a phone photo in
# indoor light (about 2 bits per pixel at quality 92, 3 MB); "smooth" has fine texture but
# little grain (about 1 bit per pixel, 1.5 MB). Entropy decoding, which draft mode cannot
# skip, grows with the file size, so the per-image speed-up depends on the content.
CONTENT = {
    "textured": {"fine": (800, 600, 10), "grain": 4},
    "smooth": {"fine": (400, 300, 8), "grain": 1},
}


def make_photo(
    rng: np.random.Generator, kind: str = "textured", width: int = 4000, height: int = 3000
) -> np.ndarray:
    """Photo-like content: smooth shapes of light + mid-scale texture + fine detail + grain."""
    from PIL import Image

    def upscaled(w: int, h: int, amp: float) -> np.ndarray:
        small = np.clip(128 + rng.normal(0, amp, (h, w, 3)), 0, 255).astype(np.uint8)
        big = Image.fromarray(small).resize((width, height), Image.Resampling.BICUBIC)
        return np.asarray(big).astype(np.int16) - 128

    spec = CONTENT[kind]
    pixels = rng.integers(60, 190, 3).astype(np.int16) + upscaled(8, 6, 45)
    pixels += upscaled(80, 60, 18)
    pixels += upscaled(*spec["fine"])
    g = spec["grain"]
    pixels += rng.integers(-g, g + 1, (height, width, 1), dtype=np.int16)
    return np.clip(pixels, 0, 255).astype(np.uint8)


def folder_for(n: int, kind: str) -> Path:
    return DATA / f"jpeg4000x3000-{kind}-{n}"


def ensure_images(n: int, kind: str) -> Path:
    """``n`` 4000x3000 JPEGs in two class folders under bench/_data (made once)."""
    from PIL import Image

    folder = folder_for(n, kind)
    marker = folder / ".transferlab-bench-done"
    if marker.exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    for cls in ("a", "b"):
        (folder / cls).mkdir(parents=True)

    def one(i: int) -> None:
        photo = make_photo(np.random.default_rng([0, i]), kind)
        cls = "a" if i % 2 == 0 else "b"
        Image.fromarray(photo).save(folder / cls / f"photo_{i:03d}.jpg", quality=92)

    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:  # Pillow releases the GIL
        list(pool.map(one, range(n)))
    marker.write_text("ok\n")
    return folder


def image_paths(folder: Path) -> list[str]:
    return sorted(str(p) for p in folder.rglob("*.jpg"))


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on Linux


def cpu_seconds() -> float:
    """CPU time of this process, all threads (less sensitive to other processes' load)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def phase_per_image(folder: Path, size: int, passes: int = 2) -> dict:
    import tensorflow as tf

    from tlcore.data.images import load_image

    @tf.function
    def keras_path(path):
        img = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
        return tf.image.resize(img, (size, size))  # bilinear, as image_dataset_from_directory

    paths = image_paths(folder)
    keras_path(tf.constant(paths[0]))  # trace once, outside the timing
    load_image(paths[0], size)
    ways = {
        "tlcore_pad": lambda p: load_image(p, size, "pad"),
        "tlcore_stretch": lambda p: load_image(p, size, "stretch"),
        "keras": lambda p: keras_path(tf.constant(p)).numpy(),
    }
    names = list(ways)
    times: dict[str, list[float]] = {k: [] for k in names}
    cpu: dict[str, list[float]] = {k: [] for k in names}
    for _ in range(passes):
        for i, p in enumerate(paths):
            # All three on the same file back to back, in a rotating order: they see the
            # same machine load and none always goes first.
            for name in names[i % 3 :] + names[: i % 3]:
                t, c = time.perf_counter(), time.process_time()
                ways[name](p)
                times[name].append(time.perf_counter() - t)
                cpu[name].append(time.process_time() - c)
    ours, theirs = ways["tlcore_stretch"](paths[0]), ways["keras"](paths[0])
    diff = float(np.abs(ours.astype(float) - theirs).mean())
    return {
        "ms_per_image": {k: 1000 * float(np.median(v)) for k, v in times.items()},
        "cpu_ms_per_image": {k: 1000 * float(np.mean(v)) for k, v in cpu.items()},
        "mean_abs_pixel_diff_stretch_vs_keras": diff,
        "peak_mb": peak_mb(),
    }


def phase_pipeline_tlcore(folder: Path, size: int, epochs: int, cold: bool) -> dict:
    ws = OUT / "workspace"
    if cold:
        shutil.rmtree(ws, ignore_errors=True)
    os.environ["TRANSFERLAB_HOME"] = str(ws)
    import tensorflow as tf  # noqa: F401 - imported before the clock starts, like Keras below

    from tlcore.data.pipeline import make_dataset
    from tlcore.data.scan import ImageItem

    items = [ImageItem(p, Path(p).parent.name) for p in image_paths(folder)]
    t, c = time.perf_counter(), cpu_seconds()
    ds = make_dataset(items, ["a", "b"], size, "pad", batch_size=32, shuffle=True, seed=0)
    t_ready = time.perf_counter() - t
    seen = 0
    for _ in range(epochs):
        for x, _y in ds:
            seen += int(x.shape[0])
    total = time.perf_counter() - t
    return {
        "seconds": total,
        "cpu_seconds": cpu_seconds() - c,
        "cold_fill_seconds": t_ready,
        "images_seen": seen,
        "peak_mb": peak_mb(),
    }


def phase_pipeline_keras(folder: Path, size: int, epochs: int) -> dict:
    import tensorflow as tf

    t, c = time.perf_counter(), cpu_seconds()
    ds = tf.keras.utils.image_dataset_from_directory(
        folder, image_size=(size, size), batch_size=32, shuffle=True, seed=0, verbose=False
    )
    ds = ds.prefetch(tf.data.AUTOTUNE)  # the tutorial pipeline, minus .cache()
    seen = 0
    for _ in range(epochs):
        for x, _y in ds:
            seen += int(x.shape[0])
    return {
        "seconds": time.perf_counter() - t,
        "cpu_seconds": cpu_seconds() - c,
        "images_seen": seen,
        "peak_mb": peak_mb(),
    }


def phase_scan(folder: Path) -> dict:
    """``tlcore.data.scan`` of the set: first time (hash + check every file), then again."""
    ws = OUT / "workspace-scan"
    shutil.rmtree(ws, ignore_errors=True)
    os.environ["TRANSFERLAB_HOME"] = str(ws)
    from tlcore.data.scan import scan

    t = time.perf_counter()
    report = scan(folder)
    first = time.perf_counter() - t
    t = time.perf_counter()
    scan(folder)
    return {
        "images": len(report.items),
        "first_seconds": first,
        "again_seconds": time.perf_counter() - t,
    }


def run_phase(name: str, args: argparse.Namespace, kind: str = "textured") -> dict:
    cmd = [
        sys.executable,
        __file__,
        "--phase",
        name,
        "--kind",
        kind,
        "--images",
        str(args.images),
        "--size",
        str(args.size),
        "--epochs",
        str(args.epochs),
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"  {name} ({kind}): {json.dumps(result)}", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument(
        "--repeats",
        type=int,
        default=2,
        help="pipeline runs of each side, alternating; the best is reported",
    )
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--kind", default="textured", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        folder = folder_for(args.images, args.kind)
        result = {
            "per_image": lambda: phase_per_image(folder, args.size),
            "pipeline_tlcore": lambda: phase_pipeline_tlcore(folder, args.size, args.epochs, True),
            "pipeline_tlcore_warm": lambda: phase_pipeline_tlcore(
                folder, args.size, args.epochs, False
            ),
            "pipeline_keras": lambda: phase_pipeline_keras(folder, args.size, args.epochs),
        }[args.phase]()
        print(json.dumps(result))
        return

    started = time.perf_counter()
    results: dict = {
        "images": args.images,
        "size": args.size,
        "epochs": args.epochs,
        "cpus": os.cpu_count(),
        "load_before": os.getloadavg(),
        "content": {},
    }
    for kind in CONTENT:
        t = time.perf_counter()
        folder = ensure_images(args.images, kind)
        mb = float(np.mean([os.path.getsize(p) for p in image_paths(folder)]) / 1e6)
        results["content"][kind] = {"mean_file_mb": mb}
        print(
            f"{args.images} {kind} JPEGs 4000x3000, {mb:.2f} MB each "
            f"(ready in {time.perf_counter() - t:.0f} s)",
            flush=True,
        )
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    results["scan"] = phase_scan(folder_for(args.images, "textured"))
    print(f"scan (textured): {json.dumps(results['scan'])}")
    print("per image:")
    for kind in CONTENT:
        per = run_phase("per_image", args, kind)
        ms = per["ms_per_image"]
        per["speedup_pad"] = ms["keras"] / ms["tlcore_pad"]
        per["speedup_stretch"] = ms["keras"] / ms["tlcore_stretch"]
        results["content"][kind]["per_image"] = per
    print(f"pipeline over {args.epochs} epochs (textured), alternating:")
    runs: dict[str, list[dict]] = {"pipeline_keras": [], "pipeline_tlcore": []}
    for _ in range(args.repeats):
        for name in runs:
            runs[name].append(run_phase(name, args))
    warm = run_phase("pipeline_tlcore_warm", args)
    best = {name: min(r["seconds"] for r in rs) for name, rs in runs.items()}
    cpu = {name: min(r["cpu_seconds"] for r in rs) for name, rs in runs.items()}
    results["pipeline"] = {
        "runs": runs,
        "warm": warm,
        "best_seconds": best,
        "speedup": best["pipeline_keras"] / best["pipeline_tlcore"],
        "best_cpu_seconds": cpu,
        "speedup_cpu": cpu["pipeline_keras"] / cpu["pipeline_tlcore"],
    }
    results["load_after"] = os.getloadavg()
    results["total_seconds"] = time.perf_counter() - started
    OUT.mkdir(exist_ok=True)
    (OUT / "data.json").write_text(json.dumps(results, indent=2) + "\n")

    print(
        f"\nsummary at {args.size} px ({args.images} images, load average "
        f"{results['load_before'][0]:.1f} -> {results['load_after'][0]:.1f}):"
    )
    for kind in CONTENT:
        per = results["content"][kind]["per_image"]
        ms = per["ms_per_image"]
        print(
            f"  per image, {kind}: tlcore {ms['tlcore_pad']:.1f} ms (pad) / "
            f"{ms['tlcore_stretch']:.1f} ms (stretch) vs keras {ms['keras']:.1f} ms -> "
            f"{per['speedup_pad']:.2f}x / {per['speedup_stretch']:.2f}x"
        )
    print(
        f"  pipeline, {args.epochs} epochs: tlcore {best['pipeline_tlcore']:.1f} s (cold cache "
        f"included) vs keras {best['pipeline_keras']:.1f} s -> "
        f"{results['pipeline']['speedup']:.1f}x; a later run (warm cache) "
        f"{warm['seconds']:.1f} s"
    )
    print(
        f"  pipeline CPU time: tlcore {cpu['pipeline_tlcore']:.1f} s vs keras "
        f"{cpu['pipeline_keras']:.1f} s -> {results['pipeline']['speedup_cpu']:.1f}x"
    )
    print(
        f"  scan of {results['scan']['images']} photos: {results['scan']['first_seconds']:.2f} s "
        f"first time, {results['scan']['again_seconds']:.2f} s again"
    )
    print(
        f"  peak memory (MB): keras {max(r['peak_mb'] for r in runs['pipeline_keras']):.0f}, "
        f"tlcore {max(r['peak_mb'] for r in runs['pipeline_tlcore']):.0f}"
    )
    print(f"  total {results['total_seconds']:.0f} s")


if __name__ == "__main__":
    main()
