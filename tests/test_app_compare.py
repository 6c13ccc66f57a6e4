"""Compare page (AppTest): strategy ticks, a bad request, and the table of a group."""

from pathlib import Path

from app_helpers import app, errors, finished_run, texts


def test_renders_one_tick_per_preset() -> None:
    at = app("compare")
    assert not at.exception
    assert [c.label for c in at.checkbox] == [
        "Feature extraction",
        "Fine-tune the top",
        "Full fine-tune",
        "From scratch",
    ]
    assert "Nothing to compare yet" in texts(at)


def test_nothing_ticked_is_an_error(tiny_dataset: Path) -> None:
    at = app("compare", data_path=str(tiny_dataset))
    for c in at.checkbox:
        c.uncheck()
    at.button(key="start_compare").click().run()
    assert not at.exception
    assert errors(at) == ["Tick at least one strategy to compare."]


def test_without_data_it_says_where_to_go() -> None:
    at = app("compare")
    at.button(key="start_compare").click().run()
    assert errors(at) == ["Choose your images on the Data page first."]


def test_finished_runs_can_be_added_to_the_table(tiny_dataset: Path) -> None:
    run_id = finished_run(tiny_dataset)
    at = app("compare", data_path=str(tiny_dataset), compare_extra=[run_id])
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table["strategy"]) == ["earlier"]
    assert list(table["best validation accuracy"]) == ["50.0%"]


def test_a_comparison_trains_each_strategy_and_fills_the_table(tiny_dataset: Path) -> None:
    import time

    from tlcore.runs import store

    at = app(
        "compare",
        data_path=str(tiny_dataset),
        backbone="small_cnn",
        weights="none",
        training={"image_size": 32, "epochs": 1, "batch_size": 8},
    )
    at.checkbox(key="cmp_fine-tune").uncheck()
    at.checkbox(key="cmp_full").check()
    at.checkbox(key="cmp_scratch").check()
    at.button(key="start_compare").click().run()
    assert not at.exception and errors(at) == []
    group = at.session_state["compare_group"]
    deadline = time.time() + 200
    while any(r.active for r in store.list_runs(group=group)) and time.time() < deadline:
        time.sleep(2)
    assert [r.status for r in store.list_runs(group=group)] == ["finished"] * 3
    at.run()
    table = at.dataframe[0].value
    assert list(table["strategy"]) == ["Feature extraction", "Full fine-tune", "From scratch"]
    assert set(table["status"]) == {"finished"}
