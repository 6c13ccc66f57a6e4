"""The training queue: one long-lived worker trains queued runs one after another."""

import fcntl
import itertools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from run_helpers import tiny_config, wait_for

from tlcore.runs import queue, run_files, run_info, worker


def _final(run_id: str, timeout: float = 240) -> run_info.RunInfo:
    return wait_for(
        lambda: (i := run_info.load_run(run_id)).status not in run_info.ACTIVE and i,
        timeout=timeout,
    )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = (
        Path(f"/proc/{pid}/stat").read_text().split()[2] if Path(f"/proc/{pid}").exists() else "X"
    )
    return state != "Z"


def test_runs_started_together_train_one_after_another_in_one_process(
    tiny_dataset: Path,
) -> None:
    ids = [worker.start_run(tiny_config(tiny_dataset, name=f"run {i}")) for i in range(3)]
    assert len(set(ids)) == 3
    most_running, seen_busy = 0, 0
    while any(run_info.load_run(i).active for i in ids):
        statuses = [run_info.load_run(i).status for i in ids]
        most_running = max(most_running, statuses.count("running"))
        seen_busy = max(seen_busy, queue.workers_busy())
        time.sleep(0.1)
    finals = [run_info.load_run(i) for i in ids]
    assert [f.status for f in finals] == ["finished"] * 3
    assert most_running == 1 and seen_busy == 1
    assert len({f.pid for f in finals}) == 1  # one process, TensorFlow loaded once
    for before, after in itertools.pairwise(finals):
        assert after.started >= before.ended  # oldest first, never two at once
    # Each run starts from a clean Keras state: the same settings give the same curves.
    first, *rest = [run_files.read_metrics(f.run_id)["history"] for f in finals]
    assert all(h == first for h in rest)
    assert all((f.path / "worker.log").is_file() for f in finals)


def test_a_double_click_or_a_second_tab_cannot_start_a_second_process(
    tiny_dataset: Path,
) -> None:
    config = tiny_config(tiny_dataset)
    first = worker.start_run(config)
    assert worker.start_run(config) == first  # the same run asked for again at once
    second = worker.start_run(config.replace(name="from another tab"))
    extra = [p for p in (queue.ensure_worker() for _ in range(5)) if p]  # more tabs
    runs = [_final(first), _final(second)]
    assert [r.status for r in runs] == ["finished", "finished"]
    assert len(run_info.list_runs()) == 2
    trainer = runs[0].pid
    assert runs[1].pid == trainer and runs[1].started >= runs[0].ended
    # Any other process started meanwhile found the one slot taken and left at once.
    wait_for(lambda: not any(_alive(p) for p in extra if p != trainer), timeout=30)


def test_the_worker_outlives_the_process_that_started_it_and_exits_when_idle(
    tiny_dataset: Path,
) -> None:
    code = (
        "import sys; from run_helpers import tiny_config; from tlcore.runs import worker; "
        f"print(worker.start_run(tiny_config(__import__('pathlib').Path({str(tiny_dataset)!r}))))"
    )
    started = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).parent,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)},
    )  # like a server that starts a run and is then stopped
    run_id = started.stdout.strip().splitlines()[-1]
    info = _final(run_id)
    assert info.status == "finished"
    # Idle for TRANSFERLAB_WORKER_IDLE_SECONDS (3 s in the tests): the worker exits.
    wait_for(lambda: not _alive(info.pid), timeout=60)
    assert queue.workers_busy() == 0


def test_a_run_stopped_while_it_waits_ends_at_once_without_training(tiny_dataset: Path) -> None:
    with open(queue._dir("slots") / "slot-0.lock", "a") as slot:
        fcntl.flock(slot, fcntl.LOCK_EX)  # as if a worker were busy with another run
        run_id = worker.start_run(tiny_config(tiny_dataset))
        assert run_info.load_run(run_id).status == "queued"
        assert queue.waiting_run_ids() == [run_id]
        worker.request_stop(run_id)
        info = run_info.load_run(run_id)
        assert (info.status, info.epochs_run) == ("stopped", 0)
        assert queue.waiting_run_ids() == []


