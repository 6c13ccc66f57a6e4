"""``python -m tlcore scan``: a readable report, one JSON line last, exit 2 on errors."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import write_class_images

from tlcore.cli import main

ROOT = Path(__file__).resolve().parent.parent


def test_scan_prints_a_report_and_json_last(tmp_path: Path, capsys) -> None:
    data = write_class_images(tmp_path / "d", per_class=12)
    (data / "red" / "notes.txt").write_text("hi")
    shutil.copy(data / "red" / "red_000.jpg", data / "blue" / "odd.jpg")
    assert main(["scan", str(data), "--json"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    text = "\n".join(out[:-1])
    assert "3 classes, 37 images" in text
    assert "  red/notes.txt: not an image" in text
    assert "the same image is in more than one class: blue/odd.jpg = red/red_000.jpg" in text
    result = json.loads(out[-1])
    assert result["classes"] == {"blue": 13, "green": 12, "red": 12}
    assert result["skipped"] == [{"path": "red/notes.txt", "reason": "not an image"}]
    assert result["duplicates"] == [
        {"kind": "across_classes", "paths": ["blue/odd.jpg", "red/red_000.jpg"]}
    ]
    assert len(result["warnings"]) == 1 and "label conflict" in result["warnings"][0]


def test_without_json_no_json_line(tmp_path: Path, capsys) -> None:
    data = write_class_images(tmp_path / "d", per_class=10)
    assert main(["scan", str(data)]) == 0
    out = capsys.readouterr().out
    assert "No warnings." in out and "{" not in out


def test_errors_exit_2_with_one_sentence(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    proc = subprocess.run(
        [sys.executable, "-m", "tlcore", "scan", str(tmp_path / "empty"), "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [
        f"error: '{tmp_path / 'empty'}' is empty: put the images of each class in its own "
        "subfolder, e.g. cats/ and dogs/."
    ]


def test_names_that_are_not_utf8_are_printed_and_in_the_json(tmp_path: Path) -> None:
    from test_scan import _not_utf8_dataset

    data = _not_utf8_dataset(tmp_path / "old")
    # A UTF-8 terminal: stdout refuses what is not UTF-8 (as it does for most people).
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    proc = subprocess.run(
        [sys.executable, "-m", "tlcore", "scan", str(data), "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    lines = [line.rstrip() for line in proc.stdout.strip().splitlines()]
    assert "bl\\xffue  3" in lines and "  green/notes\\xff.txt: not an image" in lines
    result = json.loads(lines[-1])
    assert result["classes"] == {"bl\\xffue": 3, "green": 3, "red": 3}
    assert result["skipped"] == [{"path": "green/notes\\xff.txt", "reason": "not an image"}]


def test_an_empty_path_is_refused_not_read_as_the_current_folder(
    tmp_path: Path, capsys, monkeypatch
) -> None:
    write_class_images(tmp_path / "here", per_class=10)
    monkeypatch.chdir(tmp_path / "here")  # a dataset that "" would have scanned
    for command in ("scan", "advise"):
        assert main([command, ""]) == 2
        assert capsys.readouterr().err.strip().splitlines() == [
            "error: No dataset given (the path is empty): give a folder with one subfolder "
            "per class, or a .zip of one."
        ]
