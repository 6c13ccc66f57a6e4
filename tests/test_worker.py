"""The background worker: a real detached process that trains queued runs in turn."""

import os
import signal
from pathlib import Path

from run_helpers import RUN_FILES, events_of, tiny_config, wait_for

from tlcore.config import FreezeConfig
from tlcore.results.predict import load_predictor
from tlcore.runs import run_files, run_info, worker


def _epochs(info_or_id: object) -> list[dict]:
    return [e for e in run_files.read_events(info_or_id)[0] if e["type"] == "epoch"]


def _final(run_id: str) -> run_info.RunInfo:
    return wait_for(
        lambda: (i := run_info.load_run(run_id)).status not in run_info.ACTIVE and i, timeout=180
    )


def test_start_run_returns_at_once_and_the_worker_finishes(tiny_dataset: Path) -> None:
    run_id = worker.start_run(tiny_config(tiny_dataset))
    info = run_info.load_run(run_id)
    assert info.status in ("queued", "running")  # the pid comes when the worker takes it
    info = _final(run_id)
    assert (info.status, info.error, info.epochs_run) == ("finished", None, 2)
    assert {p.name for p in info.path.iterdir()} == RUN_FILES | {"worker.log"}
    assert info.pid != os.getpid()


def test_stop_request_stops_after_the_current_batch(tiny_dataset: Path) -> None:
    run_id = worker.start_run(tiny_config(tiny_dataset, epochs=500, batch_size=2))
    wait_for(lambda: _epochs(run_id), timeout=180)
    worker.request_stop(run_id)
    info = _final(run_id)
    assert (info.status, info.error) == ("stopped", None)
    assert 1 <= info.epochs_run < 500
    assert {p.name for p in info.path.iterdir()} == RUN_FILES | {"worker.log", run_files.STOP_FLAG}
    assert events_of(info)[-1]["status"] == "stopped"


def test_sigkill_mid_epoch_leaves_an_interrupted_run_with_a_usable_model(
    tiny_dataset: Path,
) -> None:
    run_id = worker.start_run(tiny_config(tiny_dataset, epochs=500, batch_size=2))
    path = run_files.run_path(run_id)
    wait_for(lambda: (path / "model.keras").is_file() and _epochs(run_id), timeout=180)
    os.kill(run_info.load_run(run_id).pid, signal.SIGKILL)
    info = wait_for(lambda: (i := run_info.load_run(run_id)).status == "interrupted" and i, 30)
    assert run_files.read_status(run_id)["status"] == "running"  # what the dead worker left
    assert info.epochs_run >= 1 and _epochs(run_id)
    assert "end" not in [e["type"] for e in events_of(info)]
    predictor = load_predictor(run_id)
    assert predictor.classes == ["blue", "green", "red"]
    assert [r.status for r in run_info.list_runs()] == ["interrupted"]


def test_comparison_runs_wait_in_line_and_sigterm_stops_them_all(
    tiny_dataset: Path,
) -> None:
    config = tiny_config(tiny_dataset, epochs=500, batch_size=2)
    group = worker.start_comparison(
        config, [FreezeConfig("full"), FreezeConfig("scratch")], ["all layers", "from scratch"]
    )
    infos = sorted(run_info.list_runs(group=group), key=lambda i: i.created or "")
    assert [i.name for i in sorted(infos, key=lambda i: i.config.freeze.strategy)] == [
        "all layers",
        "from scratch",
    ]
    assert all(i.status in run_info.ACTIVE for i in infos)  # in line, one may have started
    splits = [run_files.read_spec(i.run_id)["split"] for i in infos]
    assert splits[0] == splits[1] and splits[0] is not None
    first = wait_for(lambda: next((i for i in infos if _epochs(i.run_id)), None), 180)
    os.kill(run_info.load_run(first.run_id).pid, signal.SIGTERM)  # the worker's pid
    finals = [_final(i.run_id) for i in infos]
    assert [f.status for f in finals] == ["stopped", "stopped"]
    other = next(f for f in finals if f.run_id != first.run_id)
    assert other.epochs_run == 0 and not (other.path / "model.keras").exists()
    assert (first.path / "model.keras").is_file()


def _remove(folder: Path) -> bool:
    """``rm -rf`` as a person (or a file manager) would, retried while the worker writes."""
    import shutil

    shutil.rmtree(folder, ignore_errors=True)
    return not folder.exists()


def test_a_run_folder_deleted_while_it_trains_stays_deleted_and_the_worker_goes_on(
    tiny_dataset: Path,
) -> None:
    doomed = worker.start_run(tiny_config(tiny_dataset, epochs=500, batch_size=2, name="doomed"))
    path = run_files.run_path(doomed)
    wait_for(lambda: _epochs(doomed), timeout=180)
    trainer = run_info.load_run(doomed).pid
    after = worker.start_run(tiny_config(tiny_dataset, name="after"))  # waits its turn
    wait_for(lambda: _remove(path), timeout=30)
    info = _final(after)  # the worker stopped the deleted run and went on with the next
    assert info.status == "finished"
    assert not path.exists()  # no status.json (or anything else) came back
    assert [r.run_id for r in run_info.list_runs()] == [after]
    assert info.pid == trainer  # the same worker: deleting a run did not kill it
