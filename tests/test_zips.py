"""tlcore.data.zips: safe extraction; unsafe members and zip bombs are refused before writing."""

import stat
import struct
import zipfile
from pathlib import Path

import pytest

from tlcore import workspace
from tlcore.data.zips import EXTRACTED_MARKER, extract_zip
from tlcore.errors import DataError


def make_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def listing(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def nothing_written(parent: Path) -> bool:
    return not parent.exists() or not any(parent.iterdir())


def test_class_folders_are_extracted_and_junk_skipped(tmp_path: Path) -> None:
    z = make_zip(
        tmp_path / "d.zip",
        {
            "cats/a.jpg": b"1",
            "dogs/sub/b.jpg": b"2",
            "__MACOSX/cats/._a.jpg": b"x",
            "cats/.DS_Store": b"x",
            "dogs/Thumbs.db": b"x",
        },
    )
    out = extract_zip(z, tmp_path / "out")
    assert out == (tmp_path / "out").resolve()
    assert listing(out) == [EXTRACTED_MARKER, "cats/a.jpg", "dogs/sub/b.jpg"]


def test_one_wrapping_folder_is_stripped(tmp_path: Path) -> None:
    z = make_zip(
        tmp_path / "d.zip", {"flowers/train/rose/a.jpg": b"1", "flowers/val/rose/b.jpg": b"2"}
    )
    out = extract_zip(z, tmp_path / "out")
    assert listing(out) == [EXTRACTED_MARKER, "train/rose/a.jpg", "val/rose/b.jpg"]
    # A zip of a single class folder keeps it (stripping would leave loose files).
    z2 = make_zip(tmp_path / "e.zip", {"cats/a.jpg": b"1", "cats/b.jpg": b"2"})
    assert listing(extract_zip(z2, tmp_path / "out2")) == [
        EXTRACTED_MARKER,
        "cats/a.jpg",
        "cats/b.jpg",
    ]


@pytest.mark.parametrize(
    "evil,why",
    [
        ("../evil.jpg", "contains '..'"),
        ("cats/../../evil.jpg", "contains '..'"),
        ("/etc/evil.jpg", "absolute path"),
        ("C:\\evil.jpg", "absolute path"),
    ],
)
def test_members_escaping_the_target_refuse_the_zip(tmp_path: Path, evil: str, why: str) -> None:
    z = make_zip(tmp_path / "d.zip", {"cats/a.jpg": b"1", evil: b"2"})
    with pytest.raises(DataError) as info:
        extract_zip(z, tmp_path / "out" / "ds")
    assert f"member '{evil}'" in str(info.value) and why in str(info.value)
    assert nothing_written(tmp_path / "out")
    assert not (tmp_path / "evil.jpg").exists()


def test_zip_bomb_is_refused_before_writing(tmp_path: Path) -> None:
    z = make_zip(tmp_path / "bomb.zip", {"cats/a.jpg": b"1", "cats/big.bmp": bytes(16 * 1024**2)})
    assert z.stat().st_size < 100_000
    with pytest.raises(DataError, match=r"member 'cats/big.bmp' would expand \d+ times"):
        extract_zip(z, tmp_path / "out" / "ds")
    assert nothing_written(tmp_path / "out")


def test_total_size_limit(tmp_path: Path) -> None:
    z = make_zip(tmp_path / "d.zip", {"cats/a.jpg": b"1" * 600, "dogs/b.jpg": b"2" * 600})
    with pytest.raises(DataError, match=r"member 'dogs/b\.jpg' it would expand to more than 1,000"):
        extract_zip(z, tmp_path / "out" / "ds", max_total_bytes=1000)
    assert nothing_written(tmp_path / "out")


def test_a_lying_size_header_is_caught_while_streaming(tmp_path: Path) -> None:
    z = make_zip(tmp_path / "liar.zip", {"cats/a.jpg": b"1", "cats/big.jpg": bytes(4 * 1024**2)})
    data = bytearray(z.read_bytes())
    # Declare 1,000 bytes in both the local header and the central directory.
    for sig, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = 0
        while (pos := data.find(sig, start)) >= 0:
            name_len_at = 26 if sig == b"PK\x03\x04" else 28
            name_len = struct.unpack_from("<H", data, pos + name_len_at)[0]
            header = 30 if sig == b"PK\x03\x04" else 46
            if data[pos + header : pos + header + name_len] == b"cats/big.jpg":
                struct.pack_into("<I", data, pos + offset, 1000)
            start = pos + 4
    z.write_bytes(bytes(data))
    with pytest.raises(DataError, match=r"member 'cats/big\.jpg'"):
        extract_zip(z, tmp_path / "out" / "ds")
    assert nothing_written(tmp_path / "out")


def test_default_destination_is_reused(tmp_path: Path) -> None:
    z = make_zip(tmp_path / "My Photos.zip", {"a/x.jpg": b"1", "b/y.jpg": b"2"})
    first = extract_zip(z)
    assert first.parent == workspace.datasets_dir() and first.name.startswith("My_Photos-")
    (first / "a" / "x.jpg").write_bytes(b"changed")  # proves the second call did not re-extract
    assert extract_zip(z) == first and (first / "a" / "x.jpg").read_bytes() == b"changed"


def test_not_a_zip(tmp_path: Path) -> None:
    (tmp_path / "fake.zip").write_text("hello")
    with pytest.raises(DataError, match=r"'fake\.zip' is not a readable \.zip file"):
        extract_zip(tmp_path / "fake.zip")


def _png(colour: tuple[int, int, int]) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (8, 8), colour).save(buf, "PNG")
    return buf.getvalue()


