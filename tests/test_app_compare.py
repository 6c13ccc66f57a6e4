"""Compare page (AppTest): strategy ticks, a bad request, and the table of a group."""

from pathlib import Path

from app_helpers import app, errors, finished_run, texts

from tlcore.models.backbones import BACKBONES
from tlcore.runs import store


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


def test_from_scratch_cannot_be_ticked_with_one_of_my_models_and_says_why(
    tiny_dataset: Path,
) -> None:
    run_id = finished_run(tiny_dataset)
    at = app("compare", data_path=str(tiny_dataset), backbone="my_model", weights=f"run:{run_id}")
    assert not at.exception
    boxes = {c.label: c for c in at.checkbox}
    assert boxes["From scratch"].disabled and not boxes["From scratch"].value
    assert not boxes["Feature extraction"].disabled
    assert "Not possible with One of my models: From scratch starts from random weights" in texts(
        at
    )


def test_a_failed_run_shows_its_reason_on_the_page(tiny_dataset: Path) -> None:
    run_id = finished_run(tiny_dataset, status="failed", error="The images ran out.")
    at = app("compare", data_path=str(tiny_dataset), compare_extra=[run_id])
    assert not at.exception
    assert errors(at) == ["**earlier** failed: The images ran out."]


def test_without_pretrained_weights_the_advice_names_what_works_here(tiny_dataset: Path) -> None:
    at = app("compare", data_path=str(tiny_dataset), backbone="small_cnn", weights="none")
    warning = " ".join(w.value for w in at.warning)
    assert "has no pretrained weights" in warning
    ready = [b for b in BACKBONES.values() if getattr(b, "bundled_weights", False)]
    if ready:  # a network installed with its weights: named, as working offline
        assert f"**{ready[0].display_name}**" in warning and "offline" in warning
    else:
        assert "(e.g. **MobileNetV2**)" in warning and "needs internet" in warning
    assert "One of my models" not in warning  # there is none yet
    (store.run_path(finished_run(tiny_dataset)) / "model.keras").write_bytes(b"")
    at.run()
    assert "Or choose **One of my models**" in " ".join(w.value for w in at.warning)
