"""tlcore.results.plots: figures built from plain data, checked trace by trace."""

import plotly.graph_objects as go

from tlcore.results import plots


def _events(epochs: int = 2, batches: int = 2, phase: str = "train") -> list[dict]:
    out = []
    for e in range(1, epochs + 1):
        for b in range(1, batches + 1):
            out.append(
                {
                    "type": "batch",
                    "phase": phase,
                    "epoch": e,
                    "epochs": epochs,
                    "batch": b,
                    "batches": batches,
                    "loss": 1.0 / (e + b),
                    "accuracy": 0.1 * (e + b),
                }
            )
        out.append(
            {
                "type": "epoch",
                "phase": phase,
                "epoch": e,
                "epochs": epochs,
                "loss": 1.0 / e,
                "accuracy": 0.3 * e,
                "val_loss": 1.2 / e,
                "val_accuracy": 0.25 * e,
            }
        )
    return out


def test_class_counts_figure_keeps_order_and_values() -> None:
    fig = plots.class_counts_figure({"cat": 10, "dog": 3})
    assert isinstance(fig, go.Figure)
    assert list(fig.data[0].x) == ["cat", "dog"]
    assert list(fig.data[0].y) == [10, 3]


def test_split_counts_figure_skips_empty_parts() -> None:
    fig = plots.split_counts_figure(
        {"train": {"a": 5, "b": 4}, "val": {"a": 1, "b": 1}, "test": {"a": 0, "b": 0}}
    )
    assert [t.name for t in fig.data] == ["train", "val"]


def test_epoch_and_batch_points_have_continuous_x() -> None:
    events = _events(2, 2, "head") + _events(1, 2, "fine-tune")
    assert [p["x"] for p in plots.epoch_points(events)] == [1, 2, 3]
    assert [p["x"] for p in plots.batch_points(events)] == [0.5, 1.0, 1.5, 2.0, 2.5, 3.0]


def test_training_curves_figure_traces() -> None:
    fig = plots.training_curves_figure([{"type": "start"}, *_events(2, 3)])
    names = [t.name for t in fig.data]
    assert names == ["training (each batch)", "training", "validation"] * 2
    loss_train, loss_val = fig.data[1], fig.data[2]
    assert list(loss_train.x) == [1, 2] and list(loss_train.y) == [1.0, 0.5]
    assert list(loss_val.y) == [1.2, 0.6]
    acc_val = fig.data[5]
    assert list(acc_val.y) == [0.25, 0.5]
    assert len(fig.data[0].x) == 6  # every batch point
    assert fig.data[0].line.width < loss_train.line.width  # batches are thinner


def test_training_curves_marks_a_phase_change() -> None:
    fig = plots.training_curves_figure(_events(1, 1, "head") + _events(1, 1, "fine-tune"))
    # one dotted line in each of the two panels, between epoch 1 and 2
    assert [s.x0 for s in fig.layout.shapes] == [1.5, 1.5]


def test_training_curves_with_no_events_is_an_empty_chart() -> None:
    fig = plots.training_curves_figure([])
    assert all(len(t.x) == 0 for t in fig.data)


def test_comparison_figure_one_colour_per_run() -> None:
    fig = plots.comparison_figure({"frozen": _events(2), "full": _events(3)})
    legend = [t.name for t in fig.data if t.showlegend]
    assert legend == ["frozen", "full"]
    colours = {t.legendgroup: t.line.color for t in fig.data}
    assert colours["frozen"] != colours["full"]
    full_val_acc = [t for t in fig.data if t.name == "full"][1]
    assert list(full_val_acc.x) == [1, 2, 3]


def test_confusion_matrix_counts_and_row_shares() -> None:
    fig = plots.confusion_matrix_figure([[3, 1], [0, 4]], ["a", "b"])
    heat = fig.data[0]
    assert [list(r) for r in heat.text] == [[3, 1], [0, 4]]
    assert [list(r) for r in heat.z] == [[0.75, 0.25], [0.0, 1.0]]
    assert list(heat.x) == ["a", "b"] and list(heat.y) == ["a", "b"]


def test_confusion_matrix_with_an_empty_row_does_not_divide_by_zero() -> None:
    fig = plots.confusion_matrix_figure([[0, 0], [1, 1]], ["a", "b"])
    assert list(fig.data[0].z[0]) == [0.0, 0.0]


def test_top_k_figure_puts_best_on_top() -> None:
    fig = plots.top_k_figure(
        [{"label": "cat", "probability": 0.7}, {"label": "dog", "probability": 0.2}]
    )
    bar = fig.data[0]
    assert list(bar.y) == ["dog", "cat"]  # plotly draws the last bar on top
    assert list(bar.text) == ["20%", "70%"]


def test_params_figure() -> None:
    fig = plots.params_figure(1200, 34000)
    assert [t.name for t in fig.data] == ["will train", "frozen"]
    assert [t.x[0] for t in fig.data] == [1200, 34000]


