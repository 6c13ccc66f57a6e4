"""ui.files: uploads keep every class apart, never overwrite, and keep extensions."""

import errno
import io

import pytest
from PIL import Image

from tlcore import workspace
from tlcore.data.scan import scan
from tlcore.errors import DataError
from ui import files


class _Upload:
    """What st.file_uploader hands the page: a name from the browser and the bytes."""

    def __init__(self, name: str, data: bytes) -> None:
        self.name, self._data = name, data

    def getvalue(self) -> bytes:
        return self._data


def _png(seed: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (seed * 37 % 256, seed * 91 % 256, seed * 53 % 256)).save(buf, "PNG")
    return buf.getvalue()


def _upload(paths: list[str]) -> list[_Upload]:
    return [_Upload(p, _png(i)) for i, p in enumerate(paths)]


def test_unicode_and_symbol_class_names_stay_four_distinct_classes() -> None:
    names = [f"pets/{c}/{i}.png" for c in ("🐱", "🐶", "c++", "c#") for i in range(3)]
    root = files.save_folder_upload(_upload(names), name="pets")
    report = scan(root)
    assert report.classes == {"c#": 3, "c++": 3, "🐱": 3, "🐶": 3}
    assert len(report.items) == 12 and report.skipped == []
    assert not [w for w in report.warnings if "was saved as" in w]


def test_clashing_names_get_new_names_and_a_line_in_the_report() -> None:
    root = files.save_folder_upload(
        _upload(["pets/a:b/0.png", "pets/a?b/0.png", "pets/a:b/0.png", "pets/c/0.png"]),
        name="pets",
    )
    written = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.png"))
    assert written == ["a_b (2)/0.png", "a_b/0 (2).png", "a_b/0.png", "c/0.png"]
    report = scan(root)
    assert report.classes == {"a_b": 2, "a_b (2)": 1, "c": 1}
    assert [w for w in report.warnings if "was saved as" in w] == [
        "'a?b' was saved as 'a_b (2)', because that name was already taken.",
        "'a:b/0.png' was saved as 'a_b/0 (2).png', because that name was already taken.",
    ]


def test_long_names_keep_their_extension_and_are_used_as_images() -> None:
    long_stem, too_long = "x" * 100, "é" * 200  # 200 characters, 400 bytes
    root = files.save_folder_upload(
        _upload([f"d/a/{long_stem}.png", f"d/a/{too_long}.png", "d/b/1.png", "d/b/2.png"]),
        name="d",
    )
    names = sorted(p.name for p in (root / "a").iterdir())
    assert names[0] == f"{long_stem}.png"
    assert names[1].endswith(".png") and names[1].startswith("éé")
    assert len(names[1].encode()) <= 255
    assert scan(root).classes == {"a": 2, "b": 2}


def test_an_upload_never_writes_over_an_earlier_one() -> None:
    first = files.save_folder_upload(_upload(["pets/a/0.png", "pets/b/0.png"]), name="pets")
    second = files.save_folder_upload(_upload(["pets/a/0.png", "pets/b/0.png"]), name="pets")
    assert first != second and (first / "a" / "0.png").is_file()


def test_adding_the_same_photo_name_twice_keeps_both_with_their_extension() -> None:
    assert files.save_class_images("set", "cats", _upload(["a.png", "a.png"])) == 2
    assert files.save_class_images("set", "cats", _upload(["a.png"])) == 1
    folder = workspace.datasets_dir() / "set" / "cats"
    assert sorted(p.name for p in folder.iterdir()) == ["a (2).png", "a (3).png", "a.png"]


def test_safe_names() -> None:
    assert files.safe_name("🐱") == "🐱"
    assert files.safe_name("c++") == "c++" and files.safe_name("c#") == "c#"
    assert files.safe_name("a\nb\tc") == "a_b_c"
    assert files.safe_name("..") == "unnamed" and files.safe_name("../..") == "_"
    assert files.safe_name("  . ") == "unnamed"
    assert files.safe_name("con") == "_con"
    assert files.safe_name("e\u0301t\u00e9") == "\u00e9t\u00e9"  # one spelling (NFC) per name


def test_a_full_disk_during_a_folder_upload_leaves_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_open = builtins.open

    def full_open(path, mode="r", *args, **kwargs):
        if "x" in mode and str(path).endswith("1.png"):
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", full_open)
    with pytest.raises(DataError) as err:
        files.save_folder_upload(_upload(["pets/a/0.png", "pets/a/1.png"]), name="pets")
    assert str(err.value).startswith("Could not save the uploaded folder: the disk is full (")
    assert str(err.value).endswith("free). Free some space, then try again.")
    assert list(workspace.datasets_dir().iterdir()) == []
