"""A full disk ends a run ``failed`` with one sentence and leaves no temporary file.

Tested both by injecting ENOSPC and on a real, tiny filesystem (a 4 MB tmpfs, when this
machine lets the tests mount one) filled up just before the model is saved.
"""

import contextlib
import errno
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from run_helpers import tiny_cli_args, tiny_config, train_tiny

from tlcore.cli import main
from tlcore.errors import RunError
from tlcore.runs import run_files, run_info, store

SAVE_FAILED = re.compile(
    r"The disk is full \((\d+ MB|[\d.]+ GB) free\); the best model of epoch 1 could not be "
    r"saved\. Free some space \(deleting the workspace's cache/ folder is safe\), then train "
    r"again\."
)


def _leftovers(run_dir: Path) -> list[str]:
    return sorted(p.name for p in run_dir.iterdir() if ".tmp" in p.name)


def _full_at_save(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Make ``Model.save`` write part of the file, then fail with ENOSPC."""
    import keras

    attempts: list[Path] = []

    def save(model, path, *args, **kwargs):
        attempts.append(Path(path))
        Path(path).write_bytes(b"PK\x03\x04 half a model")
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(keras.Model, "save", save)
    return attempts


def test_a_full_disk_when_the_model_is_saved_ends_the_run_failed(
    tiny_dataset: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    attempts = _full_at_save(monkeypatch)
    info = train_tiny(tiny_dataset, "full", epochs=2)
    assert info.status == "failed"
    assert SAVE_FAILED.fullmatch(info.error), info.error
    assert attempts and attempts[0].name.startswith(".model.tmp")
    assert _leftovers(info.path) == [] and not (info.path / "model.keras").exists()
    events = run_files.read_events(info.run_id)[0]
    assert events[-1]["type"] == "end" and events[-1]["error"] == info.error
    assert [r.status for r in run_info.list_runs()] == ["failed"]


def test_the_cli_says_it_in_one_sentence_and_exits_2(
    tiny_dataset: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _full_at_save(monkeypatch)
    assert main(["train", str(tiny_dataset), *tiny_cli_args(epochs=1)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and SAVE_FAILED.fullmatch(err[0].removeprefix("error: "))


def test_a_full_disk_when_a_run_is_created_is_a_sentence_and_leaves_no_folder(
    tiny_dataset: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tlcore import fsutil

    real = fsutil.atomic_write_bytes

    def full(path, data, *rest):
        if Path(path).name == "status.json":
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(path, data, *rest)

    monkeypatch.setattr(fsutil, "atomic_write_bytes", full)
    with pytest.raises(RunError, match=r"^Could not create the run folder: the disk is full \("):
        store.create_run(tiny_config(tiny_dataset))
    assert main(["train", str(tiny_dataset), *tiny_cli_args(epochs=1)]) == 2
    assert capsys.readouterr().err.startswith("error: Could not create the run folder")
    assert list(store.workspace.runs_dir().iterdir()) == []


@contextlib.contextmanager
def _tiny_filesystem(where: Path, size: str) -> Iterator[Path]:
    where.mkdir(parents=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
        capture_output=True,
    )
    if mounted.returncode != 0:
        pytest.skip("cannot mount a small filesystem here (needs root)")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def test_on_a_real_tiny_filesystem_that_fills_up_at_the_save(
    tiny_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import keras

    with _tiny_filesystem(tmp_path / "small", "4m") as fs:
        monkeypatch.setenv("TRANSFERLAB_HOME", str(fs))
        real_save = keras.Model.save
        ballast = fs / "ballast"

        def fill_then_save(model, path, *args, **kwargs):
            # Everything up to here (caches, spec, events) fitted; now the disk fills up
            # (another program, say) and leaves 16 KB: the model no longer fits.
            free = os.statvfs(fs).f_bavail * os.statvfs(fs).f_frsize
            with open(ballast, "wb") as f:
                f.write(bytes(max(free - 16 * 1024, 0)))
            return real_save(model, path, *args, **kwargs)

        monkeypatch.setattr(keras.Model, "save", fill_then_save)
        info = train_tiny(tiny_dataset, "full", epochs=1)
        assert info.status == "failed"
        assert SAVE_FAILED.fullmatch(info.error), info.error
        assert _leftovers(info.path) == [] and not (info.path / "model.keras").exists()
        assert run_files.read_status(info.run_id)["status"] == "failed"  # written after the cleanup
