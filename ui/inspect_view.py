""" "Look for mistakes" on the Data page: likely label mistakes, near-duplicates,
outliers and a map, from the network's features (``tlcore.results.inspect``).

Nothing runs until the button is pressed (about 15 s for 100 images the first time; the
features are cached, so a second look takes seconds). Nothing on disk changes unless a
person asks: a suspected mistake can be moved to the suggested class or excluded, each
only after a confirm button, recorded in the workspace with an undo
(``tlcore.data.moves``). The findings stay on screen, per dataset and network, while the
person moves between pages.
"""

import os
from pathlib import Path
from typing import Any

import streamlit as st

from tlcore.errors import TransferLabError
from ui import dataset, progress_box

SHOW_ISSUES = 12
SHOW_PAIRS = 10
SHOW_OUTLIERS = 8
SECONDS_PER_IMAGE = 0.1
"""Measured (``bench/bench_inspect.py``): 1,000 Twemoji images in 131 s the first time
with EfficientNet-Lite0 at 224 px on 2 heavily shared CPU cores (the CLI, ~25 s of it
starting Python and TensorFlow); a second look at the same images takes seconds."""


def _network() -> tuple[str, int, str]:
    """(backbone, image size, why): the network chosen on the Model page when its
    pretrained weights are on this computer, else EfficientNet-Lite0 (installed)."""
    from tlcore.config import DEFAULT_BACKBONE
    from tlcore.models.backbones import get_backbone
    from ui import model_config
    from ui.weights_choice import imagenet_ready

    s = st.session_state
    key = s.get("backbone") or DEFAULT_BACKBONE
    if s.get("weights") == "imagenet" and get_backbone(key).pretrained:
        size = model_config.image_size()
        try:
            if imagenet_ready(key, size):
                return key, size, ""
        except TransferLabError:
            pass
    lite = get_backbone(DEFAULT_BACKBONE)
    why = (
        ""
        if key == DEFAULT_BACKBONE
        else f"with {lite.display_name} (installed with TransferLab): the network chosen on "
        "the Model page has no pretrained weights on this computer"
    )
    return DEFAULT_BACKBONE, lite.default_size, why


def render(report: Any) -> None:
    """Draw the section; inspect when its button is pressed."""
    st.subheader("Look for mistakes")
    st.markdown(
        "The pretrained network can spot what people miss in their own folders: a photo "
        "filed under the wrong class, the same photo twice, a picture unlike all the others. "
        "It only points; **nothing is moved or deleted unless you confirm it**."
    )
    backbone, size, why = _network()
    key = (st.session_state.get("data_path"), backbone, size)
    saved = st.session_state.get("inspect")
    if saved and saved.get("key") == key:
        _show(saved, report)
        return
    n = sum(report.classes.values())
    seconds = round(5 + SECONDS_PER_IMAGE * n * (size / 224) ** 2)
    if why:
        st.caption(f"The images are looked at {why}.")
    if st.button(
        ":material/search: Look for mistakes in my images",
        key="inspect_run",
        help=f"About {seconds} s the first time, seconds after that. Trains nothing and "
        "changes nothing: your images go once through the network.",
    ):
        _inspect(key, backbone, size, report)


def _inspect(key: tuple, backbone: str, size: int, report: Any) -> None:
    from tlcore.config import TrainConfig
    from tlcore.results.inspect.report import inspect_dataset

    config = TrainConfig(data=report.root, backbone=backbone, weights="imagenet", image_size=size)
    with st.status("Looking at your images through the network…") as box:
        progress = progress_box.follower(box)

        try:
            found = inspect_dataset(config, report, progress)
        except TransferLabError as e:
            box.update(label="Could not look at the images", state="error")
            st.error(str(e))
            return
        box.update(label=f"Done in {found.seconds:.0f} s", state="complete")
    st.session_state["inspect"] = {"key": key, "found": found.to_dict(), "moved": {}}
    st.rerun()


