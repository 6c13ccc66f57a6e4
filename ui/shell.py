"""The app around every page: page config, restored choices, the sidebar, navigation.

``app.py`` calls ``main()``; every script in ``pages/`` starts with ``page_setup()``. A
page opened through the app's navigation finds the shell already drawn and goes on. A
page opened as the very first request after a restart (a bookmark to ``/model``) is run
by Streamlit on its own, without ``app.py``, because a ``pages/`` folder exists: there
``page_setup()`` runs ``main()`` itself — the navigation then resolves the address to the
same page and runs it inside the shell — and stops the bare run. So any page works as
the first request, with the app's sidebar and the person's restored choices.
"""

import threading

import streamlit as st

from tlcore import workspace
from tlcore.errors import WorkspaceError
from ui import network, sidebar, state, warmup

_inside = threading.local()  # each session's script runs in its own thread

PAGES = (
    ("pages/data.py", "1 · Data", ":material/image:"),
    ("pages/model.py", "2 · Model", ":material/neurology:"),
    ("pages/train.py", "3 · Train", ":material/monitoring:"),
    ("pages/compare.py", "4 · Compare", ":material/balance:"),
    ("pages/predict.py", "5 · Predict", ":material/search:"),
)


def main() -> None:
    """Draw the shell and run the page the address names (the Data page by default)."""
    st.set_page_config(page_title="TransferLab", page_icon="🧪", layout="wide")
    network.refuse_foreign_host()  # before any state is restored or saved (DNS rebinding)
    try:
        workspace.home()  # a workspace that cannot be made is one sentence on every page
    except WorkspaceError as e:
        st.error(str(e))
        st.stop()
    state.init()
    pages = [
        st.Page(path, title=title, icon=icon, default=i == 0)
        for i, (path, title, icon) in enumerate(PAGES)
    ]
    page = st.navigation(pages)
    network.warn_if_shared()
    state.say_dropped()
    sidebar.render(page.url_path)
    _inside.active = True
    try:
        page.run()
    finally:
        _inside.active = False
        # Also after st.stop() / st.rerun() inside the page (they are exceptions).
        state.save()  # the choices, so a reload or a new tab starts from them
        warmup.start()  # TensorFlow, after the first page has painted


def page_setup() -> None:
    """First line of every page script: make sure the page runs inside the shell."""
    if getattr(_inside, "active", False):
        return
    main()
    st.stop()  # the page already ran inside the shell; end the bare run
