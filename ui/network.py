"""Whether the app can be reached from other computers, and a warning when it can.

``.streamlit/config.toml`` binds the server to ``localhost``: the app can browse this
computer's folders, start training processes and load model files, and it has no login.
Anyone who starts it with another ``server.address`` (e.g. ``0.0.0.0``) shares all of
that with their network, so every page says so at the top.
"""

import ipaddress

import streamlit as st

LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


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
