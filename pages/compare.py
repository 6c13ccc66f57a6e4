"""Compare page: train several freezing strategies on the same split and see them side by side."""

import streamlit as st

from tlcore.config import FreezeConfig
from tlcore.errors import TransferLabError
from tlcore.models.backbones import get_backbone
from tlcore.models.freezing import STRATEGIES, unavailable_reason
from tlcore.results import plots
from tlcore.runs import compare, store, worker
from ui import advice, model_config, run_status, weights_choice

st.title("4 · Compare strategies")
st.markdown(
    "What does freezing more or fewer layers change? Tick a few strategies: they train one "
    "after another on **exactly the same images, split and seed**, with the settings from "
    "the Model page, so the only difference is what is frozen."
)

# --- Choose and start ---------------------------------------------------------------------------
with st.container(border=True):
    s = st.session_state
    spec = get_backbone(s["backbone"])
    if not spec.pretrained and spec.key not in ("my_model", "keras_file"):
        st.warning(
            f"{spec.display_name} has no pretrained weights, so freezing its layers only "
            "keeps random ones. "
            + advice.pretrained_route(bool(weights_choice.finished_runs()))
            + " Then compare here what freezing does."
        )
    st.markdown(f"**Strategies to compare** with {spec.display_name}:")
    choices: dict[str, FreezeConfig] = {}
    for key, strat in STRATEGIES.items():
        if key == "custom":
            continue
        tick, why = st.columns([1, 3], vertical_alignment="center")
        reason = unavailable_reason(key, spec)
        if reason:
            # Shown, so the choice is visible, but it cannot be ticked: it would only fail.
            tick.checkbox(strat.display_name, value=False, disabled=True, key=f"cmp_{key}_off")
            why.caption(f":material/block: {reason}")
            continue
        freeze = FreezeConfig(
            strategy=key,
            unfreeze_from=s["unfreeze_from"]
            if key == "fine-tune" and s["strategy"] == "fine-tune"
            else None,
            train_batchnorm=bool(s["train_batchnorm"]),
        )
        if tick.checkbox(
            strat.display_name,
            value=key in ("feature-extraction", "fine-tune"),
            key=f"cmp_{key}",
        ):
            choices[strat.display_name] = freeze
        why.caption(strat.description)
    if s.get("frozen_layers") is not None:
        if st.checkbox(
            f"Your own selection from the Model page ({len(s['frozen_layers'])} layers frozen)",
            value=True,
            key="cmp_custom",
        ):
            choices["Custom"] = model_config.freeze_config()
    else:
        st.caption("Tip: edit the layer table on the Model page to add your own selection.")
    if st.button(
        f"▶️ Train and compare {len(choices)} strategies", type="primary", key="start_compare"
    ):
        if not s.get("data_path"):
            st.error("Choose your images on the Data page first.")
            st.page_link("pages/data.py", label="Go to 1 · Data", icon=":material/image:")
        elif not choices:
            st.error("Tick at least one strategy to compare.")
        else:
            try:
                with st.spinner("Preparing the runs (same split for all)…"):
                    s["compare_group"] = worker.start_comparison(
                        model_config.build_config(), list(choices.values()), list(choices)
                    )
            except TransferLabError as e:
                st.error(str(e))
            else:
                st.rerun()

# --- Which runs to show --------------------------------------------------------------------------
all_runs = run_status.list_runs()
groups = list(dict.fromkeys(r.group for r in all_runs if r.group))
if not groups and not all_runs:
    st.info("Nothing to compare yet: start a comparison above.")
    st.stop()
group = s.get("compare_group")
if group not in groups:
    group = groups[0] if groups else None
if groups:
    group = st.selectbox(
        "Comparison",
        groups,
        index=groups.index(group),
        key="cmp_group_pick",
        format_func=lambda g: run_status.group_label(g, all_runs),
    )
    s["compare_group"] = group
others = [r for r in all_runs if (group is None or r.group != group) and not r.active]
labels = {r.run_id: run_status.label(r) for r in others}
extra = st.multiselect(
    "Add other runs to the comparison",
    list(labels),
    default=[i for i in s["compare_extra"] if i in labels],
    format_func=labels.get,
    key="cmp_extra_pick",
)
s["compare_extra"] = extra


def _runs_shown() -> list:
    # Oldest first: the order they were ticked, which is the order they train in.
    shown = list(reversed(store.list_runs(group=group))) if group else []
    return shown + [store.load_run(i) for i in extra]


def _name(run) -> str:
    # Runs of this comparison are named by their strategy; a run added from elsewhere by
    # the name it was given, else by what it is and when (two lines must not share a name).
    if run.group == group or (run.group is None and run.name):
        return run.name or run_status.title(run)
    return f"{run_status.title(run)} · {run_status.when(run)}"


def _view(polling: bool) -> None:
    shown = _runs_shown()
    if not shown:
        st.info("Pick a comparison or add runs above.")
        return
    active = [r for r in shown if r.active]
    if polling and not active:
        st.rerun()  # all done: redraw the page once, without the timer
    names = {r.run_id: _name(r) for r in shown}
    if active:
        st.info(
            "Training: "
            + " · ".join(f"**{names[r.run_id]}** {run_status.short_progress(r)}" for r in active)
        )
    st.plotly_chart(
        plots.comparison_figure({names[r.run_id]: run_status.events(r.run_id) for r in shown})
    )  # no key: redraws live
    table = [compare.row(r) for r in shown]
    st.dataframe(
        [
            {
                "strategy": names[t["run_id"]],
                "status": t["status"],
                "trainable params": f"{t['trainable_params']:,}" if t["trainable_params"] else "",
                "epochs": t["epochs"],
                "best validation accuracy": _pct(t["best_val_accuracy"]),
                "test accuracy": _pct(t["test_accuracy"]),
                "time": run_status.duration(t["seconds"]) if t["seconds"] else "",
            }
            for t in table
        ],
        hide_index=True,
    )
    for r in shown:
        if r.status == "failed":
            st.error(
                f"**{names[r.run_id]}** failed: "
                + (r.error or "the training stopped with an error; see its log.")
            )
    done = [(r, store.read_metrics(r.run_id)) for r in shown if not r.active]
    done = [(r, m) for r, m in done if m and m.get("confusion_matrix")]
    if done:
        st.markdown("**Where each one goes wrong** (rows: true class, columns: predicted)")
        cols = st.columns(min(len(done), 4))
        for i, (r, m) in enumerate(done):
            cols[i % len(cols)].plotly_chart(
                plots.confusion_matrix_figure(
                    m["confusion_matrix"], m.get("classes") or [], title=names[r.run_id]
                ),
                key=f"cmp_cm_{r.run_id}",
            )
    st.caption(
        "Fewer trainable parameters train faster and need fewer images; more can "
        "adapt further but may memorise a small dataset."
    )


def _pct(v: float | None) -> str:
    return f"{v:.1%}" if v is not None else ""


any_active = any(r.active for r in _runs_shown())
st.fragment(run_every=2.0 if any_active else None)(_view)(any_active)