def test_a_clickable_confusion_matrix_has_one_marker_per_cell() -> None:
    fig = plots.confusion_matrix_figure([[3, 1], [0, 4]], ["a", "b"], clickable=True)
    heat, cells = fig.data
    assert heat.hoverinfo == "skip" and cells.mode == "markers"
    # Row by row (x = predicted, y = true): a click's point index says which cell.
    assert list(zip(cells.y, cells.x, cells.text, strict=True)) == [
        ("a", "a", "3"),
        ("a", "b", "1"),
        ("b", "a", "0"),
        ("b", "b", "4"),
    ]
    assert fig.layout.clickmode == "event+select"
    assert len(plots.confusion_matrix_figure([[1]], ["a"]).data) == 1  # not clickable: heatmap only


def test_comparison_figure_shows_a_solved_head_as_a_marker_and_level_line() -> None:
    solved = [
        {"type": "phase", "phase": "head", "head_solver": True},
        {"type": "epoch", "phase": "head", "epoch": 1, "elapsed": 4.0, "val_loss": 0.5,
         "val_accuracy": 0.7, "loss": 0.4, "accuracy": 0.8},
    ]  # fmt: skip
    fig = plots.comparison_figure(
        {"Feature extraction": solved, "full": _events(3)}, levels={"Feature extraction": 0.68}
    )
    head = [t for t in fig.data if t.legendgroup == "Feature extraction"]
    assert [t.mode for t in head] == ["markers", "markers"]  # no curve, no training line
    assert head[0].name == "Feature extraction (solved head)"
    lines = [s for s in fig.layout.shapes if s.line.dash == "dash"]
    assert len(lines) == 1 and lines[0].y0 == lines[0].y1 == 0.68
    assert any("68%" in a.text for a in fig.layout.annotations)


def test_comparison_figure_on_a_common_axis_of_seconds() -> None:
    events = [
        {"type": "epoch", "epoch": e, "elapsed": 10.0 * e, "val_loss": 1.0, "val_accuracy": 0.5}
        for e in (1, 2, 3)
    ]
    fig = plots.comparison_figure({"run": events}, axis="seconds")
    assert list(fig.data[0].x) == [10.0, 20.0, 30.0]
    assert fig.layout.xaxis.title.text == "seconds since the run started"


def _cross_validated(epochs: int) -> list[dict]:
    """A cross-validated run's events: training loss/accuracy only, no validation images."""
    return [{k: v for k, v in e.items() if not k.startswith("val_")} for e in _events(epochs)]


def test_comparison_figure_without_validation_is_titled_and_drawn_as_training() -> None:
    # Cross-validated runs were titled "Validation loss" with a solid legend line while
    # only their dotted training line was drawn.
    fig = plots.comparison_figure({"frozen": _cross_validated(2), "full": _cross_validated(3)})
    titles = [a.text for a in fig.layout.annotations]
    assert titles[:2] == ["Training loss", "Training accuracy"]
    assert "no validation images" in fig.layout.title.text
    assert "cross-validated" in fig.layout.title.text
    # Only dotted training lines, and the legend shows exactly those (one per run).
    assert {t.line.dash for t in fig.data} == {"dot"}
    assert [t.name for t in fig.data if t.showlegend] == ["frozen (training)", "full (training)"]


def test_comparison_figure_with_validation_says_solid_and_dotted() -> None:
    fig = plots.comparison_figure({"frozen": _events(2)})
    titles = [a.text for a in fig.layout.annotations][:2]
    assert titles == ["Validation loss", "Validation accuracy"]
    assert "solid: validation, dotted: training" in fig.layout.title.text
    legend = [t for t in fig.data if t.showlegend]
    assert [(t.name, t.line.dash) for t in legend] == [("frozen", None)]


def test_comparison_figure_a_cross_validated_solved_head_is_one_training_point() -> None:
    solved = [
        {"type": "phase", "phase": "head", "head_solver": True},
        {"type": "epoch", "phase": "head", "epoch": 1, "loss": 0.4, "accuracy": 0.9},
    ]
    fig = plots.comparison_figure(
        {"Feature extraction": solved, "full": _cross_validated(3)},
        levels={"Feature extraction": 0.7},
        measured_on={"Feature extraction": "cross-validated"},
    )
    head = [t for t in fig.data if t.legendgroup == "Feature extraction"]
    assert [t.mode for t in head] == ["markers", "markers"]
    assert [list(t.y) for t in head] == [[0.4], [0.9]]  # what was measured: training images
    assert head[0].name == "Feature extraction (solved head, on its training images)"
    assert [a.text for a in fig.layout.annotations][:2] == ["Training loss", "Training accuracy"]
    assert "Feature extraction (solved head, cross-validated): 70%" in [
        a.text for a in fig.layout.annotations
    ]
