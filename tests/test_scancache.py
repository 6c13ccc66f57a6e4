"""tlcore.data.scancache: a second scan of an unchanged folder reads no file again."""

import os
from pathlib import Path

import pytest
from conftest import write_class_images

import tlcore.data.scancache as scancache
from tlcore import workspace
from tlcore.data.scan import scan


@pytest.fixture
def checked(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    real = scancache.check_file

    def counting(path: Path):
        calls.append(path.name)
        return real(path)

    monkeypatch.setattr(scancache, "check_file", counting)
    return calls


def test_unchanged_files_are_not_checked_again(tmp_path: Path, checked: list[str]) -> None:
    root = write_class_images(tmp_path / "d", per_class=10)
    (root / "red" / "notes.txt").write_text("x")
    first = scan(root)
    assert len(checked) == 31
    assert len(list(workspace.cache_dir("scan").glob("*.json"))) == 1
    progress = []
    second = scan(root, progress=lambda d, t: progress.append((d, t)))
    assert len(checked) == 31 and progress == [(31, 31)]
    assert second == first  # same report, from the remembered checks

    (root / "red" / "red_003.png").write_text("now a text file")  # changed: checked again
    os.utime(root / "red" / "red_003.png", ns=(1, 1))
    (root / "blue" / "blue_000.jpg").unlink()  # gone: forgotten
    third = scan(root)
    assert checked[31:] == ["red_003.png"]
    assert third.classes == {"blue": 9, "green": 10, "red": 9}
    assert [(s.path, s.reason) for s in third.skipped] == [
        ("red/notes.txt", "not an image"),
        ("red/red_003.png", "not an image"),
    ]


def test_a_damaged_cache_file_is_ignored(tmp_path: Path, checked: list[str]) -> None:
    root = write_class_images(tmp_path / "d", per_class=10)
    scan(root)
    for f in workspace.cache_dir("scan").glob("*.json"):
        f.write_text("{not json")
    assert scan(root).classes == {"blue": 10, "green": 10, "red": 10}
    assert len(checked) == 60  # everything checked again
