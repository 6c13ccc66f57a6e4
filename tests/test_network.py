"""Nothing listens beyond this computer: the real server binds loopback only, and a page
says so when someone shares the app on purpose."""

import contextlib
import fcntl
import ipaddress
import json
import os
import re
import socket
import struct
import subprocess
import sys
import time
import tomllib
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from app_helpers import ROOT, app
from conftest import write_class_images
from skips import skip_unless_ci

from ui.network import configured_hosts, host_is_allowed, host_name, is_local_only


def test_which_addresses_are_local_only() -> None:
    for address in ("localhost", "127.0.0.1", "127.1.2.3", "::1", "[::1]", "unix:///tmp/s"):
        assert is_local_only(address), address
    for address in (None, "", "0.0.0.0", "::", "192.168.1.20", "my-laptop.local"):
        assert not is_local_only(address), address


def test_the_name_in_a_host_header() -> None:
    assert host_name("localhost:8501") == "localhost"
    assert host_name("LocalHost.:8501") == "localhost"  # any case, a final dot
    assert host_name("[::1]:8501") == "::1"
    assert host_name("[::1]") == "::1"
    assert host_name("127.0.0.1") == "127.0.0.1"
    assert host_name(" Lab-PC.example ") == "lab-pc.example"
    for bad in (None, "", "  ", "a:b", "localhost:99999", "evil@localhost", "localhost/x", "."):
        assert host_name(bad) is None, bad


def test_which_hosts_may_use_the_app() -> None:
    for host in (
        "localhost:8501",
        "LOCALHOST",
        "localhost.:8501",
        "127.0.0.1:8501",
        "127.5.6.7",
        "[::1]:8501",
        "192.168.1.20:8501",  # an address, not a name: nothing to rebind
        "[fe80::1]:8501",
    ):
        assert host_is_allowed(host), host
    for host in (
        None,
        "",
        "rebind.example:8501",
        "localhost.rebind.example",
        "127.0.0.1.rebind.example",
        "2130706433",  # a number, not an address as a browser writes one
        "evil@localhost",
        "localhost:notaport",
    ):
        assert not host_is_allowed(host), host


def test_names_allowed_on_purpose() -> None:
    allowed = ["Lab-PC.example.", "*.school.example", "[::2]:99"]
    assert host_is_allowed("lab-pc.example:8501", allowed)
    assert host_is_allowed("room1.school.example", allowed)
    assert not host_is_allowed("school.example", allowed)  # *.x means names under x
    assert not host_is_allowed("evilschool.example", allowed)
    assert not host_is_allowed("lab-pc.example.evil", allowed)
    assert not host_is_allowed("rebind.example", allowed)
    assert host_is_allowed("anything.example", ["*"])


def test_allowed_names_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRANSFERLAB_ALLOWED_HOSTS", " lab-pc.example, ,*.school.example ")
    assert configured_hosts() == ["lab-pc.example", "*.school.example"]
    monkeypatch.delenv("TRANSFERLAB_ALLOWED_HOSTS")
    assert configured_hosts() == []


def test_streamlit_keeps_its_origin_and_upload_token_checks_on() -> None:
    server = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())["server"]
    assert server["enableCORS"] is True  # the connection's Origin must match its Host
    assert server["enableXsrfProtection"] is True  # uploads need the app's own token


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


CHROMIUM = "/usr/bin/chromium"
REBIND_NAME = "rebind.example"


@contextlib.contextmanager
def _app_server(port: int, workspace: Path, **env: str) -> Iterator[str]:
    """The app as a person starts it (the repository's config), on ``port``; its URL."""
    log = workspace.parent / "streamlit.log"
    workspace.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port)],
            cwd=ROOT,
            env={**os.environ, "TRANSFERLAB_HOME": str(workspace), **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                try:
                    with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2):
                        break
                except OSError:
                    assert proc.poll() is None, log.read_text(errors="replace")
                    assert time.monotonic() < deadline, "the server did not start"
                    time.sleep(0.3)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _browser(p, port: int):
    """Chromium that resolves every ``*.example`` name to this computer, as a hostile site's
    DNS would after re-pointing its name (DNS rebinding); skipped without Chromium."""
    if not Path(CHROMIUM).exists():
        skip_unless_ci(f"{CHROMIUM} is missing (apt-get install chromium)")
    args = ["--no-sandbox", "--headless", "--host-resolver-rules=MAP *.example 127.0.0.1"]
    return p.chromium.launch(executable_path=CHROMIUM, args=args)


