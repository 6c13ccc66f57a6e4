"""TransferLab: train an image classifier on your own photos, in the browser.

Run with ``streamlit run app.py``. This file only wires the pages together: session
state, the shared sidebar, and the navigation. Nothing here imports TensorFlow, so the
first page paints as fast as an empty app; TensorFlow loads when a page needs it.
"""

import streamlit as st

from ui import network, sidebar, state

st.set_page_config(page_title="TransferLab", page_icon="🧪", layout="wide")
state.init()

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
page.run()
