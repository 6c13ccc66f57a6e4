"""Predict page: try a trained model on new images, see where it looked, download it."""

import streamlit as st

from tlcore.errors import TransferLabError
from tlcore.results import plots
from tlcore.runs import run_info
from ui import prediction, run_status, weights_choice
from ui.shell import page_setup

page_setup()


def _plain(text: str) -> str:
    """A file name shown as written (no Markdown formatting from ``*``, ``_`` or ``\\``)."""
    return "".join("\\" + ch if ch in "\\`*_[]<>#" else ch for ch in text)


st.title("5 · Try your model")
st.markdown(
    "Drop new photos (ones the model has never seen) and see what it says, how sure "
    "it is, and **where in the image it looked**."
)

usable = weights_choice.finished_runs()
if not usable:
    st.warning("There is no trained model yet. Train one first.")
    st.page_link("pages/train.py", label="Go to 3 · Train", icon=":material/monitoring:")
    st.stop()
labels = {r.run_id: run_status.label(r) for r in usable}
ids = list(labels)
# The person's own pick stays; otherwise the best finished model of the current dataset
# (not the latest run: that may be one stopped half-way).
best = prediction.preselect(usable, st.session_state.get("data_path"))
current = st.session_state.get("predict_run")
if current not in labels:
    current = best.run_id


def _picked(key: str) -> None:
    st.session_state["predict_run"] = st.session_state[key]


pick_key = f"predict_pick_{current}"
run_id = st.selectbox(
    "Model",
    ids,
    index=ids.index(current),
    format_func=labels.get,
    key=pick_key,
    on_change=_picked,
    args=(pick_key,),
)
if run_id == best.run_id and not st.session_state.get("predict_run"):
    mine = prediction.same_data(best, st.session_state.get("data_path"))
    st.caption(
        f"Preselected: your most accurate model{' of this dataset' if mine else ''} "
        f"({run_status.outcome(best)})."
    )

try:
    with st.spinner("Loading the model (the first time takes a few seconds)…"):
        predictor, lock = prediction.predictor(run_id, prediction.model_stamp(run_id))
except TransferLabError as e:
    st.error(f"{e} Pick another model.")
    st.stop()
st.caption(f"Knows {len(predictor.classes)} classes: " + ", ".join(predictor.classes))

tab_files, tab_camera = st.tabs([":material/image: Images", ":material/photo_camera: Camera"])
with tab_files:
    uploads = st.file_uploader(
        "Drop one or many images",
        accept_multiple_files=True,
        type=prediction.IMAGE_TYPES,
        key="predict_upload",
        on_change=prediction.keep_uploads,
    )
    if not uploads and prediction.kept_uploads():
        # Back from another page: the uploader starts empty, the images are still here.
        uploads = prediction.kept_uploads()
        st.caption(
            f"The {len(uploads)} image{'s' if len(uploads) != 1 else ''} you dropped earlier "
            "(drop new ones above to replace them)."
        )
        if st.button("Clear them", key="clear_kept", icon=":material/delete:"):
            st.session_state[prediction.KEPT] = []
            st.rerun()
with tab_camera:
    photo = (
        st.camera_input("Take a photo", key="predict_camera")
        if st.toggle("Use the camera", key="camera_on")
        else None
    )
items = list(uploads or []) + ([photo] if photo is not None else [])
if not items:
    st.info("Drop some images above to see what the model says.")
else:
    explain = st.toggle(
        "Show where the model looked (Grad-CAM)",
        value=True,
        key="gradcam_on",
        help="Red marks the parts of the image that pushed the model most towards its answer.",
    )
    with st.spinner(f"Looking at {len(items)} image{'s' if len(items) != 1 else ''}…"):
        checked = prediction.read_uploads(predictor, items)
        good = [c for c in checked if c.problem is None]
        preds = prediction.predict(predictor, lock, [c.image for c in good])
    bad = [c for c in checked if c.problem is not None]
    if bad:
        head = (
            f"**{len(bad)} of the {len(checked)} files could not be used**; the others are below."
            if good
            else (
                "**None of these files could be used.**"
                if len(bad) > 1
                else "**This file could not be used.**"
            )
        )
        st.warning(
            head
            + "\n\n"
            + "\n".join(f"- {_plain(c.problem)}" for c in bad)
            + "\n\nDrop images in JPEG, PNG, BMP, GIF, WEBP or TIFF format."
        )
    for i, (c, pred) in enumerate(zip(good, preds, strict=True)):
        with st.container(border=True):
            c1, c2, c3 = st.columns([1, 2, 1])
            c1.image(c.image, caption=c.name, width="stretch")
            c2.markdown(f"### {pred.label} — {pred.probability:.0%}")
            seen = prediction.seen_note(c.path, run_id)
            if seen:
                c2.warning(seen, icon=":material/history:")
            tiny = prediction.tiny_note(c.size, predictor.image_size)
            if tiny:
                c2.warning(tiny, icon=":material/photo_size_select_small:")
            c2.plotly_chart(
                plots.top_k_figure([{"label": lb, "probability": p} for lb, p in pred.top_k]),
                key=f"topk_{i}_{c.path}",
            )
            if explain:
                try:
                    c3.image(
                        prediction.gradcam_overlay(predictor, lock, c.image),
                        caption="where it looked",
                        width="stretch",
                    )
                except TransferLabError as e:
                    c3.caption(f"No heatmap: {e}")
    if good:
        st.download_button(
            ":material/download: Download these predictions (CSV)",
            prediction.predictions_csv([c.name for c in good], preds),
            f"predictions-{run_status.file_stem(run_info.load_run(run_id))}.csv",
            "text/csv",
            key="download_csv",
        )

# --- Export ---------------------------------------------------------------------------------
st.subheader("Take the model with you")
st.caption(
    "The model includes its own image preprocessing: give it plain RGB pixels at "
    f"{predictor.image_size} px. labels.txt lists the classes in output order."
)
c1, c2 = st.columns(2)
for col, fmt, text, note in (
    (c1, "keras", "Keras model (.keras)", "for Python / TensorFlow"),
    (c2, "tflite", "TensorFlow Lite (.tflite)", "for phones and small devices"),
):
    with col:
        if st.button(f"Prepare {text}", key=f"export_{fmt}", help=note):
            try:
                with st.spinner(f"Exporting {text} and checking it predicts the same…"):
                    st.session_state[f"export_{fmt}_{run_id}"] = prediction.export_zip(run_id, fmt)
            except TransferLabError as e:
                st.error(str(e))
        ready = st.session_state.get(f"export_{fmt}_{run_id}")
        if ready:
            data, name, agreement = ready
            if agreement is not None:
                st.caption(f"Agrees with the app's model on {agreement:.0%} of the test images.")
            st.download_button(
                f"Download {name}",
                data,
                name,
                "application/zip",
                icon=":material/download:",
                key=f"download_{fmt}",
            )
