"""Model and Train pages (AppTest): what you choose is what runs.

A recipe is shown with its own values, stays named only while unchanged, and leaves
nothing behind: a session that applies each recipe and then goes back to the defaults
starts a run whose spec.json equals a fresh session's. Runs are created for real (their
folders and spec.json); the background worker is not started (``no_worker``), since what
is tested is what the run is told to do.
"""

from pathlib import Path

import pytest
from app_helpers import app, texts, wk

from tlcore.runs import run_files, worker
from tlcore.training.recipes import OFFLINE_RECIPES, RECIPES


@pytest.fixture
def no_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker, "_queue_or_fail", lambda infos: None)


def _start(at) -> dict:
    at.switch_page("pages/train.py").run()
    assert not at.exception, at.exception
    at.button(key="start_train").click().run()
    assert not at.exception, at.exception
    spec = run_files.read_spec(at.session_state["run_id"])
    return {k: spec[k] for k in ("config", "split", "unused", "defaults")}


def _apply(at, key: str) -> str:
    """Pick recipe ``key`` on the Model page as a person would; return the key applied
    (its offline twin when its network's weights are not on this computer)."""
    at.switch_page("pages/model.py").run()
    at.selectbox(key="recipe_pick").set_value(key).run()
    offline = [b for b in at.button if b.key == "recipe_offline"]
    if offline:
        assert "downloads its ImageNet weights first" in texts(at)
        offline[0].click().run()
        return f"{key}_lite0"
    at.button(key="recipe_apply").click().run()
    return key


@pytest.mark.slow
def test_each_recipe_then_the_defaults_runs_like_a_fresh_session(
    tiny_dataset: Path, no_worker: None
) -> None:
    fresh = _start(app("data", data_path=str(tiny_dataset)))
    assert fresh["config"]["recipe"] == "" and fresh["config"]["auto_defaults"] is False
    at = app("data", data_path=str(tiny_dataset))
    for key in RECIPES:
        applied = _apply(at, key)
        assert not at.exception, at.exception
        assert at.session_state["recipe"] == applied
        success = [s.value for s in at.success]
        assert any(
            f"Recipe: {(RECIPES | OFFLINE_RECIPES)[applied].display_name}" in s for s in success
        )
        spec = _start(at)
        assert spec["config"]["recipe"] == applied
        at.switch_page("pages/model.py").run()
        at.button(key="defaults_reset").click().run()
        assert not at.exception
        assert _start(at) == fresh, f"leftovers after {applied}"


@pytest.mark.slow
def test_changing_a_recipe_setting_says_it_is_no_longer_the_recipe(
    tiny_dataset: Path, no_worker: None
) -> None:
    at = app("data", data_path=str(tiny_dataset))
    _apply(at, "small_cnn_scratch")
    at.toggle(key=wk(at, "set_auto")).set_value(False).run()  # already off: the recipe set it
    at.number_input(key=wk(at, "set_epochs")).set_value(7).run()
    assert not at.exception
    warning = " ".join(w.value for w in at.warning)
    assert "No longer the recipe “Small CNN from scratch”" in warning
    assert "epochs in all" in warning
    spec = _start(at)
    assert spec["config"]["recipe"] == "" and spec["config"]["epochs"] == 7
    assert spec["config"]["optimizer"] == "rmsprop"  # the rest is kept as shown


@pytest.mark.slow
def test_switching_network_leaves_the_recipe_and_says_what_was_reset(
    tiny_dataset: Path, no_worker: None
) -> None:
    at = app("data", data_path=str(tiny_dataset))
    assert _apply(at, "xception_two_phase") == "xception_two_phase_lite0"
    at.selectbox(key=wk(at, "_w_backbone")).set_value("small_cnn").run()
    assert not at.exception
    notice = " ".join(i.value for i in at.info)
    assert "no longer the recipe “Xception two-phase, on EfficientNet-Lite0 (offline)”" in notice
    spec = _start(at)["config"]
    assert spec["recipe"] == "" and spec["two_phase"] is False
    assert spec["fine_tune_learning_rate"] == 1e-5 and spec["head_epochs"] == 2
    assert spec["augment"] == {}


def test_the_tutorials_layer_index_is_shown_not_rounded_to_a_block(tiny_dataset: Path) -> None:
    at = app(
        "model",
        data_path=str(tiny_dataset),
        backbone="mobilenet_v2",
        weights="none",
        strategy="fine-tune",
        unfreeze_from="100",
        batchnorm_scale_trains=True,
        training={"image_size": 96},
    )
    assert not at.exception, at.exception
    pick = at.selectbox(key=wk(at, "unfreeze_block"))
    assert pick.value == "100"
    assert "layer 100 (block_11_expand_relu) and up" in pick.options
    layers = {m.label: m.value for m in at.metric}["Layers that train"]
    assert layers == "54 of 154"  # base_model.layers[100:], as the TensorFlow tutorial
    assert at.session_state["unfreeze_from"] == "100"


def test_the_run_names_the_unused_settings_the_train_page_listed(
    tiny_dataset: Path, no_worker: None
) -> None:
    from tlcore.training.run_summary import _readable

    at = app("train", data_path=str(tiny_dataset))
    (line,) = [x for x in texts(at).splitlines() if "not used by this run: " in x]
    shown = line.split("not used by this run: ")[1].strip()
    spec = _start(at)
    # The defaults set patience and a schedule a solved head does not use; the run folder
    # names those same settings (it named "epochs", settle's own value, before).
    assert shown == ", ".join(_readable(n) for n in spec["unused"])
    assert "epochs" not in spec["unused"]
