"""Plotly figures for the app: plain data in, ``go.Figure`` out.

Pure functions, so they are unit-tested without a browser and reused by any page. The
training curves are built from the run's ``events.jsonl`` records (see ``tlcore.training.events``):
epoch records give the solid per-epoch lines, batch records the thin, lighter line that
moves while an epoch is still running.
"""

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

# A calm palette that stays readable for the common colour-vision deficiencies (Okabe-Ito).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
TRAIN_COLOUR, VAL_COLOUR = PALETTE[0], PALETTE[1]
_LAYOUT = {"template": "plotly_white", "margin": {"l": 40, "r": 20, "t": 50, "b": 40}}


def colour(i: int) -> str:
    """Return the i-th colour of the palette (wrapping around)."""
    return PALETTE[i % len(PALETTE)]


def class_counts_figure(counts: Mapping[str, int], title: str = "Images per class") -> go.Figure:
    """Bar chart of how many images each class has, in the given order."""
    names, values = list(counts), [int(v) for v in counts.values()]
    fig = go.Figure(
        go.Bar(
            x=names,
            y=values,
            text=values,
            textposition="auto",
            marker_color=PALETTE[0],
            hovertemplate="%{x}: %{y} images<extra></extra>",
        )
    )
    fig.update_layout(title=title, xaxis_title="class", yaxis_title="images", height=320, **_LAYOUT)
    return fig


def split_counts_figure(counts: Mapping[str, Mapping[str, int]]) -> go.Figure:
    """Stacked bars of images per class in each part of the split.

    Args:
        counts: ``{"train": {class: n}, "val": {...}, "test": {...}}``; empty parts skipped.
    """
    fig = go.Figure()
    for i, (part, per_class) in enumerate(counts.items()):
        if sum(per_class.values()) == 0:
            continue
        fig.add_bar(
            name=part, x=list(per_class), y=list(per_class.values()), marker_color=colour(i)
        )
    fig.update_layout(
        barmode="stack",
        title="The split",
        xaxis_title="class",
        yaxis_title="images",
        height=320,
        **_LAYOUT,
    )
    return fig


