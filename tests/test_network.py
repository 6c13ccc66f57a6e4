"""Nothing listens beyond this computer: the real server binds loopback only, and a page
says so when someone shares the app on purpose."""

import contextlib
import fcntl
import ipaddress
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from app_helpers import ROOT, app

from ui.network import is_local_only


def test_which_addresses_are_local_only() -> None:
    for address in ("localhost", "127.0.0.1", "127.1.2.3", "::1", "[::1]", "unix:///tmp/s"):
        assert is_local_only(address), address
    for address in (None, "", "0.0.0.0", "::", "192.168.1.20", "my-laptop.local"):
        assert not is_local_only(address), address


def _listening(port: int) -> list[str]:
    """Local addresses of the TCP sockets listening on ``port`` (from /proc/net)."""
    found = []
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        with contextlib.suppress(FileNotFoundError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                address, hex_port = fields[1].split(":")
                if fields[3] != "0A" or int(hex_port, 16) != port:  # 0A = LISTEN
                    continue
                # The kernel prints each 32-bit word of the address in host (little) order.
                raw = b"".join(
                    struct.pack("<I", int(address[i : i + 8], 16)) for i in range(0, width, 8)
                )
                found.append(str(ipaddress.ip_address(raw)))
    return found


def _own_network_addresses() -> list[str]:
    """This computer's own IPv4 addresses other than loopback (from its interfaces)."""
    out = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for _, name in socket.if_nameindex():
            with contextlib.suppress(OSError):
                packed = fcntl.ioctl(s.fileno(), 0x8915, struct.pack("256s", name.encode()[:15]))
                address = socket.inet_ntoa(packed[20:24])  # SIOCGIFADDR
                if not ipaddress.ip_address(address).is_loopback:
                    out.append(address)
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def _server(port: int) -> Iterator[subprocess.Popen]:
    # The repository's own .streamlit/config.toml applies (cwd = the repository); only the
    # port is chosen here, never the address.
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.mark.skipif(not Path("/proc/net/tcp").is_file(), reason="needs Linux /proc/net")
def test_the_real_server_listens_on_loopback_only() -> None:
    port = _free_port()
    with _server(port) as proc:
        deadline = time.monotonic() + 60
        while not _listening(port):
            assert proc.poll() is None, proc.stdout.read().decode(errors="replace")
            assert time.monotonic() < deadline, "the server did not start listening"
            time.sleep(0.3)
        time.sleep(1.0)  # a second (IPv6) socket would be bound right after the first
        addresses = _listening(port)
        assert addresses and all(ipaddress.ip_address(a).is_loopback for a in addresses), addresses
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass  # this computer can open the app
        for own in _own_network_addresses():  # this machine's own interfaces only
            with pytest.raises(OSError), socket.create_connection((own, port), timeout=5):
                pass


@contextlib.contextmanager
def _address(value: str | None) -> Iterator[None]:
    from streamlit import config

    before = config.get_option("server.address")
    config.set_option("server.address", value)
    try:
        yield
    finally:
        config.set_option("server.address", before)


def test_every_page_warns_when_the_app_is_shared_on_the_network() -> None:
    with _address("0.0.0.0"):
        at = app()
    assert not at.exception
    shared = [w.value for w in at.warning if "shared on the network" in w.value]
    assert shared == [
        "TransferLab is shared on the network (`0.0.0.0`): anyone who can reach this "
        "computer can browse its folders, see its images, upload files and start "
        "training, without a login. If you did not mean to share it, restart it with "
        "`streamlit run app.py` (it then listens on this computer only)."
    ]


def test_no_warning_when_the_app_listens_on_this_computer_only() -> None:
    with _address("localhost"):
        at = app()
    assert not at.exception
    assert not [w for w in at.warning if "shared on the network" in w.value]
