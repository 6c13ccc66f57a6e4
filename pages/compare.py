"""Compare page: train several freezing strategies on the same split and see them side by side."""

import streamlit as st

from tlcore.config import FreezeConfig
from tlcore.errors import TransferLabError
from tlcore.models.backbones import get_backbone
from tlcore.models.freezing import STRATEGIES, unavailable_reason
from tlcore.results import comparison, plots
from tlcore.results.verdict import verdict
from tlcore.runs import comparison_plan, run_files, run_info, worker
from tlcore.training.budget import DEFAULT_BUDGET_SECONDS
from ui import advice, compare_table, dataset, model_config, run_links, run_status, weights_choice
from ui.shell import page_setup

page_setup()

st.title("4 · Compare strategies")
st.markdown(
    "What does freezing more or fewer layers change? Tick a few strategies: they train one "
    "after another on **exactly the same images, split and seed**, with the settings from "
    "the Model page, so the only difference is what is frozen."
)


def _comparison_config(budget_seconds: float) -> tuple:
    """The comparison's shared config (small data: the same folds for every strategy),
    the dataset's report and a sentence on how the strategies are scored."""
    config = model_config.build_config().replace(budget_seconds=budget_seconds)
    report = dataset.current_report() if st.session_state.get("data_path") else None
    if report is None:
        return config, None, ""
    config, scoring = comparison_plan.paired_scoring(config, report)
    return config, report, scoring


def _budget_preview(choices: dict[str, FreezeConfig], budget_seconds: float) -> bool:
    """Show the total and each strategy's epochs under the budget; True if it fits none."""
    if not choices:
        return False
    try:
        config, report, scoring = _comparison_config(budget_seconds)
        if report is None:
            return False
        plans = comparison_plan.preview(config, list(choices.values()), list(choices), report)
        st.caption(comparison_plan.total_sentence(config, plans) + " " + scoring)
        for plan in plans:
            st.caption(plan.sentence)
        comparison_plan.check_fits(plans)
    except TransferLabError as e:
        st.error(str(e))
        return True
    return False


def _start_label(n: int) -> str:
    """The start button says what it will do: one strategy is trained, not compared."""
    if n == 1:
        return "▶️ Train 1 strategy"
    return f"▶️ Train and compare {n} strategies" if n else "▶️ Train and compare"


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
    budget_minutes = st.number_input(
        "Time budget per strategy (minutes)",
        min_value=0.25,
        max_value=600.0,
        value=DEFAULT_BUDGET_SECONDS / 60,
        step=0.5,
        key="cmp_budget",
        help="Each strategy trains the epochs that fit, then ends with its best epoch.",
    )
    budget_error = _budget_preview(choices, budget_minutes * 60)
    if len(choices) == 1:
        st.caption(
            ":material/info: Only one strategy is ticked: it trains on its own. Tick at "
            "least two to see them side by side."
        )
    if st.button(
        _start_label(len(choices)),
        type="primary",
        key="start_compare",
        disabled=budget_error,
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
                        _comparison_config(budget_minutes * 60)[0],
                        list(choices.values()),
                        list(choices),
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
    shown = list(reversed(run_info.list_runs(group=group))) if group else []
    return shown + [run_info.load_run(i) for i in extra]


def _name(run) -> str:
    # Runs of this comparison are named by their strategy; a run added from elsewhere by
    # the name it was given, else by what it is and when (two lines must not share a name).
    if run.group == group or (run.group is None and run.name):
        return run.name or run_status.title(run)
    return f"{run_status.title(run)} · {run_status.when(run)}"


def _status(run: run_info.RunInfo, row: dict) -> str:
    if run.status == "running":
        return "training — " + run_status.short_progress(run)
    if run.status == "queued":
        return "waiting"
    return row["status"]


def _controls(shown: list, names: dict[str, str]) -> None:
    """Which strategy trains and which wait, and Stop for one run or the whole comparison."""
    active = [r for r in shown if r.active]
    if not active:
        return
    training = [names[r.run_id] for r in active if r.status == "running"]
    waiting = [names[r.run_id] for r in active if r.status == "queued"]
    st.info(
        ("Training: **" + "**, **".join(training) + "**" if training else "Starting…")
        + (" · waiting: " + ", ".join(waiting) if waiting else "")
    )
    cols = st.columns(len(active) + 1)
    if cols[0].button("Stop the comparison", key="cmp_stop_all", icon=":material/stop:"):
        for r in active:
            worker.request_stop(r.run_id)
        st.rerun()
    for col, r in zip(cols[1:], active, strict=True):
        if col.button(f"Stop {names[r.run_id]}", key=f"cmp_stop_{r.run_id}"):
            worker.request_stop(r.run_id)
            st.rerun()


def _view(polling: bool) -> None:
    shown = _runs_shown()
    if not shown:
        st.info("Pick a comparison or add runs above.")
        return
    active = [r for r in shown if r.active]
    if polling and not active:
        st.rerun()  # all done: redraw the page once, without the timer
    names = {r.run_id: _name(r) for r in shown}
    result = comparison.report(shown)
    rows = {r["run_id"]: {**r, "name": names[r["run_id"]]} for r in result["runs"]}
    if any(r["accuracy"] is not None for r in rows.values()):
        st.success(f"**Verdict:** {verdict(list(rows.values()))}")
    _controls(shown, names)
    axis = st.radio(
        "Curves by", ["epoch", "seconds"], horizontal=True, key="cmp_axis",
        help="Seconds put runs that train at different speeds on one axis.",
    )  # fmt: skip
    levels = {names[i]: r["accuracy"] for i, r in rows.items() if r["accuracy"] is not None}
    st.plotly_chart(
        plots.comparison_figure(
            {names[r.run_id]: run_status.events(r.run_id) for r in shown},
            axis,
            levels,
            {names[i]: compare_table.measured_on(r) for i, r in rows.items()},
        )
    )  # no key: redraws live
    by_id = {r.run_id: r for r in shown}
    ranked = comparison.ranked(list(rows.values()))
    st.dataframe(
        compare_table.table(ranked, lambda t: _status(by_id[t["run_id"]], t)),
        hide_index=True,
    )
    st.caption(
        "Sorted by the verdict, best first. The interval is where the accuracy would "
        "probably land on other images like these: on a few test images it is wide."
    )
    cols = st.columns(min(len(ranked), 4))
    for i, t in enumerate(ranked):
        with cols[i % len(cols)]:
            run_links.open_on_train_page(
                by_id[t["run_id"]], f"Open {t['name']}", key=f"cmp_open_{t['run_id']}"
            )
    for r in shown:
        if r.status == "failed":
            st.error(
                f"**{names[r.run_id]}** failed: "
                + (r.error or "the training stopped with an error; see its log.")
            )
    done = [(r, run_files.read_metrics(r.run_id)) for r in shown if not r.active]
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


any_active = any(r.active for r in _runs_shown())
st.fragment(run_every=2.0 if any_active else None)(_view)(any_active)