RED, BLUE = _png((200, 30, 30)), _png((30, 30, 200))


def _zip_with(path: Path, members: list[tuple[str, bytes, int | None]]) -> Path:
    """Members (name, data, unix mode or None); names may repeat (a zip allows it)."""
    import warnings

    with zipfile.ZipFile(path, "w") as zf, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Duplicate name": the point of some tests
        for name, data, mode in members:
            info = zipfile.ZipInfo(name)
            if mode is not None:
                info.external_attr = mode << 16
            zf.writestr(info, data)
    return path


def _skipped(report) -> dict[str, str]:
    return {s.path: s.reason for s in report.skipped}


def test_symlinks_duplicates_and_file_folder_clashes_are_listed_as_skipped(
    tmp_path: Path,
) -> None:
    from tlcore.data.scan import scan

    z = _zip_with(
        tmp_path / "d.zip",
        [
            ("cats/a.png", BLUE, None),
            ("cats/b.png", RED, None),
            ("cats/link.png", b"/etc/passwd", stat.S_IFLNK | 0o777),
            ("dogs/a.png", RED, None),
            ("dogs/x", RED, None),
            ("dogs/x/c.png", BLUE, None),
            ("cats/a.png", RED, None),  # the same name again, later: this one is used
        ],
    )
    report = scan(z)
    assert _skipped(report) == {
        "cats/link.png": "symbolic link (not extracted)",
        "cats/a.png": "the zip holds another file of this name; the last one was used",
        "dogs/x": "a folder of the same name is in the zip",
    }
    root = Path(report.root)
    assert (root / "cats" / "a.png").read_bytes() == RED
    assert not (root / "cats" / "link.png").exists()
    assert report.classes == {"cats": 2, "dogs": 2}


def test_names_and_paths_too_long_for_the_disk_are_skipped_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tlcore.cli import main

    long_name = "cats/" + "n" * 300 + ".png"
    deep = "dogs/" + "/".join(["d" * 200] * 21) + "/deep.png"
    z = _zip_with(
        tmp_path / "d.zip",
        [("cats/a.png", RED, None), ("dogs/b.png", BLUE, None), (long_name, RED, None),
         (deep, BLUE, None)],
    )  # fmt: skip
    assert main(["scan", str(z), "--json"]) == 0
    import json

    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    reasons = {s["path"]: s["reason"] for s in report["skipped"]}
    assert reasons == {long_name: "name longer than 255 bytes", deep: "path longer than 4096 bytes"}


def _disk_full_at(monkeypatch: pytest.MonkeyPatch, member: str) -> None:
    import errno

    from tlcore.data import zips

    real = zips._copy_member

    def copy(zf, info, target, *rest):
        if info.filename == member:
            target.write_bytes(b"half")  # something was written before the disk filled up
            raise OSError(errno.ENOSPC, "No space left on device", str(target))
        return real(zf, info, target, *rest)

    monkeypatch.setattr(zips, "_copy_member", copy)


def test_a_full_disk_while_unpacking_is_one_sentence_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tlcore.cli import main

    z = _zip_with(tmp_path / "d.zip", [("cats/a.png", RED, None), ("dogs/b.png", BLUE, None)])
    _disk_full_at(monkeypatch, "dogs/b.png")
    with pytest.raises(DataError) as err:
        extract_zip(z, tmp_path / "out" / "ds")
    assert str(err.value).startswith("Could not unpack 'd.zip': the disk is full (")
    assert str(err.value).endswith(
        "free) (at member 'dogs/b.png'). Free some space (deleting the workspace's cache/ "
        "folder is safe), then try again."
    )
    assert nothing_written(tmp_path / "out")
    assert main(["scan", str(z)]) == 2
    err_lines = capsys.readouterr().err.strip().splitlines()
    assert len(err_lines) == 1 and err_lines[0].startswith("error: Could not unpack 'd.zip'")
    assert [p.name for p in workspace.datasets_dir().iterdir()] == []


