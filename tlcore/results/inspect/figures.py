"""The dataset map as a Plotly figure: plain points in, ``go.Figure`` out (no browser
needed to test it). One trace per class in the app's palette; suspected label mistakes
drawn again on top as open black rings, so they stand out whatever their class colour."""

import os
from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go

from tlcore.results.plots import _LAYOUT, colour

SUSPECT = "suspected mistake"


def map_figure(
    points: Sequence[Mapping[str, Any]], classes: Sequence[str], title: str, height: int = 420
) -> go.Figure:
    """Scatter of ``points`` ({path, x, y, label, suspect?}); hover names the file and its
    class; each point's ``customdata`` is its path (what a click selects).

    Args:
        points: the map (``InspectReport.map`` or ``map_after``).
        classes: every class in order, so a class keeps its colour across figures.
        title: the figure title.
        height: pixels.
    """
    fig = go.Figure()
    order = list(classes) + sorted({p["label"] for p in points} - set(classes))
    for i, name in enumerate(order):
        mine = [p for p in points if p["label"] == name]
        if not mine:
            continue
        fig.add_scatter(
            x=[p["x"] for p in mine],
            y=[p["y"] for p in mine],
            mode="markers",
            name=name,
            marker={"color": colour(i), "size": 8, "opacity": 0.85},
            customdata=[p["path"] for p in mine],
            text=[os.path.basename(p["path"]) for p in mine],
            hovertemplate=f"%{{text}}<br>folder: {name}<extra></extra>",
        )
    suspects = [p for p in points if p.get("suspect")]
    if suspects:
        fig.add_scatter(
            x=[p["x"] for p in suspects],
            y=[p["y"] for p in suspects],
            mode="markers",
            name=SUSPECT,
            marker={"symbol": "circle-open", "size": 16, "color": "#000000", "line": {"width": 2}},
            customdata=[p["path"] for p in suspects],
            text=[os.path.basename(p["path"]) for p in suspects],
            hovertemplate="%{text}<br>label doubted<extra></extra>",
        )
    axis = {"showticklabels": False, "zeroline": False, "showgrid": False, "title": ""}
    fig.update_layout(title=title, height=height, xaxis=axis, yaxis=axis, **_LAYOUT)
    fig.update_layout(legend={"orientation": "h", "y": -0.05}, clickmode="event+select")
    return fig
