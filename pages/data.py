"""Data page: choose the images (four ways in), see what is in them, and how they split."""

import os
from pathlib import Path

import streamlit as st

from tlcore import workspace
from tlcore.data.images import IMAGE_EXTENSIONS
from tlcore.data.scan import DUPLICATE_KINDS
from tlcore.errors import TransferLabError
from tlcore.fsutil import printable
from tlcore.results import plots
from ui import dataset, files, inspect_view
from ui.shell import page_setup
from ui.state import bound

page_setup()

IMAGE_TYPES = sorted(e.lstrip(".") for e in IMAGE_EXTENSIONS)

st.title("1 · Your images")
st.markdown(
    "TransferLab learns to tell your **classes** apart (for example *cats* and *dogs*) "
    "from example photos. Put the photos of each class in a folder named after it, and "
    "choose them here — or try the demo set first."
)

tab_folder, tab_upload, tab_build, tab_demo = st.tabs(
    [
        ":material/folder_open: A folder on this computer",
        ":material/upload: Upload a folder or .zip",
        ":material/extension: Build classes here",
        ":material/auto_awesome: Demo dataset",
    ]
)

# --- A folder on this computer ----------------------------------------------------------
with tab_folder:
    st.caption(
        "A folder with one subfolder per class (e.g. `pets/cats`, `pets/dogs`), or "
        "with `train/`, `val/` and `test/` folders that each hold the classes."
    )
    typed = st.text_input(
        "Folder path", placeholder="/home/me/Pictures/pets", key="folder_path_box"
    )
    if st.button("Use this path", key="use_typed", type="primary"):
        if not typed.strip():
            st.error("Type the path of a folder first, or pick one in the browser below.")
        elif dataset.use_dataset(
            str(Path(typed.strip()).expanduser()),
            hint="Check the path, or browse to the folder below.",
        ):
            st.rerun()

    with st.expander("…or browse to it", expanded=False):
        here = Path(st.session_state.get("browse_dir") or Path.home())
        if not here.is_dir():
            here = Path.home()

        def _go(path: str) -> None:
            st.session_state["browse_dir"] = path

        st.markdown(f"You are in **`{printable(str(here))}`**")
        cols = st.columns([1, 1, 3])
        cols[0].button(
            "Up one level",
            icon=":material/arrow_upward:",
            on_click=_go,
            args=(str(here.parent),),
            disabled=here.parent == here,
            key="browse_up",
        )
        if cols[1].button(
            "Use this folder", icon=":material/check_circle:", key="browse_use", type="primary"
        ) and dataset.use_dataset(str(here)):
            st.rerun()
        subs = files.subfolders(here)
        if not subs:
            st.caption("No subfolders here.")
        grid = st.columns(3)
        for i, sub in enumerate(subs):
            grid[i % 3].button(
                f":material/folder: {printable(sub.name)}",
                key=f"browse_{os.fsencode(sub).hex()}",  # any name, even one not UTF-8
                on_click=_go,
                args=(str(sub),),
                width="stretch",
            )

# --- Upload a folder or a zip -------------------------------------------------------------
with tab_upload:
    st.caption(
        "Drop a **.zip** of your folder, or pick the folder itself. The images are "
        "copied into TransferLab's workspace, so the originals stay untouched."
    )
    up_zip = st.file_uploader("A .zip of the dataset folder", type=["zip"], key="zip_upload")
    if up_zip is not None and st.button("Use this .zip", key="use_zip", type="primary"):
        try:
            with st.spinner("Unpacking the .zip…"):
                folder = dataset.unpack_zip_upload(up_zip)
        except TransferLabError as e:
            st.error(str(e))
        else:
            if dataset.use_dataset(str(folder)):
                st.rerun()
    up_dir = st.file_uploader(
        "…or a whole folder", accept_multiple_files="directory", key="dir_upload"
    )
    if up_dir and st.button(f"Use these {len(up_dir)} files", key="use_dir", type="primary"):
        try:
            with st.spinner("Copying the files into the workspace…"):
                folder = files.save_folder_upload(up_dir)
        except TransferLabError as e:
            st.error(str(e))
        else:
            if dataset.use_dataset(str(folder)):
                st.rerun()

# --- Build classes in the app ---------------------------------------------------------------
with tab_build:
    st.caption(
        "No folders yet? Name a class, drop its photos, press *Add*; repeat for each "
        "class (at least two)."
    )
    name = st.text_input("Name of the dataset", **bound("builder_name"))
    built = files.built_classes(name)
    if built:
        st.markdown("Classes so far: " + ", ".join(f"**{c}** ({n})" for c, n in built.items()))
    c1, c2 = st.columns([1, 2])
    class_name = c1.text_input(
        "Class name", placeholder="e.g. cats", key=f"build_class_{len(built)}"
    )
    class_files = c2.file_uploader(
        "Its photos", accept_multiple_files=True, type=IMAGE_TYPES, key=f"build_files_{len(built)}"
    )
    if st.button(":material/add: Add this class", key="build_add"):
        if not class_name.strip():
            st.error("Give the class a name first (for example the thing in the photos).")
        elif not class_files:
            st.error("Drop at least one photo for this class first.")
        else:
            try:
                n = files.save_class_images(name, class_name.strip(), class_files)
            except TransferLabError as e:
                st.error(str(e))
            else:
                st.success(f"Added {n} photos to '{class_name.strip()}'.")
                st.rerun()
    if (
        len(built) >= 2
        and st.button("Use this dataset", key="build_use", type="primary")
        and dataset.use_dataset(str(workspace.datasets_dir() / files.safe_name(name)))
    ):
        st.rerun()

