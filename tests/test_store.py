import json
import subprocess
import sys

import pytest

from tlcore import fsutil, workspace
from tlcore.cli import main
from tlcore.config import FreezeConfig, TrainConfig
from tlcore.errors import RunError
from tlcore.runs import run_files, run_info, store


def _config(**kw: object) -> TrainConfig:
    return TrainConfig(data="/data/x", backbone="small_cnn", weights="none", **kw)


def test_create_run_writes_spec_and_queued_status() -> None:
    cfg = _config(freeze=FreezeConfig(strategy="fine-tune", unfreeze_top=2), name="mine")
    info = store.create_run(cfg, group="g1")
    assert info.path.parent == workspace.runs_dir()
    assert info.run_id.split("-")[2:4] == ["small_cnn", "ft"]
    assert sorted(p.name for p in info.path.iterdir()) == ["spec.json", "status.json"]
    spec = fsutil.read_json(info.path / "spec.json")
    assert spec == {
        "config": cfg.to_dict(),
        "dataset": {"root": "/data/x", "fingerprint": None, "classes": None},
        "split": None,
        "group": "g1",
        "defaults": None,  # a config that does not ask for the data's defaults
        "unused": [],  # every setting of this fine-tuning run takes part
    }
    assert TrainConfig.from_dict(spec["config"]) == cfg
    assert (info.status, info.name, info.group, info.pid, info.epochs_run) == (
        "queued",
        "mine",
        "g1",
        None,
        0,
    )
    assert info.config == cfg


def test_runs_created_within_one_second_list_in_creation_order() -> None:
    strategies = ["full", "scratch", "feature-extraction", "fine-tune", "custom"]
    made = [
        store.create_run(_config(freeze=FreezeConfig(strategy=s)), group="g").run_id
        for s in strategies
    ]
    assert [r.run_id for r in reversed(run_info.list_runs(group="g"))] == made


def test_list_load_delete_and_missing_runs() -> None:
    a = store.create_run(_config(), group="g")
    b = store.create_run(_config())
    run_files.update_status(a.path, created="2020-01-01T00:00:00+00:00")
    assert [r.run_id for r in run_info.list_runs()] == [b.run_id, a.run_id]
    assert [r.run_id for r in run_info.list_runs(group="g")] == [a.run_id]
    assert run_info.load_run(str(a.path)).run_id == a.run_id
    store.delete_run(a.run_id)
    assert not a.path.exists()
    with pytest.raises(RunError, match="No run 'nope'"):
        run_info.load_run("nope")


def test_dead_or_foreign_pid_lists_as_interrupted() -> None:
    info = store.create_run(_config())
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    run_files.update_status(info.path, status="running", pid=proc.pid)
    assert run_info.load_run(info.run_id).status == "interrupted"
    # A live process that is not a TransferLab worker (pid reused): interrupted too.
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        run_files.update_status(info.path, status="queued", pid=other.pid)
        assert run_info.load_run(info.run_id).status == "interrupted"
    finally:
        other.kill()
        other.wait()
    (info.path / "model.keras").write_bytes(b"")  # a finished run has its model
    run_files.update_status(info.path, status="finished")
    assert run_info.load_run(info.run_id).status == "finished"


def test_live_worker_lists_as_running_and_cannot_be_deleted() -> None:
    info = store.create_run(_config())
    fake = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", "tlcore"])
    try:
        run_files.update_status(info.path, status="running", pid=fake.pid)
        assert run_info.load_run(info.run_id).status == "running"
        with pytest.raises(RunError, match="stop it before deleting"):
            store.delete_run(info.run_id)
    finally:
        fake.kill()
        fake.wait()


def test_read_events_is_incremental_and_metrics_none_before_eval() -> None:
    info = store.create_run(_config())
    assert run_files.read_events(info.run_id) == ([], 0)
    fsutil.append_jsonl(info.path / "events.jsonl", {"type": "start"})
    events, offset = run_files.read_events(info.run_id)
    assert events == [{"type": "start"}]
    fsutil.append_jsonl(info.path / "events.jsonl", {"type": "end"})
    assert run_files.read_events(info.run_id, offset)[0] == [{"type": "end"}]
    assert run_files.read_metrics(info.run_id) is None


