"""Compare benchmark: does ``compare`` fit its budget, and does its verdict name the best?

Data: Twemoji artwork (6 Unicode categories, 60 images a class at 64 px; see
``bench/realdata.py``). For each seed, ``shots`` images a class are the dataset given to
``python -m tlcore compare TRAIN --strategies ... --budget B --json`` (EfficientNet-Lite0,
ImageNet weights, everything else chosen from the data: at 5 and 20 a class every
strategy is cross-validated over the same folds). Every other image of those classes (a
large held-out set: 330 images at 5 a class, 240 at 20) then measures each strategy's
final model with ``python -m tlcore predict``: the truly best strategy is the one most
accurate there. Recorded per setting: the comparison's wall time against its total
budget, each strategy's reported accuracy and interval against its held-out accuracy,
and whether the verdict's best is the truly best.

Usage: ``python bench/bench_compare.py [--shots 5,20] [--seeds 0,1] [--budget 60]``.
Writes ``bench/_out/compare.json`` and prints a Markdown table.
"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_training import timed  # noqa: E402  (one way to time a command)

OUT = ROOT / "bench" / "_out"
DATA = ROOT / "bench" / "_data"
STRATEGIES = "feature-extraction,fine-tune,scratch"


def home_with_lite0(weights: Path | None) -> dict:
    """A fresh TransferLab home, with Lite0 already converted when a converted file is given
    (once per computer in real use; ``bench_lite.py`` times that)."""
    home = Path(tempfile.mkdtemp(prefix="tl-compare-"))
    if weights is not None and weights.is_file():
        (home / "cache" / "weights").mkdir(parents=True)
        shutil.copy(weights, home / "cache" / "weights" / weights.name)
    return {"TRANSFERLAB_HOME": str(home)}


def held_out_accuracy(run_id: str, test: Path, env: dict) -> float:
    """The run's final model on every held-out image."""
    images = sorted(p for p in test.rglob("*") if p.is_file() and not p.name.startswith("."))
    cmd = [sys.executable, "-m", "tlcore", "predict", run_id, *map(str, images)]
    _, out = timed([*cmd, "--top-k", "1", "--json"], env)
    predictions = json.loads(out.splitlines()[-1])
    return sum(p["label"] == Path(p["path"]).parent.name for p in predictions) / len(images)


def one_setting(root: Path, shots: int, seed: int, budget: float, env: dict) -> dict:
    """One comparison on ``shots`` images a class, then the truth on the rest."""
    from bench import realdata

    train, test = realdata.fewshot_split(root, shots=shots, seed=seed)
    strategies = STRATEGIES.split(",")
    refused: dict[str, str] = {}
    while True:
        cmd = [sys.executable, "-m", "tlcore", "compare", str(train), "--json"]
        cmd += ["--strategies", ",".join(strategies), "--seed", str(seed)]
        t0 = time.perf_counter()
        done = subprocess.run(
            [*cmd, "--budget", str(budget)], env=env, cwd=ROOT, capture_output=True, text=True
        )
        seconds = time.perf_counter() - t0
        named = re.search(r"one epoch of (.+) on this computer", done.stderr)
        if done.returncode == 2 and named:
            # Refused before anything started (this computer's stored epoch cost says
            # one epoch does not fit): the person would drop those strategies.
            for name in named.group(1).split(", "):
                refused[name] = done.stderr.strip().removeprefix("error: ")
            strategies = [s for s in strategies if s not in refused]
            continue
        if done.returncode != 0:
            raise SystemExit(f"compare failed:\n{done.stderr[-3000:]}")
        break
    result = json.loads(done.stdout.splitlines()[-1])
    runs = result["runs"]
    for r in runs:
        r["held_out_accuracy"] = held_out_accuracy(r["run_id"], test, env)
    scored = [r for r in runs if r["accuracy"] is not None]
    picked = max(scored, key=lambda r: (r["accuracy"], -(r["seconds"] or 0)))["strategy"]
    truth = max(runs, key=lambda r: r["held_out_accuracy"])
    # What the sentence tells the person to use: the best when the gap is real (or the
    # best is also the faster), else the faster one it names.
    faster = re.search(r"pick the faster one, (.+?) \(", result["verdict"])
    names = {r["name"]: r["strategy"] for r in runs}
    advised = names.get(faster.group(1), picked) if faster else picked
    row = {
        "shots": shots,
        "seed": seed,
        "budget_total": budget * len(runs),
        "refused": refused,
        "seconds": round(seconds, 1),
        "runs": runs,
        "verdict": result["verdict"],
        "verdict_best": picked,
        "advised": advised,
        "true_best": truth["strategy"],
        "verdict_says_real": "real difference" in result["verdict"],
    }
    print(json.dumps(row), flush=True)
    return row