def test_a_zip_bigger_than_the_free_space_is_refused_before_writing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    from tlcore.data import zips

    z = _zip_with(tmp_path / "d.zip", [("cats/a.png", RED, None), ("dogs/b.png", BLUE, None)])
    monkeypatch.setattr(zips.shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(1, 1, 10))
    with pytest.raises(DataError, match=r"it needs 0 MB and the disk has 0 MB free"):
        extract_zip(z, tmp_path / "out" / "ds")
    assert nothing_written(tmp_path / "out")


class _Upload:
    def __init__(self, name: str, data: bytes) -> None:
        self.name, self._data = name, data

    def getvalue(self) -> bytes:
        return self._data


def test_an_uploaded_zip_never_stays_in_uploads_and_same_names_do_not_overwrite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ui import files

    good = _zip_with(tmp_path / "g.zip", [("cats/a.png", RED, None), ("dogs/b.png", BLUE, None)])
    other = _zip_with(tmp_path / "o.zip", [("cats/a.png", BLUE, None), ("dogs/b.png", RED, None)])
    uploads = workspace.datasets_dir() / "_uploads"
    a = files.save_zip_upload(_Upload("pets.zip", good.read_bytes()))
    b = files.save_zip_upload(_Upload("pets.zip", other.read_bytes()))
    assert (a.name, b.name) == ("pets.zip", "pets (2).zip")
    assert (a.read_bytes(), b.read_bytes()) == (good.read_bytes(), other.read_bytes())
    a.unlink()
    b.unlink()

    folder = files.unpack_zip_upload(_Upload("pets.zip", good.read_bytes()))
    assert (folder / "cats" / "a.png").read_bytes() == RED
    assert list(uploads.iterdir()) == []
    with pytest.raises(DataError, match=r"not a readable \.zip"):
        files.unpack_zip_upload(_Upload("broken.zip", b"PK not a zip"))
    _disk_full_at(monkeypatch, "dogs/b.png")
    with pytest.raises(DataError, match="the disk is full"):
        files.unpack_zip_upload(_Upload("pets.zip", other.read_bytes()))
    assert list(uploads.iterdir()) == []


def _renamed_zip(path: Path, names: dict[str, bytes]) -> Path:
    """A zip whose member names are raw bytes, as old tools wrote them.

    ``zipfile`` writes every non-ASCII name as flagged UTF-8, so members are written
    under ASCII stand-ins of the same length and the bytes swapped in afterwards.
    ``names`` maps stand-in -> raw bytes; a stand-in holding ``é`` stays flagged UTF-8.
    """
    with zipfile.ZipFile(path, "w") as zf:
        for i, stand_in in enumerate(names):
            zf.writestr(stand_in, _png((40 * i, 90, 200 - 40 * i)))
    data = path.read_bytes()
    for stand_in, raw in names.items():
        data = data.replace(stand_in.encode("utf-8"), raw)
    path.write_bytes(data)
    return path


def test_names_that_are_not_marked_utf8_or_not_utf8_at_all_are_kept(tmp_path: Path) -> None:
    z = _renamed_zip(
        tmp_path / "old.zip",
        {
            "cats/mac__.png": b"cats/caf\xc3\xa9.png",  # macOS: UTF-8, not marked
            "cats/dos.png": b"cats/\x82t\xa0.png",  # DOS: cp437, not marked
            "dogs/bad\u00e9.png": b"dogs/bad\xff\xfe.png",  # marked UTF-8 but is not
            "dogs/ok.png": b"dogs/ok.png",
        },
    )
    with pytest.raises(UnicodeDecodeError):  # what Python's zipfile does with it alone
        zipfile.ZipFile(z)
    out = extract_zip(z, tmp_path / "out")
    assert listing(out) == sorted(
        [
            EXTRACTED_MARKER,
            "cats/café.png",
            "cats/étá.png",
            "dogs/bad" + b"\xff\xfe".decode("cp437") + ".png",
            "dogs/ok.png",
        ]
    )
    from tlcore.data.scan import scan

    assert scan(z).classes == {"cats": 2, "dogs": 2}


def test_a_zip_whose_own_name_is_not_utf8_is_unpacked(tmp_path: Path) -> None:
    import os

    from tlcore.data.scan import scan

    odd = Path(os.fsdecode(os.fsencode(tmp_path) + b"/caf\xe9.zip"))
    _renamed_zip(odd, {"cats/a.png": b"cats/a.png", "dogs/b.png": b"dogs/b.png"})
    report = scan(odd)
    assert report.classes == {"cats": 1, "dogs": 1}
    assert Path(report.root).name.startswith("caf-")
    assert (Path(report.root) / EXTRACTED_MARKER).read_text(encoding="utf-8") == "caf\\xe9.zip\n"