def epoch_points(events: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per-epoch records with a running x position (1, 2, 3, ... across phases).

    Two-phase runs number epochs per phase; counting epoch records instead keeps the x
    axis continuous.
    """
    points = []
    for e in events:
        if e.get("type") == "epoch":
            points.append({**e, "x": len(points) + 1})
    return points


def batch_points(events: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per-batch records with a fractional x position (epoch 1 spans 0..1, and so on)."""
    points, done = [], 0
    for e in events:
        if e.get("type") == "epoch":
            done += 1
        elif e.get("type") == "batch" and e.get("batches"):
            points.append({**e, "x": done + e["batch"] / e["batches"]})
    return points


def _phase_starts(points: Sequence[Mapping[str, Any]]) -> list[tuple[float, str]]:
    """x positions where the phase changes (for a dotted marker line)."""
    starts, last = [], None
    for p in points:
        phase = p.get("phase")
        if last is not None and phase != last:
            starts.append((p["x"] - 0.5, str(phase)))
        last = phase
    return starts


def training_curves_figure(
    events: Sequence[Mapping[str, Any]], title: str = "Training curves"
) -> go.Figure:
    """Loss and accuracy side by side: training and validation per epoch, batches lighter."""
    epochs, batches = epoch_points(events), batch_points(events)
    fig = make_subplots(
        rows=1, cols=2, subplot_titles=("Loss (lower is better)", "Accuracy (higher is better)")
    )
    for col, metric in ((1, "loss"), (2, "accuracy")):
        show = col == 1
        fig.add_scatter(
            x=[b["x"] for b in batches],
            y=[b.get(metric) for b in batches],
            mode="lines",
            name="training (each batch)",
            legendgroup="batch",
            showlegend=show,
            line={"color": TRAIN_COLOUR, "width": 1},
            opacity=0.35,
            row=1,
            col=col,
        )
        fig.add_scatter(
            x=[p["x"] for p in epochs],
            y=[p.get(metric) for p in epochs],
            mode="lines+markers",
            name="training",
            legendgroup="train",
            showlegend=show,
            line={"color": TRAIN_COLOUR, "width": 3},
            row=1,
            col=col,
        )
        fig.add_scatter(
            x=[p["x"] for p in epochs],
            y=[p.get(f"val_{metric}") for p in epochs],
            mode="lines+markers",
            name="validation",
            legendgroup="val",
            showlegend=show,
            line={"color": VAL_COLOUR, "width": 3},
            row=1,
            col=col,
        )
    for x, phase in _phase_starts(epochs):
        fig.add_vline(
            x=x,
            line_dash="dot",
            line_color="grey",
            annotation_text=f"phase: {phase}",
            annotation_position="top left",
        )
    fig.update_xaxes(title_text="epoch", rangemode="tozero")
    fig.update_yaxes(range=[0, 1.02], row=1, col=2)
    fig.update_layout(title=title, legend={"orientation": "h", "y": -0.2}, **_LAYOUT)
    return fig


def _solved_only(events: Sequence[Mapping[str, Any]]) -> bool:
    """A run whose only epoch is a solved head (feature extraction): one point, no curve."""
    phases = [e for e in events if e.get("type") == "phase"]
    return bool(phases) and all(p.get("head_solver") for p in phases)


def _has_val(points: Sequence[Mapping[str, Any]]) -> bool:
    """The run measured validation images (a cross-validated run has none)."""
    return any(p.get("val_loss") is not None or p.get("val_accuracy") is not None for p in points)


def _panel_titles(with_val: int, without_val: int) -> tuple[tuple[str, str], str]:
    """Subplot titles and the figure title for what is drawn: validation and/or training."""
    if without_val and not with_val:
        return ("Training loss", "Training accuracy"), (
            "Training curves (no validation images: accuracy is cross-validated, see the table)"
        )
    if with_val and not without_val:
        return ("Validation loss", "Validation accuracy"), (
            "Strategies compared (solid: validation, dotted: training)"
        )
    return ("Loss", "Accuracy"), (
        "Strategies compared (solid: validation, dotted: training; runs without "
        "validation images show training only, their accuracy is in the table)"
    )


def comparison_figure(
    runs: Mapping[str, Sequence[Mapping[str, Any]]],
    axis: str = "epoch",
    levels: Mapping[str, float] | None = None,
    measured_on: Mapping[str, str] | None = None,
) -> go.Figure:
    """Several runs' validation (solid) and training (dotted) curves, one colour per run.

    What is drawn is what the titles and legend say: a run without validation images
    (cross-validated) has only its dotted training line, named as such in the legend, and
    when no run has validation the panels are titled "Training". A run whose head was
    solved (no epochs to plot) is one marker, not a curve, and with its score in
    ``levels`` a dashed level line across the accuracy panel.

    Args:
        runs: ``{label: events}`` in the order the legend should list them.
        axis: ``epoch`` (epoch number) or ``seconds`` (time since each run started), a
            common axis for runs that train at different speeds.
        levels: ``{label: accuracy}`` for solved heads (e.g. cross-validated).
        measured_on: ``{label: how}`` said with the level (``cross-validated``).
    """
    points = {label: epoch_points(events) for label, events in runs.items()}
    with_val = sum(1 for pts in points.values() if _has_val(pts))
    without_val = sum(1 for pts in points.values() if pts) - with_val
    panels, title = _panel_titles(with_val, without_val)
    fig = make_subplots(rows=1, cols=2, subplot_titles=panels)
    for i, (label, events) in enumerate(runs.items()):
        pts = points[label]
        xs = [p["x"] if axis == "epoch" else p.get("elapsed") for p in pts]
        solved = _solved_only(events)
        has_val = _has_val(pts)
        for col, metric in ((1, "loss"), (2, "accuracy")):
            legend = col == 1  # one legend entry per run, on the first trace drawn
            if has_val:
                fig.add_scatter(
                    x=xs,
                    y=[p.get(f"val_{metric}") for p in pts],
                    mode="markers" if solved else "lines+markers",
                    name=f"{label} (solved head)" if solved else label,
                    legendgroup=label,
                    showlegend=legend,
                    line={"color": colour(i), "width": 3},
                    marker={
                        "size": 14 if solved else 6,
                        "symbol": "diamond" if solved else "circle",
                    },
                    row=1,
                    col=col,
                )
                legend = False
                if solved:
                    continue
            if solved:  # one point on its own training images: a hollow marker, no line
                fig.add_scatter(
                    x=xs,
                    y=[p.get(metric) for p in pts],
                    mode="markers",
                    name=f"{label} (solved head, on its training images)",
                    legendgroup=label,
                    showlegend=legend,
                    marker={"size": 14, "symbol": "diamond-open", "color": colour(i)},
                    row=1,
                    col=col,
                )
                continue
            fig.add_scatter(
                x=xs,
                y=[p.get(metric) for p in pts],
                mode="lines",
                name=f"{label} (training)",
                legendgroup=label,
                showlegend=legend,
                line={"color": colour(i), "width": 1 if has_val else 2, "dash": "dot"},
                row=1,
                col=col,
            )
        if solved and levels and levels.get(label) is not None:
            fig.add_hline(
                y=float(levels[label]),
                line_dash="dash",
                line_color=colour(i),
                annotation_text=f"{label} (solved head"
                + (f", {measured_on[label]}" if measured_on and measured_on.get(label) else "")
                + f"): {float(levels[label]):.0%}",
                annotation_position="bottom right",
                row=1,
                col=2,
            )
    fig.update_xaxes(
        title_text="epoch" if axis == "epoch" else "seconds since the run started",
        rangemode="tozero",
    )
    fig.update_yaxes(range=[0, 1.02], row=1, col=2)
    fig.update_layout(title=title, legend={"orientation": "h", "y": -0.2}, **_LAYOUT)
    return fig


def confusion_matrix_figure(
    matrix: Sequence[Sequence[int]],
    classes: Sequence[str],
    title: str = "Confusion matrix",
    clickable: bool = False,
) -> go.Figure:
    """Heatmap: rows are the true class, columns the predicted class, cells the counts.

    Colour shows each cell's share of its row, so a small class's mistakes show as
    clearly as a big class's; the text shows the raw count. ``clickable`` lays an
    invisible marker on each cell: plotly selects markers when clicked (heatmap cells it
    does not), so ``st.plotly_chart(on_select=...)`` learns which cell was clicked from
    the point's ``x`` (predicted) and ``y`` (true class).
    """
    rows = [[int(v) for v in row] for row in matrix]
    shares = [[v / (sum(row) or 1) for v in row] for row in rows]
    hover = "true %{y}, predicted %{x}: %{text} images<extra></extra>"
    fig = go.Figure(
        go.Heatmap(
            z=shares,
            x=list(classes),
            y=list(classes),
            text=rows,
            texttemplate="%{text}",
            colorscale="Blues",
            zmin=0,
            zmax=1,
            showscale=False,
            hovertemplate=hover,
            hoverinfo="skip" if clickable else None,
        )
    )
    if clickable:
        cells = [(t, p) for t in range(len(classes)) for p in range(len(classes))]
        fig.add_trace(
            go.Scatter(
                x=[classes[p] for _, p in cells],
                y=[classes[t] for t, _ in cells],
                text=[rows[t][p] for t, p in cells],
                mode="markers",
                marker={"size": 36, "color": "rgba(0,0,0,0)", "symbol": "square"},
                selected={"marker": {"color": "rgba(240,160,40,0.55)"}},  # the opened cell
                hovertemplate=hover.replace("images<", "images (click to see them)<"),
                showlegend=False,
                name="cells",
            )
        )
        fig.update_layout(clickmode="event+select", dragmode=False)
    fig.update_yaxes(autorange="reversed", title_text="true class")
    fig.update_xaxes(title_text="predicted class", side="bottom")
    fig.update_layout(title=title, **_LAYOUT)
    return fig


def top_k_figure(top_k: Sequence[Mapping[str, Any]], title: str = "") -> go.Figure:
    """Horizontal bars of the top classes and their probabilities, the best on top.

    Args:
        top_k: ``[{"label": str, "probability": float}, ...]`` best first.
    """
    labels = [str(t["label"]) for t in top_k][::-1]
    probs = [float(t["probability"]) for t in top_k][::-1]
    fig = go.Figure(
        go.Bar(
            x=probs,
            y=labels,
            orientation="h",
            text=[f"{p:.0%}" for p in probs],
            textposition="auto",
            marker_color=[
                colour(0) if i == len(probs) - 1 else "#9bbbd0" for i in range(len(probs))
            ],
            hovertemplate="%{y}: %{x:.1%}<extra></extra>",
        )
    )
    fig.update_xaxes(range=[0, 1], tickformat=".0%")
    fig.update_layout(
        title=title,
        height=60 + 40 * max(1, len(labels)),
        **{**_LAYOUT, "margin": {"l": 10, "r": 10, "t": 30 if title else 10, "b": 10}},
    )
    return fig


def params_figure(trainable: int, frozen: int) -> go.Figure:
    """One stacked bar: how many parameters will train and how many stay frozen."""
    fig = go.Figure()
    fig.add_bar(
        y=["parameters"],
        x=[trainable],
        orientation="h",
        name="will train",
        marker_color=PALETTE[2],
        text=[f"{trainable:,}"],
        textposition="inside",
    )
    fig.add_bar(
        y=["parameters"],
        x=[frozen],
        orientation="h",
        name="frozen",
        marker_color="#b8c4cc",
        text=[f"{frozen:,}"],
        textposition="inside",
    )
    fig.update_layout(
        barmode="stack",
        height=140,
        showlegend=True,
        legend={"orientation": "h", "y": -0.4},
        **{**_LAYOUT, "margin": {"l": 10, "r": 10, "t": 10, "b": 10}},
    )
    fig.update_yaxes(showticklabels=False)
    return fig