# --- Demo -------------------------------------------------------------------------------------
with tab_demo:
    st.caption(
        "A small made-up dataset of coloured shapes (several classes), generated on "
        "this computer in a few seconds. Good for a first try of the whole app."
    )
    if st.button(":material/auto_awesome: Use the demo dataset", key="use_demo", type="primary"):
        from tlcore.data import demo

        per_class = int(os.environ.get("TRANSFERLAB_DEMO_PER_CLASS", "60"))
        size = int(os.environ.get("TRANSFERLAB_DEMO_SIZE", "96"))
        with st.spinner("Drawing the demo images…"):
            folder = demo.make_demo_dataset(per_class=per_class, size=size)
        if dataset.use_dataset(str(folder)):
            st.rerun()

# --- The report ---------------------------------------------------------------------------
st.divider()
if not st.session_state.get("data_path"):
    st.info("Choose your images above to see what is in them.")
    st.stop()
try:
    report = dataset.current_report()
except TransferLabError as e:
    st.error(f"{e} Choose another folder above.")
    st.stop()

total = sum(report.classes.values())
st.subheader(f"What is in `{printable(Path(report.root).name)}`")
head, again = st.columns([4, 1])
head.markdown(f"**{total} images** in **{len(report.classes)} classes**.")
if again.button(
    "Scan again",
    icon=":material/refresh:",
    key="rescan",
    help="Look at the folder again after adding or removing images.",
):
    try:
        dataset.scan_with_progress(st.session_state["data_path"])
    except TransferLabError as e:
        st.error(f"{e} Choose another folder above.")
        st.stop()
    st.rerun()
left, right = st.columns([3, 2])
left.plotly_chart(plots.class_counts_figure(report.classes), width="stretch")
with right:
    tiny = dataset.tiny_images(report)
    if tiny:
        st.warning(
            dataset.tiny_warning(tiny, report.root, total),
            icon=":material/photo_size_select_small:",
        )
    if report.warnings:
        for w in report.warnings:
            st.warning(w)
    elif not tiny:
        st.success("No problems that would hurt training.")
    if report.skipped:
        n = len(report.skipped)
        with st.expander(f"{n} file{'s' if n != 1 else ''} not used, and why"):
            st.dataframe(
                [
                    {"file": dataset.relative(s.path, report.root), "reason": s.reason}
                    for s in report.skipped
                ],
                hide_index=True,
                width="stretch",
            )
    if report.duplicates:
        n = len(report.duplicates)
        with st.expander(f"{n} group{'s' if n != 1 else ''} of identical images"):
            st.caption(
                "The same picture more than once. In two classes it confuses the "
                "model; in both training and test it makes the test look better "
                "than it is (leakage)."
            )
            for d in report.duplicates:
                kind = DUPLICATE_KINDS.get(d.kind, d.kind)
                st.markdown(
                    f"- *{kind}*: "
                    + ", ".join(f"`{dataset.relative(p, report.root)}`" for p in d.paths)
                )

with st.expander("A few images of each class", expanded=True):
    for cls, thumbs in dataset.thumbnails(report).items():
        st.markdown(f"**{cls}** — {report.classes.get(cls, 0)} images")
        if thumbs:
            st.image(thumbs, width=96)

# --- The split ---------------------------------------------------------------------------
st.subheader("Training, validation and test images")
st.markdown(
    "The model **learns** from the training images. After each pass it is checked on the "
    "**validation** images it never learns from, to see whether it generalises. The "
    "**test** images are kept aside until the end for an honest final score."
)
auto_split = st.session_state["training"].get("auto", True) and not st.session_state.get(
    "split_by_hand"
)
with st.expander(
    "Set the split yourself" if auto_split else "The split you set", expanded=not auto_split
):
    c1, c2, c3 = st.columns(3)
    c1.slider(
        "Validation share",
        0,
        40,
        step=5,
        format="%d%%",
        help="Part of the images used to check the model after each epoch.",
        **dataset.split_bound("val_percent"),
    )
    c2.slider(
        "Test share",
        0,
        40,
        step=5,
        format="%d%%",
        help="Part of the images kept aside for the final score (0 = use validation).",
        **dataset.split_bound("test_percent"),
    )
    c3.number_input(
        "Shuffle seed",
        0,
        1_000_000,
        step=1,
        help="The same seed gives the same split every time.",
        **dataset.split_bound("split_seed"),
    )
    if st.session_state.get("split_by_hand") and st.button(
        "Let TransferLab choose the split for my images", key="split_auto"
    ):
        dataset.split_by_data()
        st.rerun()
try:
    from ui import model_config

    # The split the run will use: the one planned for Start, defaults applied.
    planned = model_config.planned_run()
    run_cfg, split = planned.config, planned.split
except TransferLabError as e:
    st.error(str(e))
    st.stop()
counts = dataset.split_counts(split)
if report.layout == "split_folders":
    st.caption("Your dataset has its own train/val/test folders, so they are kept as they are.")
elif run_cfg.cross_validate:
    st.info(
        f"With {len(report.items)} images, a test split would say little, so accuracy will be "
        f"**cross-validated over {run_cfg.cv_folds} folds**: each image is predicted once by "
        "a model that did not train on it, and the final model trains on all of them.",
        icon=":material/shuffle:",
    )
elif auto_split:
    st.caption(
        "Chosen for your images (the same split the Train page starts with); open "
        "*Set the split yourself* to change it."
    )
st.markdown(" · ".join(f"**{part}**: {sum(c.values())} images" for part, c in counts.items()))
st.plotly_chart(plots.split_counts_figure(counts), width="stretch")
inspect_view.render(report)
st.page_link("pages/model.py", label="Next: choose a model", icon=":material/arrow_forward:")
