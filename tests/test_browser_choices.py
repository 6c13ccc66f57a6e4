"""Real browser: a bookmark works as the first request, and what you choose is what runs.

1. A fresh server's very first request is a deep link to the Model page: it shows the
   Model page with the app's sidebar and the choices restored from the workspace.
2. A recipe applied, then left by choosing another strategy: the page says what was
   reset; the Train page's "This run will…" lists the settings; the run trains, and its
   spec.json holds exactly those settings.
"""

import json
import re
from pathlib import Path

import pytest
from test_browser import ARGS, CHROMIUM, _go, _pick, _settled, server  # noqa: F401

from tlcore.runs import run_files, run_info

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(420)]


@pytest.fixture
def saved_choices(workspace: Path, tiny_dataset: Path) -> Path:
    """A workspace whose last session had chosen the tiny dataset (before the server)."""
    workspace.mkdir(parents=True, exist_ok=True)
    choices = {"data_path": str(tiny_dataset), "backbone": "efficientnet_lite0"}
    (workspace / "last_choices.json").write_text(json.dumps({"version": 1, "choices": choices}))
    return tiny_dataset


def test_a_bookmark_then_a_recipe_left_then_a_run(
    saved_choices: Path,
    server: str,  # noqa: F811 - the fixture imported above
    workspace: Path,
) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 2000})
        page.set_default_timeout(60_000)

        # 1. The first request after the start is the bookmark to the Model page.
        page.goto(f"{server}/model")
        page.get_by_role("heading", name="2 · Your model").first.wait_for()
        sidebar = page.get_by_test_id("stSidebar")
        sidebar.get_by_text("Your choices so far").wait_for()
        sidebar.get_by_text(saved_choices.name).first.wait_for()  # restored dataset
        nav = page.get_by_test_id("stSidebarNav")
        assert nav.get_by_text("3 · Train").count() == 1  # the app's own navigation

        # 2. A recipe whose network would download: said on picking, the offline twin used.
        page.get_by_text("Layers that train").wait_for()
        _pick(page, "Recipe", "Xception two-phase")
        page.get_by_text(re.compile("downloads its ImageNet weights first")).wait_for()
        _settled(page)
        page.get_by_text("Use it on EfficientNet-Lite0 (offline)").click()
        page.get_by_text(re.compile("Recipe: Xception two-phase, on EfficientNet-Lite0")).wait_for()
        _settled(page)
        # What the Train page will run is the recipe (a stale radio value in the browser
        # once undid it on the next click).
        _go(page, "3 · Train", "3 · Train")
        page.get_by_text("This run will…").wait_for()
        page.get_by_text(re.compile("^train the head alone for 20 epochs")).wait_for()
        page.get_by_text("every layer of the network trains", exact=False).first.wait_for()
        _go(page, "2 · Model", "2 · Your model")
        page.get_by_text(re.compile("Recipe: Xception two-phase, on EfficientNet-Lite0")).wait_for()
        page.get_by_text("Layers that train").wait_for()
        _settled(page)
        # Leave it: feature extraction instead of a full fine-tune.
        page.get_by_test_id("stRadio").get_by_text("Feature extraction").first.click()
        page.get_by_text(re.compile("so this is no longer the recipe")).wait_for()
        _settled(page)

        # 3. Train: the summary says what will run; start it; it finishes.
        _go(page, "3 · Train", "3 · Train")
        page.get_by_text("This run will…").wait_for()
        summary = page.get_by_test_id("stMarkdown").filter(has_text="This run will").first
        lines = summary.inner_text()
        assert "the whole network stays frozen" in lines
        assert "two phases" not in lines.lower() and "then the chosen layers" not in lines
        page.get_by_role("button", name=re.compile("Start training")).click()
        page.get_by_role("heading", name=re.compile("Finished")).wait_for(timeout=300_000)
        browser.close()

    (run,) = run_info.list_runs()
    spec = run_files.read_spec(run.run_id)
    config = spec["config"]
    assert config["recipe"] == "" and config["two_phase"] is False
    assert config["freeze"]["strategy"] == "feature-extraction"
    assert config["backbone"] == "efficientnet_lite0" and config["augment"] == {}
    counts = {part: len(spec["split"][part]) for part in ("train", "val", "test")}
    if config["cross_validate"]:
        assert f"{config['cv_folds']}-fold cross-validation on all {sum(counts.values())}" in lines
    else:
        assert f"learn from {counts['train']} images" in lines
    if config["solve_head"]:
        assert "solve the head exactly" in lines
