"""TensorFlow, loaded once in the background so no page waits for it with a blank screen.

Importing TensorFlow and Keras takes 5-15 s on a laptop CPU. ``app.py`` calls ``start``
after the first page has painted; by the time the person has chosen their images, the
Model page finds TensorFlow ready. A page that needs it sooner shows a note (``ready``
is False) and calls ``wait`` before its own import, so the two imports never race.
(The warm-up needs Streamlit's file watcher off; see ``start``.)
"""

import sys
import threading

_done = threading.Event()
_lock = threading.Lock()
_started = False

NOTE = (
    "Loading TensorFlow, the engine that runs the networks (first time only, ~10 s)… "
    "The layer list appears below when it is ready."
)


def start() -> None:
    """Import TensorFlow and Keras in a background thread, once per app process.

    Only when Streamlit's file watcher is off (``server.fileWatcherType = "none"``): the
    watcher looks at every module in ``sys.modules`` at the start of each script run, and
    on a module that another thread is still importing (TensorFlow's lazily loaded ones)
    it waits for that import to end, so every click would hang until TensorFlow is in.
    Without the warm-up the Model page shows ``NOTE`` while it imports TensorFlow itself.
    """
    global _started
    if not enabled():
        return
    with _lock:
        if _started:
            return
        _started = True
    threading.Thread(target=_load, name="transferlab-warmup", daemon=True).start()


def enabled() -> bool:
    """True when a background import cannot block the next script run (see ``start``)."""
    import streamlit as st

    return st.get_option("server.fileWatcherType") == "none"


def _load() -> None:
    try:
        # keras imports TensorFlow; pandas is the layer table's (its first import ~1 s).
        import keras.applications  # noqa: F401
        import pandas  # noqa: F401
    except Exception:
        pass  # the page that imports it next shows the error
    finally:
        _done.set()


def ready() -> bool:
    """True when Keras (and TensorFlow) are imported: building a network will not wait."""
    if _done.is_set():
        return True
    module = sys.modules.get("keras")
    return module is not None and not getattr(module.__spec__, "_initializing", False)


def wait() -> None:
    """Block until the background import is over (at once when none was started)."""
    with _lock:
        started = _started
    if started:
        _done.wait()
