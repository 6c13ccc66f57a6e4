"""Train page: start a run in the background and follow it live; results when it ends."""

from pathlib import Path

import streamlit as st

from tlcore.errors import TransferLabError
from tlcore.fsutil import printable
from tlcore.runs import run_files, run_info, worker
from ui import (
    advice,
    dataset,
    live_training,
    model_config,
    run_results,
    run_status,
    weights_choice,
)
from ui.shell import page_setup

page_setup()

st.title("3 · Train")
st.markdown(
    "Training runs in the background: you can switch pages or even close this tab — it "
    "keeps going, and this page shows it again when you come back."
)

# Drawn before anything slow: pressing Start clears what stood here at once (a browser
# keeps showing an element until the script draws its place again, ~1 s into the run).
notice = st.empty()

# --- Start a run ---------------------------------------------------------------------------
start = False
with st.container(border=True):
    if not st.session_state.get("data_path"):
        st.warning("Choose your images first.")
        st.page_link("pages/data.py", label="Go to 1 · Data", icon=":material/image:")
    else:
        try:
            planned = model_config.planned_run()
            cfg, defaults, unused, split = planned[:4]
            cfg.validate()
            from tlcore.models.backbones import get_backbone
            from tlcore.training.recipes import get_recipe
            from tlcore.training.run_summary import will_do

            spec = get_backbone(cfg.backbone)
            kind = weights_choice.kind_of(cfg.weights)
            start_label = weights_choice.LABELS.get(kind, cfg.weights)
            if kind == weights_choice.RUN:
                start_label = run_status.title(run_info.load_run(cfg.weights[4:]))
            counts = {part: len(getattr(split, part)) for part in ("train", "val", "test")}
            lines = will_do(cfg, counts, sum(counts.values()), unused)
            recipe = f" — the recipe “{get_recipe(cfg.recipe).display_name}”" if cfg.recipe else ""
            st.markdown(
                f"**{len(dataset.current_report().classes)} classes** from "
                f"**{printable(Path(cfg.data).name)}** · start from **{start_label}**\n\n"
                f"**This run will…**{recipe}\n" + "\n".join(f"- {line}" for line in lines)
            )
            missing_weights = (
                cfg.weights == "imagenet"
                and spec.pretrained
                and not weights_choice.imagenet_ready(cfg.backbone, model_config.image_size())
            )
        except TransferLabError as e:
            st.error(f"{e} Fix it on the Model page.")
            st.page_link("pages/model.py", label="Go to 2 · Model", icon=":material/neurology:")
            st.stop()
        if missing_weights:
            st.info(
                "The pretrained weights will be downloaded first (needs internet). Offline? "
                + advice.pretrained_route(bool(weights_choice.finished_runs()))
            )
        runs_now = run_status.list_runs()
        run_status.start_note(runs_now)
        c1, c2 = st.columns([3, 1])
        name = c1.text_input(
            "Name this run (optional)", key="run_name", placeholder="e.g. first try"
        )
        c2.write("")
        start = c2.button(
            f"▶️ {run_status.start_label(runs_now)}",
            type="primary",
            key="start_train",
            width="stretch",
        )

# --- Starting: below the settings, where the run will show.
if start:
    if missing_weights and not weights_choice.download_imagenet(
        cfg.backbone, model_config.image_size()
    ):
        weights_choice.offline_help(cfg.backbone, model_config.image_size())
        st.page_link(
            "pages/model.py",
            label="Choose the starting point on the Model page",
            icon=":material/neurology:",
        )
        st.stop()
    try:
        with st.spinner("Starting: handing the run to the trainer…"):
            st.session_state["run_id"] = worker.start_run(
                planned.asked.replace(name=name.strip()), split=split, defaults=defaults
            )
    except TransferLabError as e:
        st.error(str(e))
    else:
        st.rerun()

# --- Which run to show -------------------------------------------------------------------------
all_runs = run_status.list_runs()
if not all_runs:
    notice.info("No training yet. Press **Start training** below.")
    st.stop()
# Coming back (new tab, page reload): follow a run still going, else the newest.
run_id = run_status.shown_run_id(all_runs, st.session_state.get("run_id"))
try:
    run = run_info.load_run(run_id)
except TransferLabError as e:
    st.error(str(e))
    st.stop()
# The list was read a moment earlier: show this run's fresh status in it too.
all_runs = [run if r.run_id == run_id else r for r in all_runs]
labels = {r.run_id: run_status.label(r) for r in all_runs}
ids = list(labels)
picked = st.selectbox(
    "Run",
    ids,
    index=ids.index(run_id),
    format_func=labels.get,
    key=f"train_run_pick_{run_id}_{run.status}",
    help="Every training is kept; pick an earlier one to look at it again.",
)
if picked != run_id:
    st.session_state["run_id"] = picked
    st.rerun()
st.session_state["run_id"] = run_id

if run.active:
    live_training.follow(run_id, run.status)
else:
    st.subheader(run_results.status_line(run))
    run_results.failure_help(run)
    evts = run_status.events(run_id)
    from tlcore.results import plots

    metrics = run_files.read_metrics(run_id)
    head = (metrics or {}).get("head_solver") or run_status.last_of(evts, "head")
    if head and run_results.solved_only(evts):
        run_results.solved_head_view(head, (metrics or {}).get("fold_accuracies"))
    elif plots.epoch_points(evts):
        st.plotly_chart(plots.training_curves_figure(evts), key="curves_done")
    if st.button(
        "Use this run's data and settings again",
        key="reuse_run",
        icon=":material/replay:",
        help="Fills in the Data and Model pages with what "
        "this run used, e.g. to train again with one thing changed.",
    ):
        model_config.apply_config(run.config)
        st.session_state["data_path"] = run.config.data
        st.session_state["val_percent"] = round(run.config.split.val_fraction * 100)
        st.session_state["test_percent"] = round(run.config.split.test_fraction * 100)
        st.session_state["split_by_hand"] = True  # the run's split, as it was
        st.session_state["split_seed"] = run.config.split.seed
        st.switch_page("pages/model.py")
    if metrics:
        run_results.metrics_view(metrics, key=run_id, run_id=run_id)
        st.page_link(
            "pages/predict.py",
            label="Next: try it on new images",
            icon=":material/arrow_forward:",
        )
    elif run.status in ("finished", "stopped"):
        st.info("No evaluation was saved for this run.")
