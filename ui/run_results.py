"""What a finished run shows: score, confusion matrix, mistakes, and the diagnosis."""

import os
from typing import Any

import streamlit as st

from tlcore.results import plots
from tlcore.training.head_choice import describe_candidate
from ui import dataset

STATUS_TEXT = {
    "queued": (":material/hourglass_top:", "Waiting to start"),
    "running": (":material/directions_run:", "Training"),
    "finished": (":material/check_circle:", "Finished"),
    "stopped": (":material/stop_circle:", "Stopped by you (the best model so far was kept)"),
    "failed": (":material/error:", "Failed"),
    "interrupted": (":material/warning:", "Interrupted (the training process ended unexpectedly)"),
    "damaged": (":material/broken_image:", "Damaged (a file of this run cannot be read)"),
}


def status_line(run: Any) -> str:
    """An icon and plain words for a run's status."""
    icon, text = STATUS_TEXT.get(run.status, ("", run.status))
    return f"{icon} {text}"


def failure_help(run: Any) -> None:
    """A failed, interrupted or damaged run: the error and what to try.

    A damaged run has nothing else worth showing (its files are what is wrong), so the
    page stops here for it.
    """
    if run.status == "damaged":
        st.error(run.error or "This run folder is damaged.")
        st.caption(f"The run folder: `{run.path}`")
        _delete_button(run)
        st.stop()
    if run.status == "failed":
        st.error(run.error or "The training failed without a message.")
        st.markdown(
            "**What to try:** if it ran out of memory, choose a smaller batch size, image "
            "size or network on the Model page; if an image is broken, remove it and scan "
            "the folder again."
        )
        with st.expander("For someone helping you: the full log"):
            st.code(str(run.path / "worker.log"), language=None)
    elif run.status == "interrupted":
        st.warning(
            "The training process stopped without finishing (the computer slept, "
            "restarted, or the process was killed). The best model saved so far can "
            "still be used on the Predict page; or start the training again."
        )


def _delete_button(run: Any) -> None:
    """Delete a damaged run (its folder; a link: the link only), then show the others."""
    from tlcore.errors import TransferLabError
    from tlcore.runs import store

    if st.button("Delete this run", key=f"delete_{run.run_id}", icon=":material/delete:"):
        try:
            store.delete_run(run.run_id)
        except TransferLabError as e:
            st.error(str(e))
            return
        st.session_state.pop("run_id", None)
        st.rerun()


def solved_only(evts: list[dict[str, Any]]) -> bool:
    """True when a run's only epoch is a solved head: it has no curves to draw."""
    from ui.run_status import is_solved_head

    epochs = [e for e in evts if e.get("type") == "epoch"]
    return bool(epochs) and all(is_solved_head(e) for e in epochs)


def solved_head_view(head: dict[str, Any], fold_accuracies: list[float] | None = None) -> None:
    """What a solved head measured instead of curves: the regularisation chosen by
    cross-validation (every value tried), and the accuracy of each evaluation fold."""
    st.markdown(
        "**What was measured.** The head was solved at once instead of trained epoch by "
        "epoch, so there are no training curves."
    )
    if fold_accuracies:
        st.markdown(
            f"**Accuracy per fold** ({len(fold_accuracies)} folds, each scored on images its "
            "model never saw): " + " · ".join(f"{a:.0%}" for a in fold_accuracies)
        )
    scores = head.get("scores") or []
    chosen = head.get("C")
    if scores:
        by = "log loss" if head.get("criterion", "log_loss") == "log_loss" else "accuracy"
        # The plain sentence stays in view; the numbers behind it are one click away.
        st.markdown(
            f"**How simple the head is** was chosen by trying {len(scores)} settings on the "
            "training images and keeping the one whose predictions of images it had not seen were "
            "the most accurately confident (the lowest log loss)."
        )
        details = st.expander("How the head's regularisation was chosen (details)")
        details.markdown(
            f"**Regularisation chosen:** C = {chosen:g} (lowest cross-validated {by} of the "
            f"{len(scores)} values tried on the training images; smaller C = a simpler head)."
            if by == "log loss"
            else f"**Regularisation chosen:** C = {chosen:g} (highest cross-validated "
            f"accuracy of the {len(scores)} values tried on the training images)."
        )
        details.dataframe(
            [
                {
                    "C": f"{sc['C']:g}",
                    "accuracy across folds": f"{sc['accuracy']:.1%} ± {sc['accuracy_std']:.1%}",
                    "log loss": f"{sc['log_loss']:.3f}",
                    "chosen": "✓" if sc["C"] == chosen else "",
                }
                for sc in scores
            ],
            hide_index=True,
        )
    elif chosen is not None:
        st.markdown(f"**Regularisation:** C = {chosen:g} (too few images to cross-validate it).")
    feature_set = head.get("feature_set")
    if feature_set:  # which layers the head reads (tlcore.training.head_choice)
        tried = " · ".join(
            describe_candidate(c["features"], c["layers"], c.get("head"), c.get("views"))
            + f": {c['accuracy']:.0%} ± {c['accuracy_std']:.0%}"
            for c in feature_set.get("scores") or []
        )
        st.markdown(
            f"**What the head reads:** {feature_set['reason']}"
            + (f" Cross-validated on the training images: {tried}." if tried else "")
        )