def test_runs_left_waiting_by_a_killed_worker_are_trained_by_the_next_one(
    tiny_dataset: Path,
) -> None:
    long = worker.start_run(tiny_config(tiny_dataset, epochs=500, batch_size=2, name="long"))
    pid = wait_for(
        lambda: run_info.load_run(long).status == "running" and run_info.load_run(long).pid
    )
    short = worker.start_run(tiny_config(tiny_dataset, name="short"))  # waits for "long"
    assert run_info.load_run(short).status == "queued"
    os.kill(pid, signal.SIGKILL)
    assert wait_for(lambda: run_info.load_run(long).status == "interrupted", timeout=30)
    assert run_info.load_run(short).status == "queued" and queue.waiting_run_ids() == [short]
    wait_for(lambda: queue.workers_busy() == 0, timeout=30)  # its lock goes with it
    new_pid = queue.ensure_worker()  # what the app's sidebar does every few seconds
    assert new_pid and new_pid != pid
    assert _final(short).status == "finished"


@pytest.mark.parametrize("limit", ["2"])
def test_the_limit_can_be_raised(tiny_dataset: Path, monkeypatch, limit: str) -> None:
    monkeypatch.setenv(queue.MAX_RUNS_ENV, limit)
    assert queue.max_runs() == 2
    ids = [worker.start_run(tiny_config(tiny_dataset, name=f"r{i}")) for i in range(2)]
    queue.ensure_worker()  # the first call started one worker; a second slot is free
    finals = [_final(i) for i in ids]
    assert [f.status for f in finals] == ["finished", "finished"]


