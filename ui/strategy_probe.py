""" "Which strategy for my images?": the default said plainly, then measured on request.

Before measuring, the box states the default (feature extraction) and why, in terms of
the dataset's size only: nothing here claims what the images look like. The button runs
the strategy probe (``tlcore.training.probe``) in this process, in seconds, and shows
what it measured and the strategy it points to (``tlcore.training.strategy_advice``),
with a button to use that strategy. The result is kept per dataset and network, so it
stays on screen while the person moves between pages.
"""

from typing import Any

import streamlit as st

from tlcore.errors import TransferLabError
from ui import model_config, progress_box

SECONDS_PER_IMAGE = 0.02
"""Measured: EfficientNet-Lite0 at 224 px on 2 CPU cores, per image (reading it, both
layers' features, the folds), plus about 5 s to build the network."""


def _key(report: Any) -> tuple:
    cfg = model_config.build_config()
    return (
        st.session_state.get("data_path"), report.fingerprint, cfg.backbone, cfg.weights,
        model_config.image_size(), cfg.resize_mode,
    )  # fmt: skip


def render(spec: Any, report: Any) -> None:
    """Draw the box; run the probe when its button is pressed."""
    from tlcore.models.freezing import STRATEGIES

    if spec.weights_hint == "none":
        st.info(
            f"**Suggested: {STRATEGIES['scratch'].display_name}.** {spec.display_name} has no "
            "pretrained weights: it learns everything from your images."
        )
        return
    if spec.key in ("my_model", "keras_file") and not st.session_state.get("weights"):
        return  # nothing to measure until the model to start from is picked
    smallest = min(report.classes.values()) if report.classes else 0
    key = _key(report)
    saved = st.session_state.get("probe")
    with st.container(border=True):
        st.markdown("**Which strategy suits your images?**")
        if saved and saved.get("key") == key:
            _show(saved, STRATEGIES)
            return
        st.markdown(
            f"**Feature extraction is the default**: with {smallest} image"
            f"{'s' * (smallest != 1)} in the smallest class, training only the head is fast "
            "and hard to overfit. Whether retraining layers would pay off depends on how "
            "much your images look like the photos the network learned from: measure it."
        )
        if st.session_state.get("weights") == "imagenet" and not _weights_here(spec):
            st.caption(
                "To measure, the pretrained weights must be on this computer: download them "
                "above, or choose EfficientNet-Lite0 (installed with TransferLab)."
            )
            return
        from tlcore.training.probe import MAX_IMAGES

        n = min(MAX_IMAGES, sum(report.classes.values()))
        seconds = max(5, round(5 + SECONDS_PER_IMAGE * n * (model_config.image_size() / 224) ** 2))
        clicked = st.button(
            ":material/science: Measure which strategy suits my images",
            key="probe_run",
            help=f"About {seconds} s. Trains nothing: your images go once through the network, "
            "and a quick classifier is tested on the features of its last layer, of its "
            "middle and of several layers together (5-fold cross-validation).",
        )
        st.caption(f"About {seconds} s; nothing is trained or saved.")
        if clicked:
            _measure(key, report)


def _weights_here(spec: Any) -> bool:
    """The network's ImageNet weights are on this computer (measuring never downloads)."""
    from ui.weights_choice import imagenet_ready

    try:
        return imagenet_ready(spec.key, model_config.image_size())
    except TransferLabError:
        return False


def _measure(key: tuple, report: Any) -> None:
    from tlcore.training.probe import run_probe
    from tlcore.training.strategy_advice import advise

    with st.status("Measuring how well the network's features fit your images…") as box:
        progress = progress_box.follower(box)

        try:
            result = run_probe(model_config.build_config(), report, progress)
        except TransferLabError as e:
            box.update(label="Could not measure", state="error")
            st.error(f"{e}")
            return
        box.update(label=f"Measured in {result.seconds:.0f} s", state="complete")
    st.session_state["probe"] = {
        "key": key,
        "result": result.to_dict(),
        "advice": advise(result).to_dict(),
    }
    st.rerun()


def _show(saved: dict, strategies: dict) -> None:
    result, advice = saved["result"], saved["advice"]
    last, middle = result["last"], result.get("middle")
    multi = result.get("multi")
    cols = st.columns(4 if multi else 3)
    cols[0].metric(
        "Feature extraction",
        f"{100 * last['accuracy']:.0f}%",
        help=f"± {100 * last['spread']:.0f}% over the {result['folds']} folds: a classifier on "
        "the last layer's features, each image predicted by one that did not train on it. "
        "This is what a feature-extraction run reports.",
    )
    if middle:
        cols[1].metric(
            "Middle of the network",
            f"{100 * middle['accuracy']:.0f}%",
            help=f"± {100 * middle['spread']:.0f}%: the same classifier on the features of "
            f"{middle['layer']} ({middle['block']}), which are more generic.",
        )
    if multi:
        cols[2].metric(
            "Several layers",
            f"{100 * multi['accuracy']:.0f}%",
            help=f"± {100 * multi['spread']:.0f}%: the same classifier on features from "
            f"{multi['layer']} together (stage ends, the last blocks, the last layer); "
            "feature extraction uses them unless the last layer alone is clearly better.",
        )
    cols[-1].metric("Chance", f"{100 * result['chance']:.0f}%", help="Guessing at random.")
    st.caption(
        f"Measured on {_which_images(result)} in {result['seconds']:.0f} s: how often a "
        "quick classifier on the network's features names the right class, each image "
        f"judged by one that did not train on it ({result['folds']}-fold cross-validation)."
    )
    lines = advice["lines"]
    st.markdown(" ".join(lines[1:-1]))
    suggested = advice["strategy"]
    name = strategies[suggested].display_name
    st.markdown(f"**Suggested: {name}.** {advice['reason']}")
    from tlcore.models.backbones import get_backbone
    from tlcore.models.freezing import unavailable_reason

    blocked = unavailable_reason(suggested, get_backbone(st.session_state["backbone"]))
    chosen = st.session_state.get("strategy") == suggested
    chosen = chosen and not st.session_state.get("frozen_layers")
    if blocked:
        st.caption(blocked)
    elif chosen:
        st.caption(f":material/check: {name} is the strategy chosen below.")
    elif st.button(f"Use {name}", key="probe_use", type="primary"):
        model_config.choose_strategy(suggested)
        st.rerun()
    if st.button("Measure again", key="probe_again", type="secondary"):
        st.session_state["probe"] = None
        st.rerun()


def _which_images(result: dict) -> str:
    total = result.get("dataset_images", result["images"])
    if total == result["images"]:
        return f"your {total} images"
    return f"{result['images']} of your {total} images (a sample that keeps each class's share)"