def _thumb(path: str, size: int = 112) -> Any:
    try:
        return dataset.thumbnail(path, os.stat(path).st_mtime, size)
    except OSError:
        return None


def _show(saved: dict, report: Any) -> None:
    found, moved = saved["found"], saved["moved"]
    root = report.root
    st.caption(
        f"{found['images']} images seen through {found['network']} in {found['seconds']:.0f} s."
        + (" " + " ".join(found["notes"]) if found["notes"] else "")
    )
    _issues(found, moved, root)
    _duplicates(found, root)
    _outliers(found, root)
    _maps(found)
    _moves_made(root)
    if st.button("Look again", key="inspect_again", type="tertiary", help="After changes."):
        st.session_state["inspect"] = None
        st.rerun()


def _issues(found: dict, moved: dict, root: str) -> None:
    issues = found["label_issues"]
    if not issues:
        st.success("No likely label mistakes: the network agrees with your folders.")
        return
    st.markdown(
        f"**Review these first: {len(issues)} image{'s' * (len(issues) != 1)} the network "
        "thinks may be in the wrong folder**, most doubtful first. *Sure* is how strongly "
        "a classifier that never saw the image disagrees with its folder."
    )
    _pending_box(root)
    cols = st.columns(4)
    for i, issue in enumerate(issues[:SHOW_ISSUES]):
        path = issue["path"]
        with cols[i % 4]:
            thumb = _thumb(moved.get(path, path))  # a moved image, from where it is now
            if thumb is not None:
                st.image(thumb, width=112)
            st.caption(
                f"`{dataset.relative(path, root)}`  \nfolder **{issue['given']}**, looks like "
                f"**{issue['suggested']}** ({100 * issue['score']:.0f}% sure)"
            )
            if path in moved:
                st.caption(f":material/check: moved to {dataset.relative(moved[path], root)}")
                continue
            # One under the other: side by side, a class name does not fit a quarter row.
            if st.button(f"Move to {issue['suggested']}", key=f"inspect_move_{i}", width="stretch"):
                st.session_state["inspect_pending"] = {"path": path, "to": issue["suggested"]}
                st.rerun()
            if st.button(
                "Exclude",
                key=f"inspect_exclude_{i}",
                width="stretch",
                help="Take it out of the dataset (into a hidden folder; nothing is deleted).",
            ):
                st.session_state["inspect_pending"] = {"path": path, "to": None}
                st.rerun()


def _pending_box(root: str) -> None:
    """The confirm step: nothing is written before this button."""
    pending = st.session_state.get("inspect_pending")
    if not pending:
        return
    from tlcore.data import moves

    rel = dataset.relative(pending["path"], root)
    where = (
        f"into the class **{pending['to']}**"
        if pending["to"]
        else f"out of the dataset (into `{moves.EXCLUDED}/`, nothing is deleted)"
    )
    with st.container(border=True):
        st.markdown(f"Move `{rel}` {where}? You can undo it below.")
        a, b = st.columns(2)
        if a.button("Confirm", key="inspect_confirm", type="primary"):
            try:
                if pending["to"]:
                    done = moves.move_to_class(root, pending["path"], pending["to"])
                else:
                    done = moves.exclude(root, pending["path"])
            except TransferLabError as e:
                st.error(str(e))
                return
            st.session_state["inspect_pending"] = None
            saved = st.session_state["inspect"]
            saved["moved"][pending["path"]] = done.dest
            _rescan()
            st.rerun()
        if b.button("Cancel", key="inspect_cancel"):
            st.session_state["inspect_pending"] = None
            st.rerun()


def _rescan() -> None:
    try:
        dataset.scan_with_progress(st.session_state["data_path"])
    except TransferLabError as e:
        st.error(str(e))


