"""Who may use the app: this computer only, a warning when it is shared, and no page
for a site that merely resolves to this computer (DNS rebinding).

``.streamlit/config.toml`` binds the server to ``localhost``: the app can browse this
computer's folders, start training processes and load model files, and it has no login.
Anyone who starts it with another ``server.address`` (e.g. ``0.0.0.0``) shares all of
that with their network, so every page says so at the top.

Binding to loopback does not stop a page on another site whose name is re-pointed at
127.0.0.1 (DNS rebinding): the browser then thinks the app belongs to that site, sends
``Host: that-site``, and Streamlit's origin check (Origin against Host) passes. So a
session whose ``Host`` is not this computer's (a loopback name, an IP address) or a name
the person allowed gets one line of refusal and nothing else.
"""

import ipaddress
import logging
import os
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

import streamlit as st

LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})
# Host names allowed on purpose, comma-separated (e.g. "lab-pc.local,*.example.org").
ALLOWED_HOSTS_ENV = "TRANSFERLAB_ALLOWED_HOSTS"
_log = logging.getLogger(__name__)


def is_local_only(address: str | None) -> bool:
    """True if a server bound to ``address`` is reachable from this computer only.

    ``None`` (Streamlit's default when nothing is configured) binds every interface.
    """
    if not address:
        return False
    address = address.strip()
    if address.startswith("unix://") or address.lower() in LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name of this computer on the network, or anything unknown


def warn_if_shared() -> None:
    """Show a warning on the page when the server listens beyond this computer."""
    address = st.get_option("server.address")
    if is_local_only(address):
        return
    where = f"`{address}`" if address else "every network address"
    st.warning(
        f"TransferLab is shared on the network ({where}): anyone who can reach this "
        "computer can browse its folders, see its images, upload files and start "
        "training, without a login. If you did not mean to share it, restart it with "
        "`streamlit run app.py` (it then listens on this computer only).",
        icon=":material/public:",
    )


def host_name(host: str | None) -> str | None:
    """The name in a ``Host`` header, lower-case, without port, brackets or final dot.

    ``None`` when the header is missing or is not a plain ``name[:port]``.
    """
    if not host or not host.strip():
        return None
    try:
        parts = urlsplit(f"//{host.strip()}")
        _ = parts.port  # raises on a port that is not a number in range
    except ValueError:
        return None
    if parts.username is not None or parts.password is not None or parts.path or parts.query:
        return None
    if parts.fragment or not parts.hostname:
        return None
    return parts.hostname.rstrip(".") or None


def host_is_allowed(host: str | None, allowed: Iterable[str] = ()) -> bool:
    """True if a request with this ``Host`` header may use the app.

    Allowed: loopback names, any IP address (a page whose address is a number came from
    that address: rebinding needs a name the attacker owns), and the ``allowed`` patterns
    (``name``, ``*.domain`` or ``*``), which the person configured.
    """
    name = host_name(host)
    if name is None:
        return False
    if name in LOCAL_NAMES:
        return True
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        pass
    for pattern in allowed:
        pattern = pattern.strip().lower()
        if pattern == "*":
            return True
        if pattern.startswith("*."):
            if name.endswith(pattern[1:].rstrip(".")):
                return True
        elif pattern and name == host_name(pattern):
            return True
    return False


def configured_hosts() -> list[str]:
    """Host names the person allowed: ``TRANSFERLAB_ALLOWED_HOSTS`` and Streamlit's own
    ``server.allowedHosts`` (which Streamlit already enforces on the connection)."""
    names = [n.strip() for n in os.environ.get(ALLOWED_HOSTS_ENV, "").split(",") if n.strip()]
    return names + list(st.get_option("server.allowedHosts") or [])


def refuse_foreign_host() -> None:
    """Stop the script with one line of refusal when the session's ``Host`` is foreign.

    Call it first, before any state is restored or saved and before any page runs. A
    session without request headers (AppTest, a script run with no browser) has no
    request to check; a browser's session always has them.
    """
    headers = st.context.headers
    if not len(headers):
        return
    host = headers.get("Host")
    if host_is_allowed(host, configured_hosts()):
        return
    # In the terminal too: the person never sees a hostile site's page.
    _log.warning("Refused a page opened as %r (not this computer's name).", _plain(host))
    port = st.get_option("server.port")
    st.error(
        f"TransferLab refused this page: it was opened as `{_plain(host) or 'no name'}`, "
        f"which is not this computer; open http://localhost:{port}/ instead, or, if that "
        f"name is this computer's on purpose, start the app with "
        f"{ALLOWED_HOSTS_ENV}={_plain(host_name(host)) or 'the-name'}."
    )
    st.stop()


def _plain(text: str | None) -> str:
    """Only what a host name can hold (the header is the requester's text, not ours)."""
    return re.sub(r"[^A-Za-z0-9.:\[\]-]", "", text or "")[:80]