def test_a_full_disk_when_a_run_is_put_in_line_is_a_sentence(
    tiny_dataset: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    from tlcore.errors import RunError

    def full(info) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", "ticket")

    monkeypatch.setattr(queue, "enqueue", full)
    with pytest.raises(RunError, match=r"^Could not put the run in line: the disk is full \("):
        worker.start_run(tiny_config(tiny_dataset))
    assert [r.status for r in run_info.list_runs()] == ["failed"]
    assert queue.waiting_run_ids() == []


@pytest.mark.parametrize(
    ("value", "seconds", "warned"),
    [("", 300.0, False), ("2.5", 2.5, False), ("0", 0.0, False), ("5m", 300.0, True),
     ("-1", 300.0, True), ("nan", 300.0, True), ("inf", 300.0, True)],
)  # fmt: skip
def test_a_bad_idle_setting_falls_back_to_the_default_and_is_said_once(
    monkeypatch: pytest.MonkeyPatch, capsys, value: str, seconds: float, warned: bool
) -> None:
    monkeypatch.setattr(queue, "_warned", set())
    monkeypatch.setenv(queue.IDLE_ENV, value)
    assert queue.worker_idle_seconds() == seconds
    assert queue.worker_idle_seconds() == seconds
    err = capsys.readouterr().err
    if warned:
        assert err.count("\n") == 1  # said once, not on every call
        assert err.startswith(f"warning: TRANSFERLAB_WORKER_IDLE_SECONDS='{value}' is not a")
    else:
        assert err == ""


def test_a_worker_started_with_a_bad_idle_setting_still_trains(
    tiny_dataset: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(queue.IDLE_ENV, "5m")
    run_id = worker.start_run(tiny_config(tiny_dataset))
    info = _final(run_id)
    os.kill(info.pid, signal.SIGTERM)  # it would idle for the default 300 s
    assert info.status == "finished"
    wait_for(lambda: not _alive(info.pid), timeout=60)
    log = (queue._dir("slots").parent / "worker.log").read_text()
    assert log.count("TRANSFERLAB_WORKER_IDLE_SECONDS='5m' is not a number of seconds") == 1


def _litter_the_queue() -> list[str]:
    """What a person, a sync tool or a crash can leave in ``queue/waiting`` (their names)."""
    line = queue._dir("waiting")
    (line / "notes.txt").write_text("not a ticket")
    (line / f"{1:020d}-a-folder").mkdir()
    (line / f"{2:020d}-not-utf8").write_bytes(b"\xff\xfe\x00 /runs/x\n")
    (line / f"{3:020d}-empty").write_bytes(b"")
    (line / os.fsdecode(b"name-\xff-not-utf8")).touch()
    return sorted(p.name for p in line.iterdir())


def test_strays_in_the_line_are_not_runs_and_starting_a_run_still_works(
    tiny_dataset: Path,
) -> None:
    with open(queue._dir("slots") / "slot-0.lock", "a") as slot:
        fcntl.flock(slot, fcntl.LOCK_EX)  # no worker: only what starting a run does
        _litter_the_queue()
        assert queue.waiting_run_ids() == ["not-utf8", "empty"]  # named like tickets
        run_id = worker.start_run(tiny_config(tiny_dataset))
        assert queue.waiting_run_ids() == ["not-utf8", "empty", run_id]
        assert queue.withdraw(run_id) and queue.waiting_run_ids() == ["not-utf8", "empty"]


def test_a_worker_sets_aside_what_it_cannot_read_and_trains_the_runs_after_it(
    tiny_dataset: Path,
) -> None:
    litter = _litter_the_queue()
    run_id = worker.start_run(tiny_config(tiny_dataset))
    info = _final(run_id, timeout=120)
    assert info.status == "finished"
    set_aside = sorted(p.name for p in queue._dir("bad").iterdir())
    assert len(set_aside) == len(litter)  # those read by the worker: with its pid
    pairs = zip(set_aside, litter, strict=True)
    assert all(s == n or s.startswith(f"{n}-{info.pid}") for s, n in pairs)
    assert list(queue._dir("waiting").iterdir()) == []
    log = (queue._dir("slots").parent / "worker.log").read_text()
    assert log.count("warning: skipped queue/") == len(litter)
    assert "queue/claimed/00000000000000000002-not-utf8-" in log and "not UTF-8 text" in log
    assert "it is a folder or a link, not a ticket file" in log
    assert "queue/waiting/name-\\xff-not-utf8: its name is not <time>-<run id>" in log


def test_start_pressed_in_four_threads_at_the_same_instant_makes_one_run(
    tiny_dataset: Path,
) -> None:
    import threading

    config = tiny_config(tiny_dataset)
    barrier = threading.Barrier(4)
    ids: list[str] = []

    def press() -> None:
        barrier.wait()
        ids.append(worker.start_run(config))

    with open(queue._dir("slots") / "slot-0.lock", "a") as slot:
        fcntl.flock(slot, fcntl.LOCK_EX)  # a busy worker: the run stays in line
        threads = [threading.Thread(target=press) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len(ids) == 4 and len(set(ids)) == 1
    assert [r.run_id for r in run_info.list_runs()] == ids[:1]
    assert queue.waiting_run_ids() == ids[:1]


def test_start_pressed_in_two_processes_at_the_same_instant_makes_one_run(
    tiny_dataset: Path, tmp_path: Path
) -> None:
    go = tmp_path / "go"
    code = (
        "import sys, time, pathlib; from run_helpers import tiny_config; "
        "from tlcore.runs import worker; "
        "pathlib.Path(sys.argv[1]).touch(); "
        f"go = pathlib.Path({str(go)!r}); "
        "[time.sleep(0.001) for _ in iter(lambda: go.exists(), True)]; "
        f"print(worker.start_run(tiny_config(pathlib.Path({str(tiny_dataset)!r}))))"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent.parent)])}
    with open(queue._dir("slots") / "slot-0.lock", "a") as slot:
        fcntl.flock(slot, fcntl.LOCK_EX)
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", code, str(tmp_path / f"ready{i}")],
                cwd=Path(__file__).parent,
                stdout=subprocess.PIPE,
                text=True,
                env=env,
            )
            for i in range(2)
        ]
        wait_for(lambda: all((tmp_path / f"ready{i}").exists() for i in range(2)), timeout=60)
        go.touch()  # both are past their imports, polling: they start at once
        ids = [p.communicate(timeout=60)[0].strip().splitlines()[-1] for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert ids[0] == ids[1]
    assert [r.run_id for r in run_info.list_runs()] == ids[:1]