def metrics_view(metrics: dict[str, Any], key: str, run_id: str | None = None) -> None:
    """Accuracy, per-class scores, confusion matrix, mistakes and diagnosis.

    With ``run_id``, a click on a confusion-matrix cell shows that cell's images.
    """
    split = metrics.get("split")
    part = {"test": "test", "val": "validation", "train": "training"}.get(split, "held-out")
    if split == "train":
        st.warning(
            "There were too few images to keep any aside, so this accuracy is measured on "
            "the images the model trained on: it says little about new photos. Add images "
            "(a few dozen per class) for an honest score."
        )
    c1, c2, c3 = st.columns(3)
    if split == "cross-validation":
        c1.metric(
            "Cross-validated accuracy",
            f"{metrics.get('accuracy', 0):.1%} ± {metrics.get('accuracy_std', 0):.1%}",
            help="Each image was predicted by a model that did not train on it (mean and "
            "spread over the folds).",
        )
    else:
        c1.metric(
            f"Accuracy on the {part} images",
            f"{metrics.get('accuracy', 0):.1%}",
            help="Share of these images it got right."
            if split == "train"
            else "Share of images the model never trained on that it got right.",
        )
    if metrics.get("evaluation"):
        st.caption(metrics["evaluation"])
    head = metrics.get("head_solver") or {}
    if head.get("message"):  # the features' reason is shown with the head's measurements
        reason = (head.get("feature_set") or {}).get("reason", "")
        st.caption(head["message"].replace(reason, "").strip() if reason else head["message"])
    if metrics.get("best_epoch") and metrics.get("epochs_run", 0) > 1:
        c2.metric(
            "Best epoch",
            f"{metrics['best_epoch']} of {metrics.get('epochs_run', '?')}",
            help="The model of this epoch was kept (lowest validation loss).",
        )
    if metrics.get("seconds") is not None:
        from ui.run_status import duration

        c3.metric("Training time", duration(metrics["seconds"]))
    for d in metrics.get("diagnosis") or []:
        (st.success if d.get("kind") in ("ok", "good") else st.warning)(d.get("message", ""))
    left, right = st.columns([3, 2])
    classes = metrics.get("classes") or []
    cell = None
    if metrics.get("confusion_matrix"):
        clickable = run_id is not None
        event = left.plotly_chart(
            plots.confusion_matrix_figure(
                metrics["confusion_matrix"], classes, clickable=clickable
            ),
            width="stretch",
            key=f"cm_{key}",
            **({"on_select": "rerun", "selection_mode": "points"} if clickable else {}),
        )
        left.caption(
            "Each row is the true class; the diagonal counts the right answers."
            + (" **Click a cell** to see its images." if clickable else "")
        )
        cell = clicked_cell(event, classes) if clickable else None
    per_class = metrics.get("per_class") or {}
    if per_class:
        right.markdown("**Per class**")
        right.dataframe(
            [
                {
                    "class": c,
                    "recall": f"{v.get('recall', 0):.0%}",
                    "precision": f"{v.get('precision', 0):.0%}",
                    "images": v.get("support"),
                }
                for c, v in per_class.items()
            ],
            hide_index=True,
            width="stretch",
        )
        right.caption(
            "**Recall**: share of this class's images it found. **Precision**: "
            "how often it is right when it says this class."
        )
    if cell is not None and run_id is not None:
        cell_gallery(cell_images(run_id, metrics, *cell), *cell)
    mistakes(metrics.get("misclassified") or [])