def summary(rows: list[dict]) -> str:
    """Markdown: per setting the wall time against the budget, the reported and held-out
    accuracy of each strategy, the verdict and whether it named the truly best."""
    lines = [
        "| a class | seed | wall / budget | strategy: reported [interval] on n -> held out "
        "| verdict's best (advised) | truly best |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        cells = "<br>".join(
            f"{x['strategy']}: {x['accuracy']:.0%} [{x['interval'][0]:.0%}-"
            f"{x['interval'][1]:.0%}] on {x['images']} -> {x['held_out_accuracy']:.1%} "
            f"({x['status']}, {x['seconds']:.0f} s)"
            if x["accuracy"] is not None
            else f"{x['strategy']}: {x['status']}"
            for x in r["runs"]
        )
        for name, why in r.get("refused", {}).items():
            needed = re.findall(r"give at least (\d+) seconds", why)
            cells += f"<br>{name}: refused before start (one epoch needs {needed[-1]} s)"
        lines.append(
            f"| {r['shots']} | {r['seed']} | {r['seconds']:.0f} s / {r['budget_total']:.0f} s "
            f"| {cells} | {r['verdict_best']}{' (real)' if r['verdict_says_real'] else ''} "
            f"({r['advised']}) "
            f"| {r['true_best']} |"
        )
    hits = sum(r["verdict_best"] == r["true_best"] for r in rows)
    advised = sum(r["advised"] == r["true_best"] for r in rows)
    inside = [
        x["interval"][0] <= x["held_out_accuracy"] <= x["interval"][1]
        for r in rows
        for x in r["runs"]
        if x["interval"]
    ]
    over = [r["seconds"] / r["budget_total"] for r in rows]
    lines.append("")
    lines.append(
        f"Verdict's best = truly best in {hits} of {len(rows)} settings, the strategy it "
        f"advises in {advised}; held-out accuracy "
        f"inside the reported 95% interval for {sum(inside)} of {len(inside)} strategies; "
        f"wall time {min(over):.0%}-{max(over):.0%} of the total budget "
        f"(mean {statistics.mean(over):.0%})."
    )
    return "\n".join(lines)


def main() -> None:
    """Run the benchmark and print its table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shots", default="5,20")
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--budget", type=float, default=60.0)
    parser.add_argument("--per-class", type=int, default=60)
    parser.add_argument("--lite0", type=Path, help="an already converted Lite0 .keras file")
    parser.add_argument("--home", help="a TransferLab home to reuse (its stored epoch costs)")
    args = parser.parse_args()
    from bench import realdata

    home = {"TRANSFERLAB_HOME": args.home} if args.home else home_with_lite0(args.lite0)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **home}
    root = realdata.twemoji_dataset(DATA / "twemoji", per_class=args.per_class)
    rows = [
        one_setting(root, int(shots), int(seed), args.budget, env)
        for seed in args.seeds.split(",")
        for shots in args.shots.split(",")
    ]
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "compare.json").write_text(json.dumps(rows, indent=2), encoding="utf-8")
    print(summary(rows))


if __name__ == "__main__":
    main()
