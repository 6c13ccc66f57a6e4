"""TransferLab: train an image classifier on your own photos, in the browser.

Run with ``streamlit run app.py``. The page scripts live in ``pages/``; this entry and
every page share one shell (``ui.shell``): page config, the choices restored from the
workspace, the sidebar and the navigation. Nothing here imports TensorFlow, so the first
page paints as fast as an empty app; TensorFlow then loads in the background
(``ui.warmup``).
"""

from ui import shell

shell.main()
