"""Queue benchmark: what the long-lived worker saves per run, against one process per run.

Small feature-extraction runs back to back, the way a person uses the app: start a run,
wait for it to finish, start the next one. Each run is timed from the moment it is asked
for to the moment its folder says ``finished`` (the wait a person sees).

- *separate processes*: ``python -m tlcore train --spec`` per run (what the app did
  before the queue): every run pays Python start-up, the TensorFlow import and Keras'
  first-call set-up.
- *queue worker*: ``tlcore.runs.worker.start_run`` per run. The first run starts the
  worker (cold); later runs find it idle, with TensorFlow loaded.

Both sides use the same data, settings and a warm workspace cache (one untimed run
first), so the difference is process overhead only. CPU time is the measured process'
own (``/proc/<pid>/stat`` of the worker; ``getrusage`` of the children otherwise), which
depends little on other load on the machine.

Usage: ``python bench/bench_queue.py [--runs 3] [--per-class 20] [--size 32]``.
Writes ``bench/_out/queue.json`` and prints a Markdown summary.
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "_out"
sys.path.insert(0, str(ROOT))


def _config(data: Path, size: int, name: str):
    from tlcore.config import FreezeConfig, TrainConfig

    return TrainConfig(
        data=str(data), backbone="small_cnn", weights="none", image_size=size, epochs=2,
        batch_size=16, early_stopping_patience=0, name=name,
        freeze=FreezeConfig(strategy="feature-extraction"),
    )  # fmt: skip


def _wait_finished(run_id: str, timeout: float = 600) -> float:
    from tlcore.runs import run_info

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        info = run_info.load_run(run_id)
        if info.status not in run_info.ACTIVE:
            assert info.status == "finished", (info.status, info.error)
            return time.monotonic()
        time.sleep(0.05)
    raise TimeoutError(run_id)


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def separate(data: Path, size: int, runs: int) -> list[dict]:
    """One ``python -m tlcore train --spec`` process per run."""
    from tlcore.runs import run_info, store

    out = []
    for i in range(runs):
        info = store.create_run(_config(data, size, f"separate {i}"))
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.monotonic()
        subprocess.run(
            [sys.executable, "-m", "tlcore", "train", "--spec", str(info.path / "spec.json")],
            cwd=ROOT, check=True, capture_output=True,
        )  # fmt: skip
        wall = _wait_finished(info.run_id) - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        out.append(
            {"wall": wall, "cpu": cpu, "train_seconds": run_info.load_run(info.run_id).seconds}
        )
    return out


def queued(data: Path, size: int, runs: int) -> list[dict]:
    """``start_run`` per run; one worker serves them all."""
    from tlcore.runs import run_info, worker

    out = []
    for i in range(runs):
        t0 = time.monotonic()
        run_id = worker.start_run(_config(data, size, f"queued {i}"))
        pid = None
        while pid is None:  # the worker writes its pid when it takes the run
            pid = run_info.load_run(run_id).pid
            time.sleep(0.01)
        cpu0 = _cpu_seconds(pid) if i else 0.0  # a new process starts from zero
        wall = _wait_finished(run_id) - t0
        out.append(
            {
                "wall": wall,
                "cpu": _cpu_seconds(pid) - cpu0,
                "train_seconds": run_info.load_run(run_id).seconds,
                "pid": pid,
            }
        )
    return out


def main() -> None:
    """Run the benchmark and print a Markdown table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--per-class", type=int, default=20)
    parser.add_argument("--size", type=int, default=32)
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="tl-bench-queue-"))
    os.environ["TRANSFERLAB_HOME"] = str(home / "ws")
    os.environ["TRANSFERLAB_WORKER_IDLE_SECONDS"] = "60"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.path.insert(0, str(ROOT / "tests"))
    from conftest import write_class_images

    data = write_class_images(home / "data", per_class=args.per_class, size=64)
    load = [os.getloadavg()[0]]
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    separate(data, args.size, 1)  # warm the decode and feature caches, untimed
    sep = separate(data, args.size, args.runs)
    load.append(os.getloadavg()[0])
    que = queued(data, args.size, args.runs)
    load.append(os.getloadavg()[0])
    rss_mb = next(
        int(line.split()[1]) // 1024
        for line in Path(f"/proc/{que[-1]['pid']}/status").read_text().splitlines()
        if line.startswith("VmRSS:")
    )
    result = {
        "worker_rss_mb_when_idle": rss_mb,
        "started": started,
        "load_average": load,
        "images": 3 * args.per_class,
        "size": args.size,
        "separate": sep,
        "queued": que,
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "queue.json").write_text(json.dumps(result, indent=2))

    def row(name: str, r: dict) -> str:
        return f"| {name} | {r['wall']:.1f} s | {r['cpu']:.1f} s | {r['train_seconds']:.1f} s |"

    print(f"{started}, load average {' -> '.join(f'{x:.1f}' for x in load)}")
    print("| run | asked -> finished | CPU time | inside the run (status.json) |")
    print("|---|---|---|---|")
    for i, r in enumerate(sep, 1):
        print(row(f"separate process {i}", r))
    for i, r in enumerate(que, 1):
        print(row(f"queue worker {i}" + (" (starts the worker)" if i == 1 else ""), r))
    warm = [r["wall"] for r in que[1:]] or [que[0]["wall"]]
    saving = statistics.mean(r["wall"] for r in sep) - statistics.mean(warm)
    print(f"\nIdle worker's resident memory: {rss_mb} MB")
    print(
        f"Saving per run with a warm worker: {saving:.1f} s "
        f"({statistics.mean(r['wall'] for r in sep):.1f} s -> {statistics.mean(warm):.1f} s)"
    )


if __name__ == "__main__":
    main()