def clicked_cell(event: Any, classes: list[str]) -> tuple[str, str] | None:
    """``(true, predicted)`` of the confusion-matrix cell clicked, or None.

    The clickable figure's second trace has one marker per cell, row by row, so the
    point's index is ``true * n + predicted``.
    """
    n = len(classes)
    try:
        points = event["selection"]["points"]
    except (KeyError, TypeError):
        return None
    for point in points or []:
        index = point.get("point_index")
        if point.get("curve_number") == 1 and isinstance(index, int) and 0 <= index < n * n:
            return classes[index // n], classes[index % n]
    return None


def cell_images(run_id: str, metrics: dict[str, Any], true: str, predicted: str) -> list | None:
    """The evaluated images that are ``true`` and were called ``predicted``, most
    confident first; None when the run did not keep every image's answer."""
    from tlcore import fsutil
    from tlcore.runs import run_files
    from tlcore.training.run_metrics import PREDICTIONS_FILE

    path = run_files.run_path(run_id) / PREDICTIONS_FILE
    if path.is_file():
        images = fsutil.read_json(path).get("images") or []
    elif true != predicted:  # an older run: only its mistakes were kept
        images = [
            {
                "path": m["path"],
                "true": m["true"],
                "predicted": m["predicted"],
                "probability": m.get("confidence", 0.0),
                "top": [[m["predicted"], m.get("confidence", 0.0)]],
            }
            for m in metrics.get("misclassified") or []
        ]
    else:
        return None
    cell = [im for im in images if (im.get("true"), im.get("predicted")) == (true, predicted)]
    return sorted(cell, key=lambda im: -float(im.get("probability") or 0.0))


def cell_gallery(images: list | None, true: str, predicted: str, limit: int = 24) -> None:
    """The images of one confusion-matrix cell, each with its most likely classes."""
    with st.container(border=True):
        what = "it got right" if true == predicted else f"it called **{predicted}**"
        if images is None:
            st.info(
                f"The **{true}** images {what} were not kept for this run (it was trained "
                "with an older TransferLab). Train again to see them."
            )
            return
        n = len(images)
        st.markdown(
            f"**{n} {true} image{'s' if n != 1 else ''}** {what}"
            + (", most confident first:" if n > 1 else ":" if n else ".")
        )
        cols = st.columns(6)
        for i, im in enumerate(images[:limit]):
            try:
                img = dataset.thumbnail(im["path"], os.stat(im["path"]).st_mtime)
            except OSError:
                img = None
            with cols[i % 6]:
                if img is not None:
                    st.image(img, width="stretch")
                st.caption(" · ".join(f"{lb} {p:.0%}" for lb, p in im.get("top") or []))
        if n > limit:
            st.caption(f"…and {n - limit} more.")


def mistakes(wrong: list[dict[str, Any]], limit: int = 24) -> None:
    """A gallery of misclassified images with their true and predicted labels."""
    if not wrong:
        st.success("No mistakes on the held-out images.")
        return
    with st.expander(f"The {len(wrong)} images it got wrong", expanded=len(wrong) <= 12):
        cols = st.columns(6)
        for i, m in enumerate(wrong[:limit]):
            try:
                img = dataset.thumbnail(m["path"], os.stat(m["path"]).st_mtime)
            except OSError:
                img = None
            with cols[i % 6]:
                if img is not None:
                    st.image(img, width="stretch")
                st.caption(
                    f"is **{m['true']}**, said **{m['predicted']}** ({m.get('confidence', 0):.0%})"
                )
        if len(wrong) > limit:
            st.caption(f"…and {len(wrong) - limit} more.")
