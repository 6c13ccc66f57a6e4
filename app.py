"""TransferLab: train an image classifier on your own photos, in the browser.

Run with ``streamlit run app.py``. This file only wires the pages together: session
state (restored from the workspace in a new session, saved after every run), the shared
sidebar, and the navigation. Nothing here imports TensorFlow, so the first page paints as
fast as an empty app; TensorFlow then loads in the background (``ui.warmup``).
"""

import streamlit as st

from tlcore import workspace
from tlcore.errors import WorkspaceError
from ui import network, sidebar, state, warmup

st.set_page_config(page_title="TransferLab", page_icon="🧪", layout="wide")
network.refuse_foreign_host()  # before any state is restored or saved (DNS rebinding)
try:
    workspace.home()  # a workspace that cannot be made is one sentence on every page
except WorkspaceError as e:
    st.error(str(e))
    st.stop()
state.init()

# The page files live in pages/, not pages/: with a pages/ folder Streamlit serves
# a first visit to e.g. /train after a restart as an old-style page, without this file
# (no sidebar, no restored choices, its own page list) until someone opens "/".
PAGES = [
    st.Page("pages/data.py", title="1 · Data", icon=":material/image:", default=True),
    st.Page("pages/model.py", title="2 · Model", icon=":material/neurology:"),
    st.Page("pages/train.py", title="3 · Train", icon=":material/monitoring:"),
    st.Page("pages/compare.py", title="4 · Compare", icon=":material/balance:"),
    st.Page("pages/predict.py", title="5 · Predict", icon=":material/search:"),
]

page = st.navigation(PAGES)
network.warn_if_shared()
sidebar.render()
try:
    page.run()
finally:
    # Also after st.stop() / st.rerun() inside the page (they are exceptions).
    state.save()  # the choices, so a reload or a new tab starts from them
    warmup.start()  # TensorFlow, after the first page has painted
