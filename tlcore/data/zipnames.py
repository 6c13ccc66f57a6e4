"""Reading a zip's member names as their makers meant them.

A name marked UTF-8 (flag bit 11) is read as UTF-8; an unmarked one as UTF-8 when its
bytes are valid UTF-8 (macOS and most tools today write UTF-8 without the mark), else as
cp437 (what the zip standard says; old Windows and DOS tools). A name wrongly marked
UTF-8 would make Python's ``zipfile`` refuse the whole archive; it is read as an
unmarked name instead, so its photo is kept like the others.
"""

import io
import struct
import zipfile
from pathlib import Path

_CENTRAL = b"PK\x01\x02"  # a central directory entry
_LOCAL = b"PK\x03\x04"  # a member's local header
_UTF8_FLAG = 0x800


def _unflag_bad_names(data: bytes) -> tuple[bytes, frozenset[bytes]]:
    """Clear the UTF-8 flag of central directory entries whose name is not UTF-8.

    Returns the patched bytes and the raw names whose flag was cleared.
    """
    out, pos, cleared = bytearray(data), 0, set()
    while out[pos : pos + 4] == _CENTRAL and pos + 46 <= len(out):
        (flags,) = struct.unpack_from("<H", out, pos + 8)
        n, m, k = struct.unpack_from("<HHH", out, pos + 28)
        name = bytes(out[pos + 46 : pos + 46 + n])
        if flags & _UTF8_FLAG:
            try:
                name.decode("utf-8")
            except UnicodeDecodeError:
                struct.pack_into("<H", out, pos + 8, flags & ~_UTF8_FLAG)
                cleared.add(name)
        pos += 46 + n + m + k
    return bytes(out), frozenset(cleared)


class _ZipReader(io.FileIO):
    """The zip file, read so a name wrongly marked UTF-8 does not stop the archive.

    Python's ``zipfile`` refuses a whole archive when one name marked UTF-8 is not
    (``UnicodeDecodeError``). While ``listing``, the central directory (read in one
    piece) goes through ``_unflag_bad_names``; later the local headers of those members
    (30 bytes at ``local_headers``) lose the flag too. Member data is never touched.
    """

    listing = True
    unflagged: frozenset[bytes] = frozenset()
    local_headers: frozenset[int] = frozenset()

    def read(self, size: int | None = -1) -> bytes:
        """Read like ``FileIO.read``, clearing the flags described above."""
        at = self.tell()
        data = super().read(size)
        if self.listing and data[:4] == _CENTRAL:
            data, self.unflagged = _unflag_bad_names(data)
        elif at in self.local_headers and data[:4] == _LOCAL and len(data) >= 8:
            (flags,) = struct.unpack_from("<H", data, 6)
            data = data[:6] + struct.pack("<H", flags & ~_UTF8_FLAG) + data[8:]
        return data


def open_zip(zip_path: Path) -> zipfile.ZipFile:
    """Open ``zip_path`` for reading (the caller closes the ZipFile and ``zf.fp``)."""
    reader = _ZipReader(zip_path)
    try:
        zf = zipfile.ZipFile(reader)
    except BaseException:
        reader.close()
        raise
    reader.listing = False
    reader.local_headers = frozenset(
        i.header_offset
        for i in zf.infolist()
        if i.orig_filename.encode("cp437") in reader.unflagged
    )
    return zf


def member_name(info: zipfile.ZipInfo) -> str:
    """The member's name as its maker meant it (see the module docstring)."""
    if info.flag_bits & _UTF8_FLAG or info.filename.isascii():
        return info.filename
    try:
        return info.filename.encode("cp437").decode("utf-8")
    except UnicodeError:  # not UTF-8: the standard's cp437 reading stands
        return info.filename
