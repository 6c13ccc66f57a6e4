"""tlcore.data.zips: safe extraction; unsafe members and zip bombs are refused before writing."""

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
