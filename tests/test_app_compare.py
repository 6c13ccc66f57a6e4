"""Compare page (AppTest): strategy ticks, a bad request, and the table of a group."""

from pathlib import Path

from app_helpers import app, errors, finished_run, texts


def test_renders_one_tick_per_preset() -> None:
    at = app("compare")
    assert not at.exception
    assert [c.label for c in at.checkbox] == [
        "Feature extraction", "Fine-tune the top", "Full fine-tune", "From scratch"]
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
