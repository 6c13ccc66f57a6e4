"""Links that open the run they name on the Train page (not whichever run it last showed).

The Train page follows ``st.session_state["run_id"]``; a plain page link only switches
page, so it opened the run the page showed before. A button sets the run first.
"""

from typing import Any

import streamlit as st


def open_on_train_page(run: Any, label: str, key: str) -> None:
    """A button that shows ``run`` on the Train page."""
    if st.button(label, key=key, icon=":material/monitoring:", type="tertiary"):
        st.session_state["run_id"] = run.run_id
        st.switch_page("pages/train.py")