def _moves_made(root: str) -> None:
    from tlcore.data import moves

    if undone := st.session_state.pop("inspect_undone", None):
        st.success(f"Put back: `{undone}`.")
    mine = [m for m in moves.history() if Path(m.source).is_relative_to(Path(root).resolve())]
    if not mine:
        return
    with st.expander(f"Moves made here ({len(mine)})"):
        for m in mine[::-1]:
            src, dest = dataset.relative(m.source, root), dataset.relative(m.dest, root)
            st.markdown(f"- `{src}` → `{dest}`")
        if st.button("Undo the last move", key="inspect_undo", icon=":material/undo:"):
            try:
                back = moves.undo(mine[-1].id)
            except TransferLabError as e:
                st.error(str(e))
                return
            saved = st.session_state.get("inspect") or {}
            saved.get("moved", {}).pop(mine[-1].source, None)
            st.session_state["inspect_undone"] = dataset.relative(back.dest, root)
            _rescan()
            st.rerun()


def _duplicates(found: dict, root: str) -> None:
    from tlcore.results.inspect.near_duplicates import KINDS

    pairs = found["near_duplicates"]
    threshold = found["similarity_threshold"]
    label = f"Near-duplicates: {found['duplicate_pairs_found']} pair" + "s" * (
        found["duplicate_pairs_found"] != 1
    )
    with st.expander(label, expanded=bool(pairs)):
        st.caption(
            f"Pairs whose features point the same way (cosine similarity at least {threshold:g} "
            "of 1): the same picture resized, recompressed or slightly cropped. In two classes "
            "they confuse the model; in training and test they flatter the score."
        )
        for i, pair in enumerate(pairs[:SHOW_PAIRS]):
            st.markdown(f"**{pair['similarity']:.3f}** · {KINDS[pair['kind']]}")
            cols = st.columns(2)
            for col, side in zip(cols, ("a", "b"), strict=True):
                thumb = _thumb(pair[side])
                if thumb is not None:
                    col.image(thumb, width=112)
                col.caption(f"`{dataset.relative(pair[side], root)}`")
            if i < len(pairs[:SHOW_PAIRS]) - 1:
                st.divider()


def _outliers(found: dict, root: str) -> None:
    outliers = found["outliers"]
    with st.expander(f"Outliers: {len(outliers)}", expanded=bool(outliers)):
        st.caption(
            "Images far from every other one in the network's eyes (a screenshot among "
            "photos, a blank frame): worth a look; they may still be right."
        )
        cols = st.columns(4)
        for i, o in enumerate(outliers[:SHOW_OUTLIERS]):
            with cols[i % 4]:
                thumb = _thumb(o["path"])
                if thumb is not None:
                    st.image(thumb, width=112)
                st.caption(f"`{dataset.relative(o['path'], root)}` ({o['score']:.2f})")


def _maps(found: dict) -> None:
    from tlcore.results.inspect.figures import map_figure

    st.markdown(
        f"**The map** ({found['map_method']}): each dot an image, close dots look alike to "
        "the network; rings are suspected mistakes. Click a dot to see its image."
    )
    before, after = st.columns(2)
    picked = []
    event = before.plotly_chart(
        map_figure(found["map"], found["classes"], "Through the pretrained network"),
        key="inspect_map",
        on_select="rerun",
        selection_mode="points",
        width="stretch",
    )
    picked += _selected(event)
    if found["map_after"]:
        event = after.plotly_chart(
            map_figure(found["map_after"], found["classes"], "After training a classifier on it"),
            key="inspect_map_after",
            on_select="rerun",
            selection_mode="points",
            width="stretch",
        )
        picked += _selected(event)
        after.caption(
            "The same images placed by what a classifier trained on these features "
            "outputs (each judged by one that never saw it): the classes pull apart."
        )
    for path in picked[:1]:
        thumb = _thumb(path, 224)
        if thumb is not None:
            st.image(thumb, caption=os.path.basename(path), width=224)


def _selected(event: Any) -> list[str]:
    try:
        return [p["customdata"] for p in event["selection"]["points"] if p.get("customdata")]
    except (KeyError, TypeError):
        return []