def _refused(page, url: str) -> None:
    """Open ``url`` and check that it shows the refusal and nothing of the app."""
    page.goto(url)
    refusal = page.get_by_text(re.compile("^TransferLab refused this page: it was opened as"))
    refusal.or_(page.get_by_role("heading")).first.wait_for()  # whichever comes
    _settled(page)
    body = page.locator("body").inner_text()
    assert refusal.count() == 1, body
    assert "Your images" not in body and "Train" not in body, body
    assert page.get_by_role("textbox").count() == 0  # nothing to type a path into
    assert page.get_by_role("button").filter(has_text=re.compile("Use|Start")).count() == 0


@pytest.mark.browser
@pytest.mark.timeout(120)
def test_a_page_on_another_site_resolving_to_this_computer_is_refused(
    workspace: Path, tmp_path: Path
) -> None:
    """DNS rebinding, as it happens: Chromium resolves ``rebind.example`` to 127.0.0.1, so
    a page from that site is same-origin with the app as far as the browser and
    Streamlit's origin check can tell. The app answers it with one line and acts on
    nothing; the same app opened as 127.0.0.1, or as a name allowed on purpose, works."""
    from playwright.sync_api import sync_playwright

    target = write_class_images(tmp_path / "secret-photos", per_class=2, size=8)
    choices = workspace / "last_choices.json"
    port = _free_port()
    allowed = {"TRANSFERLAB_ALLOWED_HOSTS": "lab-pc.example"}
    with _app_server(port, workspace, **allowed) as url, sync_playwright() as p:
        browser = _browser(p, port)
        page = browser.new_page()
        page.set_default_timeout(30_000)

        _refused(page, f"http://{REBIND_NAME}:{port}/")
        assert not choices.exists()  # neither restored nor saved anything

        # Opened as this computer: the page, and the attack's own steps, which are saved.
        page.goto(f"{url}/")
        page.get_by_role("heading", name="1 · Your images").wait_for()
        page.get_by_label("Folder path").fill(str(target))
        page.get_by_role("button", name="Use this path").click()
        page.get_by_text(re.compile(r"\b6 images\b")).first.wait_for()
        _settled(page)
        saved = choices.read_text()
        assert json.loads(saved)["choices"]["data_path"] == str(target)

        # The hostile name again, on a deep link: refused, and the choices untouched.
        for path in ("/data", "/train"):
            _refused(page, f"http://{REBIND_NAME}:{port}{path}")
        assert choices.read_text() == saved

        # A name allowed on purpose (TRANSFERLAB_ALLOWED_HOSTS) opens the app.
        page.goto(f"http://lab-pc.example:{port}/")
        page.get_by_role("heading", name="1 · Your images").wait_for()
        browser.close()


@pytest.mark.browser
@pytest.mark.timeout(120)
def test_a_deep_link_first_thing_after_a_start_is_refused_too(workspace: Path) -> None:
    """The hostile page's first request to a freshly started app is a deep link."""
    from playwright.sync_api import sync_playwright

    port = _free_port()
    with _app_server(port, workspace), sync_playwright() as p:
        browser = _browser(p, port)
        page = browser.new_page()
        page.set_default_timeout(30_000)
        try:
            _refused(page, f"http://{REBIND_NAME}:{port}/data")
        finally:
            browser.close()
    assert not (workspace / "last_choices.json").exists()


def _settled(page) -> None:
    page.wait_for_function(
        """() => {
            const app = document.querySelector('[data-testid="stApp"]');
            return app && app.getAttribute('data-test-script-state') === 'notRunning';
        }"""
    )