def test_runs_cli_json(capsys: pytest.CaptureFixture[str]) -> None:
    info = store.create_run(_config())
    assert main(["runs", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert [(r["run_id"], r["status"], r["backbone"]) for r in rows] == [
        (info.run_id, "queued", "small_cnn")
    ]
    assert main(["runs"]) == 0
    assert info.run_id in capsys.readouterr().out


def test_changed_spec_is_read_again_and_a_damaged_spec_lists_as_damaged() -> None:
    info = store.create_run(_config(name="before"))
    spec = fsutil.read_json(info.path / "spec.json")
    spec["config"]["name"] = "after, a longer name"
    fsutil.atomic_write_json(info.path / "spec.json", spec)
    assert run_info.load_run(info.run_id).name == "after, a longer name"
    broken = store.create_run(_config())
    (broken.path / "spec.json").write_text("{not json")
    assert {r.run_id: r.status for r in run_info.list_runs()} == {
        info.run_id: "queued",
        broken.run_id: "damaged",
    }
    assert run_info.load_run(broken.run_id).damaged_file == "spec.json"
    with pytest.raises(RunError, match="damaged"):
        run_files.read_spec(broken.run_id)


def test_deleting_a_run_that_is_a_link_removes_the_link_and_nothing_outside(tmp_path) -> None:
    real = store.create_run(_config(name="elsewhere"))
    outside = tmp_path / "outside"
    real.path.rename(outside)  # a run moved to another disk, linked back into runs/
    (outside / "keep.txt").write_text("mine")
    link = workspace.runs_dir() / real.run_id
    link.symlink_to(outside, target_is_directory=True)
    assert [r.name for r in run_info.list_runs()] == ["elsewhere"]
    store.delete_run(real.run_id)
    assert not link.is_symlink() and not link.exists()
    assert sorted(p.name for p in outside.iterdir()) == ["keep.txt", "spec.json", "status.json"]
    assert (outside / "keep.txt").read_text() == "mine"
    assert run_info.list_runs() == []


def test_only_the_workspaces_own_run_folders_can_be_deleted(tmp_path) -> None:
    info = store.create_run(_config())
    other = tmp_path / "other"
    other.mkdir()
    (other / "spec.json").write_text("{}")
    for ref in (other, "..", ".", str(workspace.runs_dir() / ".."), "nope"):
        with pytest.raises(RunError, match="python -m tlcore runs"):
            store.delete_run(ref)
    assert other.is_dir() and workspace.runs_dir().is_dir() and info.path.is_dir()
    store.delete_run(str(info.path))  # its folder given as a path
    assert not info.path.exists()
    assert [p.name for p in workspace.runs_dir().iterdir()] == []


def test_runs_delete_cli_deletes_a_damaged_run_and_says_why_it_cannot(
    capsys: pytest.CaptureFixture[str],
) -> None:
    bad = store.create_run(_config())
    (bad.path / "spec.json").unlink()  # what a worker re-creating a deleted folder left
    (bad.path / "status.json").write_text('{"status": "running", "pid": 1}')
    good = store.create_run(_config())
    assert run_info.load_run(bad.run_id).status == "damaged"
    assert main(["runs", "delete", bad.run_id]) == 0
    assert capsys.readouterr().out.strip() == f"Deleted run {bad.run_id}."
    assert not bad.path.exists() and good.path.is_dir()
    assert main(["runs", "delete", bad.run_id]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: '{bad.run_id}' is no run;") and err.count("\n") == 1
    assert main(["runs", "delete"]) == 2
    assert "Say which run to delete" in capsys.readouterr().err
    assert main(["runs", "delete", good.run_id, "--json"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1]) == {"deleted": good.run_id}
    assert run_info.list_runs() == []


def test_a_run_linked_in_under_another_name_lists_and_deletes_by_that_name(tmp_path) -> None:
    real = store.create_run(_config(name="moved"))
    outside = tmp_path / "disk2" / "old-name"
    outside.parent.mkdir()
    real.path.rename(outside)
    (outside / "status.json").write_text("[1]")  # damaged: the Delete button's case
    link = workspace.runs_dir() / "my-linked-run"
    link.symlink_to(outside, target_is_directory=True)
    [info] = run_info.list_runs()
    assert (info.run_id, info.status, info.path) == ("my-linked-run", "damaged", link)
    assert main(["runs", "delete", info.run_id]) == 0
    assert not link.is_symlink() and (outside / "spec.json").is_file()
