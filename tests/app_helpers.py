"""Helpers for the AppTest page tests: start the app, pick a dataset, make a run folder."""

from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 120


def app(page: str | None = None, **state: object) -> AppTest:
    """The whole app (navigation + sidebar) with session state set, showing ``page``."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    if isinstance(state.get("training"), dict):
        # Settings a test gives are the person's own: the data must not choose others.
        state["training"] = {"auto": False, **state["training"]}
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    if page:
        at.switch_page(f"pages/{page}.py").run()
    return at


def errors(at: AppTest) -> list[str]:
    """The texts of every st.error on the page."""
    return [e.value for e in at.error]


def texts(at: AppTest) -> str:
    """All markdown, captions, infos and warnings on the page, joined."""
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += [i.value for i in at.info] + [w.value for w in at.warning]
    return "\n".join(str(p) for p in parts)


def ended_config(data: Path, size: int = 32, name: str = "earlier"):
    """The config of a one-epoch Small CNN run from scratch (for runs made without training)."""
    from tlcore.config import FreezeConfig, TrainConfig

    return TrainConfig(
        data=str(data),
        backbone="small_cnn",
        weights="none",
        freeze=FreezeConfig(strategy="scratch"),
        epochs=1,
        image_size=size,
        name=name,
    )


def finished_run(data: Path, status: str = "finished", error: str | None = None) -> str:
    """A run folder that says it ended, without training (for pages that only read runs)."""
    from tlcore.runs import run_files, store

    info = store.create_run(ended_config(data))
    if status in ("finished", "stopped"):  # such a run kept a model (a stand-in file here)
        (info.path / "model.keras").write_bytes(b"")
    run_files.update_status(
        info.path,
        status=status,
        error=error,
        ended=run_files.now_iso(),
        epochs_run=1,
        best_val_accuracy=0.5,
    )
    return info.run_id


def wk(at: AppTest, base: str) -> str:
    """A widget's key now: choices' widgets get new keys when code changes the choice
    (``ui.state.renew_widgets``), e.g. ``_w_backbone`` becomes ``_w_backbone_2``."""
    gen = at.session_state["_widget_gen"] if "_widget_gen" in at.session_state else 0  # noqa: SIM401 - no .get on AppTest state
    if not gen:
        return base
    head, sep, tail = base.partition("_no_")
    return f"{head}_{gen}{sep}{tail}"
