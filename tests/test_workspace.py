"""tlcore.workspace: a workspace that cannot be written is one sentence naming it.

Tests run as root in CI, where ``chmod`` does not stop a write; so the workspace is made
unwritable in ways root cannot get around either: it lies under a regular file (every
``mkdir`` fails with "not a directory"), or a file stands where a folder must be made.
"""

import shutil
import zipfile
from pathlib import Path

import pytest
from run_helpers import tiny_cli_args, train_tiny

from tlcore import workspace
from tlcore.cli import main


def _sentence(root: Path, reason: str) -> str:
    return (
        f"error: TransferLab cannot write to its workspace '{root}' ({reason}); set "
        "TRANSFERLAB_HOME to a folder you can write to, or make this one writable."
    )


def test_a_workspace_under_a_file_is_one_sentence_for_every_command(
    tmp_path: Path,
    tiny_dataset: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
) -> None:
    (tmp_path / "a file").write_text("not a folder")
    root = tmp_path / "a file" / "ws"
    monkeypatch.setenv("TRANSFERLAB_HOME", str(root))
    expected = _sentence(root, f"not a directory: '{root}'")
    # A folder scans without the workspace (its cache only saves time).
    assert main(["scan", str(tiny_dataset)]) == 0
    assert "3 classes, 36 images" in capsys.readouterr().out
    # A zip must be unpacked into the workspace.
    with zipfile.ZipFile(tmp_path / "d.zip", "w") as zf:
        for p in sorted(tiny_dataset.rglob("*.png")):
            zf.write(p, p.relative_to(tiny_dataset).as_posix())
    commands = [
        ["scan", str(tmp_path / "d.zip")],
        ["train", str(tiny_dataset), *tiny_cli_args(1)],
        ["advise", str(tiny_dataset), "--image-size", "32"],
        ["export", "20260101-000000-x"],
        ["runs"],
    ]
    for argv in commands:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert err[-1] == expected, argv
        assert not any("Traceback" in line for line in err)
    assert (tmp_path / "a file").read_text() == "not a folder"


def test_a_failed_write_inside_the_workspace_is_one_sentence(
    tmp_path: Path, tiny_dataset: Path, capsys: pytest.CaptureFixture
) -> None:
    from tlcore.data.zips import zip_digest

    # A file where the zip's folder goes: the CLI's last line of defence names the workspace.
    z = tmp_path / "d.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for p in sorted(tiny_dataset.rglob("*.png")):
            zf.write(p, p.relative_to(tiny_dataset).as_posix())
    in_the_way = workspace.datasets_dir() / f"d-{zip_digest(z)}"
    in_the_way.write_text("a file where the dataset folder goes")
    assert main(["scan", str(z)]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        _sentence(workspace.location(), f"not a directory: '{in_the_way}'")
    ]
    # Export says it in its own words: one sentence that names the folder.
    info = train_tiny(tiny_dataset, epochs=1)
    blocked = info.path / "export"
    shutil.rmtree(blocked, ignore_errors=True)
    blocked.write_text("a file where the export folder goes")
    assert main(["export", info.run_id]) == 2
    [err] = capsys.readouterr().err.strip().splitlines()
    assert err.startswith("error: ") and f"'{blocked}" in err


def test_the_app_says_so_in_one_sentence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from app_helpers import app, errors

    (tmp_path / "a file").write_text("not a folder")
    root = tmp_path / "a file" / "ws"
    monkeypatch.setenv("TRANSFERLAB_HOME", str(root))
    at = app()
    assert not at.exception
    assert errors(at) == [_sentence(root, f"not a directory: '{root}'")[len("error: ") :]]
