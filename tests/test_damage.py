"""A damaged run folder lists as damaged with its reason and never hides the others."""

import json
from pathlib import Path

import pytest
from app_helpers import app, errors, finished_run

from tlcore.cli import main
from tlcore.config import TrainConfig
from tlcore.runs import run_files, run_info, store


def _config() -> TrainConfig:
    return TrainConfig(data="/data/x", backbone="small_cnn", weights="none", name="fine")


# (file, content written over it, the reason listed)
DAMAGE = [
    ("status.json", "[1]", "status.json is not a JSON object (it holds a list)"),
    ("status.json", "null", "status.json is not a JSON object (it holds null)"),
    (
        "status.json",
        '{"epochs_run": "abc"}',
        "epochs_run in status.json is not a whole number ('abc')",
    ),
    ("status.json", '{"status": "done"}', "status.json has an unknown status 'done'"),
    ("status.json", "{not json", "status.json is not valid JSON"),
    ("status.json", None, "status.json is missing"),
    ("spec.json", "[1]", "spec.json is not a JSON object (it holds a list)"),
    (
        "spec.json",
        '{"config": {"data": "x", "epochs": "ten"}}',
        "spec.json has an unusable training config (",
    ),
    (
        "spec.json",
        '{"config": {"data": "x", "bogus": 1}}',
        "spec.json has an unusable training config "
        "(Unknown setting(s) in the training spec: bogus.)",
    ),
    ("spec.json", "\x00\x01 binary", "spec.json is not valid JSON"),
    (
        "events.jsonl",
        '{"type": "start"}\n[1]\n',
        "events.jsonl line 2 is not an event (a JSON object with a type)",
    ),
    (
        "events.jsonl",
        '{"type": "epoch", "loss": "abc"}\n',
        "events.jsonl line 1 has an event whose loss is not a number ('abc')",
    ),
    (
        "events.jsonl",
        b'{"type": "start"}\n\xff\xfe garbage\n',
        "events.jsonl line 2 is not valid JSON",
    ),
    ("metrics.json", "[1]", "metrics.json is not a JSON object (it holds a list)"),
    (
        "metrics.json",
        '{"accuracy": "high"}',
        "accuracy in metrics.json is not a number ('high')",
    ),
    (
        "metrics.json",
        '{"confusion_matrix": [[1, 2]]}',
        "metrics.json has a confusion matrix that is not a square table of counts",
    ),
    ("metrics.json", "{", "metrics.json is not valid JSON"),
]


def _damage(path: Path, name: str, content: str | bytes | None) -> None:
    target = path / name
    if content is None:
        target.unlink()
    elif isinstance(content, bytes):
        target.write_bytes(content)
    else:
        target.write_text(content, encoding="utf-8")


@pytest.mark.parametrize(("name", "content", "reason"), DAMAGE)
def test_a_damaged_file_lists_its_run_as_damaged_and_the_others_still_show(
    name: str, content: str | None, reason: str, capsys: pytest.CaptureFixture[str]
) -> None:
    good = store.create_run(_config())
    bad = store.create_run(_config())
    _damage(bad.path, name, content)
    runs = {r.run_id: r for r in run_info.list_runs()}
    assert set(runs) == {good.run_id, bad.run_id}
    assert runs[good.run_id].status == "queued"
    damaged = runs[bad.run_id]
    assert (damaged.status, damaged.damaged_file) == ("damaged", name)
    assert damaged.error.startswith(f"This run folder is damaged: {reason}")
    assert damaged.error.endswith("Delete the run, or restore the file from a backup.")
    assert run_info.load_run(bad.run_id).status == "damaged"

    assert main(["runs"]) == 0
    out = capsys.readouterr().out
    assert good.run_id in out and f"{bad.run_id}: This run folder is damaged: {reason}" in out
    assert main(["runs", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert {r["run_id"]: r["status"] for r in rows} == {
        good.run_id: "queued",
        bad.run_id: "damaged",
    }
    store.delete_run(bad.run_id)  # a damaged run can always be deleted
    assert not bad.path.exists()


def test_a_finished_run_without_its_model_is_damaged_but_a_run_stopped_early_is_not() -> None:
    finished = store.create_run(_config())
    run_files.update_status(finished.path, status="finished", epochs_run=2)
    stopped = store.create_run(_config())
    run_files.update_status(stopped.path, status="stopped", epochs_run=0)
    assert run_info.load_run(stopped.run_id).status == "stopped"
    info = run_info.load_run(finished.run_id)
    assert (info.status, info.damaged_file) == ("damaged", "model.keras")
    assert "the run finished but its model.keras is missing" in info.error


def test_damaged_lines_are_left_out_of_the_events_pages_read() -> None:
    info = store.create_run(_config())
    (info.path / "events.jsonl").write_text(
        '{"type": "start"}\n[1]\n"text"\n{"type": "epoch", "epoch": "x"}\n{"type": "end"}\n'
    )
    assert [e["type"] for e in run_files.read_events(info.run_id)[0]] == ["start", "end"]
    (info.path / "metrics.json").write_text('{"accuracy": "x"}')
    assert run_files.read_metrics(info.run_id) is None


def test_writing_a_status_over_a_damaged_one_replaces_it() -> None:
    info = store.create_run(_config())
    (info.path / "status.json").write_text("[1]")
    assert run_files.update_status(info.path, status="stopped") == {"status": "stopped"}


@pytest.mark.parametrize("name", ["status.json", "spec.json", "metrics.json", "events.jsonl"])
def test_every_page_shows_a_damaged_run_instead_of_a_traceback(
    tiny_dataset: Path, name: str
) -> None:
    good = finished_run(tiny_dataset)
    bad = finished_run(tiny_dataset)
    _damage(run_files.run_path(bad), name, "[1]\n")
    for page in ("data", "model", "train", "compare", "predict"):
        at = app(page, data_path=str(tiny_dataset), run_id=bad)
        assert not at.exception, (page, at.exception)
    at = app("train", data_path=str(tiny_dataset), run_id=bad)
    assert [e for e in errors(at) if e.startswith("This run folder is damaged:")]
    assert good  # the other run is still listed


def test_a_damaged_run_can_be_deleted_from_the_train_page(tiny_dataset: Path) -> None:
    good = finished_run(tiny_dataset)
    bad = finished_run(tiny_dataset)
    _damage(run_files.run_path(bad), "spec.json", None)  # e.g. re-created by a late writer
    at = app("train", data_path=str(tiny_dataset), run_id=bad)
    assert [e for e in errors(at) if e.startswith("This run folder is damaged:")]
    at.button(key=f"delete_{bad}").click().run()
    assert not at.exception
    assert [r.run_id for r in run_info.list_runs()] == [good]
    assert not errors(at) and at.session_state["run_id"] == good
