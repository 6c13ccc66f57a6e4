"""One real-browser journey: demo data -> measure the strategy -> Small CNN -> train 2
epochs live -> open a confusion-matrix cell -> reload (choices kept) -> one of my models at
its own size -> Compare (an impossible strategy disabled, with why) -> predict a bad file
among good ones.

Starts ``streamlit run app.py`` headless on a free port with its own workspace and drives
it with Playwright in Debian's Chromium. Screenshots of every page go to
``tests/_screenshots/`` (the README's come from there). Skipped when Chromium is missing,
except in CI (``CI=true``), where that is a failure.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parent / "_screenshots"
ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# Defaults keep the journey small and fast; the README's screenshots come from a longer
# run of the same journey (e.g. JOURNEY_EPOCHS=12 JOURNEY_DEMO_PER_CLASS=60 JOURNEY_DEMO_SIZE=96
# JOURNEY_LIVE_EPOCH=8).
EPOCHS = int(os.environ.get("JOURNEY_EPOCHS", "2"))
DEMO_PER_CLASS = os.environ.get("JOURNEY_DEMO_PER_CLASS", "24")
DEMO_SIZE = os.environ.get("JOURNEY_DEMO_SIZE", "48")
LIVE_EPOCH = os.environ.get("JOURNEY_LIVE_EPOCH", r"\d+")  # when the live screenshot is taken

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(420)]


def _need_browser() -> None:
    if Path(CHROMIUM).exists():
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package (.ci/run does).")
    pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium) - browser journey skipped.")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(workspace: Path, tmp_path: Path):
    """The app, running as a person would start it, on a free port."""
    _need_browser()
    port = _free_port()
    env = dict(
        os.environ,
        TRANSFERLAB_HOME=str(workspace),
        TRANSFERLAB_DEMO_PER_CLASS=DEMO_PER_CLASS,
        TRANSFERLAB_DEMO_SIZE=DEMO_SIZE,
        TF_CPP_MIN_LOG_LEVEL="2",
    )
    log = open(tmp_path / "streamlit.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "app.py",
            "--server.headless",
            "true",
            "--server.port",
            str(port),
            "--browser.gatherUsageStats",
            "false",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("streamlit did not start: " + (tmp_path / "streamlit.log").read_text())
    yield url
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def _settled(page) -> None:
    """Wait until the script run is over (Streamlit's own status widget is hidden by
    ``toolbarMode = "minimal"``, so read the app's script state instead)."""
    page.wait_for_function(
        """() => {
            const app = document.querySelector('[data-testid="stApp"]');
            return app && app.getAttribute('data-test-script-state') === 'notRunning';
        }""",
        timeout=60_000,
    )


def _shot(page, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    _settled(page)
    page.wait_for_timeout(800)  # images and charts finish drawing
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _go(page, nav: str, heading: str) -> None:
    page.get_by_test_id("stSidebarNav").get_by_text(nav).click()
    page.get_by_role("heading", name=heading).first.wait_for()


def _pick(page, label: str, option: str) -> None:
    box = page.get_by_test_id("stSelectbox").filter(has_text=label).first
    box.click()
    page.get_by_role("option", name=option).click()


def _metric(page, label: str) -> str:
    return page.get_by_test_id("stMetric").filter(has_text=label).first.inner_text()


def _live_shot(page) -> None:
    """A screenshot while training runs, if the run is slow enough to catch it."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        pattern = re.compile(rf"Epoch {LIVE_EPOCH} of \d+ · batch")
        page.get_by_text(pattern).first.wait_for(timeout=60_000)
        page.wait_for_timeout(1500)
        SHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SHOTS / "3-train-live.png"), full_page=True)
    except PlaywrightTimeout:
        pass  # finished before a batch was shown: nothing live to capture


def _epoch_points(page) -> int:
    """How many per-epoch points the training curve shows (0 when no chart yet)."""
    return page.evaluate("""() => {
        let n = 0;
        for (const el of document.querySelectorAll('.js-plotly-plot')) {
            for (const t of (el.data || [])) {
                if (t.name === 'training' && t.x) n = Math.max(n, t.x.length);
            }
        }
        return n;
    }""")


def _click_confusion_cell(page, index: int) -> None:
    """Click cell ``index`` (row by row) of the confusion matrix, as a person would."""
    page.evaluate("""() => {
        for (const el of document.querySelectorAll('.js-plotly-plot')) {
            if ((el.data || []).some(t => t.type === 'heatmap')) el.setAttribute('data-cm', '1');
        }
    }""")
    cell = page.locator(".js-plotly-plot[data-cm='1'] .scatterlayer .points path").nth(index)
    box = cell.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)


def _only_our_controls(page) -> None:
    """Streamlit's toolbar (its Stop, which does not stop training, and Deploy) is hidden."""
    assert page.get_by_test_id("stToolbar").count() == 0
    assert page.get_by_test_id("stStatusWidget").count() == 0
    assert page.get_by_role("button", name="Deploy").count() == 0
    assert page.get_by_role("button", name=re.compile(r"\bStop$")).count() == 1  # ours


def _uploads(workspace: Path, tmp_path: Path) -> list[str]:
    """Two demo images, a text file named like a photo, and a blank 8x8 image."""
    from PIL import Image

    datasets = workspace / "datasets"
    good = [next(datasets.rglob(f"{c}/*.png")) for c in ("circle", "triangle")]
    (tmp_path / "notes.jpg").write_text("milk, eggs, bread")
    Image.new("RGB", (8, 8), (255, 255, 255)).save(tmp_path / "blank.png")
    return [str(good[0]), str(tmp_path / "notes.jpg"), str(good[1]), str(tmp_path / "blank.png")]


def test_demo_to_prediction_in_a_real_browser(server: str, workspace: Path, tmp_path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        # Tall enough that each page fits one screenshot (Streamlit scrolls inside).
        page = browser.new_page(viewport={"width": 1400, "height": 2000})
        page.set_default_timeout(60_000)
        t0 = time.time()
        page.goto(server)
        page.get_by_role("heading", name="1 · Your images").wait_for()
        first_paint = time.time() - t0

        # Data: the demo set in one click.
        page.get_by_role("tab", name=re.compile("Demo dataset")).click()
        page.get_by_role("button", name=re.compile("Use the demo dataset")).click()
        page.get_by_text(f"{4 * int(DEMO_PER_CLASS)} images").first.wait_for()
        page.get_by_text("The split").first.wait_for()
        _shot(page, "1-data")

        # Model, first visit: something on screen at once, even while TensorFlow loads
        # (the TensorFlow note, or the layer list if the background import was done).
        t0 = time.time()
        page.get_by_test_id("stSidebarNav").get_by_text("2 · Model").click()
        page.get_by_role("heading", name="2 · Your model").first.wait_for()
        page.get_by_text(re.compile("Loading TensorFlow|Layers that train")).first.wait_for()
        model_paint = time.time() - t0
        # Which strategy suits these images? Measured on them (Lite0, the default).
        page.get_by_text("Layers that train").wait_for()
        page.get_by_role("button", name=re.compile("Measure which strategy suits")).click()
        page.get_by_text(re.compile("Suggested: Feature extraction")).first.wait_for()
        page.get_by_text(re.compile(r"Measured on your \d+ images")).wait_for()
        _settled(page)
        _shot(page, "2-model-probe")
        # The Small CNN, 2 epochs (once the page has redrawn for it: the widgets of the
        # network shown before are still on screen until then).
        _pick(page, "Network", "Small CNN (from scratch)")
        page.get_by_text(re.compile("Suggested: From scratch")).wait_for()
        _settled(page)
        page.get_by_text("Layers that train").wait_for()
        page.get_by_text(re.compile("Advanced training settings")).first.click()
        # Settings are chosen from the images unless the person sets them: set 2 epochs.
        page.get_by_text("Choose the training settings from my images (recommended)").click()
        epochs = page.get_by_test_id("stNumberInput").filter(has_text="Epochs").locator("input")
        epochs.fill(str(EPOCHS))
        epochs.press("Enter")
        page.wait_for_timeout(800)
        _shot(page, "2-model")

        # Train: start, watch the live chart reach 2 epochs, see the result.
        _go(page, "3 · Train", "3 · Train")
        # "This run will…": what the Model page set, nothing else.
        page.get_by_text("every layer trains, from random weights").first.wait_for()
        page.get_by_text(re.compile(rf"^train for {EPOCHS} epochs with Adam")).wait_for()
        page.get_by_role("button", name=re.compile("Start training")).click()
        page.get_by_role("button", name=re.compile(r"\bStop$")).wait_for()
        _only_our_controls(page)
        _live_shot(page)
        deadline = time.time() + 180
        while _epoch_points(page) < 2 and time.time() < deadline:
            page.wait_for_timeout(500)
        assert _epoch_points(page) >= 2
        page.get_by_role("heading", name=re.compile("Finished")).wait_for(timeout=600_000)
        if EPOCHS == 2:
            assert _epoch_points(page) == 2
        page.get_by_text(re.compile("Accuracy on the (test|validation) images")).wait_for()
        # A click on a cell of the confusion matrix (a mistake if there is one) shows its
        # images, each with its most likely classes.
        _settled(page)
        metrics = json.loads(next((workspace / "runs").glob("*/metrics.json")).read_text())
        classes, matrix = metrics["classes"], metrics["confusion_matrix"]
        count, true, said = max(  # the biggest mistake, else the biggest cell
            ((matrix[t][p], t, p) for t in range(len(classes)) for p in range(len(classes))),
            key=lambda c: (c[1] != c[2] and c[0] > 0, c[0]),
        )
        _click_confusion_cell(page, true * len(classes) + said)
        what = "it got right" if true == said else f"it called {classes[said]}"
        page.get_by_text(re.compile(rf"^{count} {classes[true]} images? {what}")).wait_for()
        page.get_by_text(re.compile(rf"^{classes[said]} \d+% · ")).first.wait_for()
        page.mouse.move(0, 0)  # the cell's tooltip off the picture
        _shot(page, "3-train")

        # Reload the page: the run, the dataset, the network and the settings are kept.
        page.reload()
        page.get_by_role("heading", name="3 · Train").wait_for()
        page.get_by_role("heading", name=re.compile("Finished")).wait_for()
        sidebar = page.get_by_test_id("stSidebar")
        sidebar.get_by_text(re.compile(r"^demo(-|$)")).wait_for()  # "demo": the 60 x 96 px set
        sidebar.get_by_text("Small CNN (from scratch)").wait_for()
        _go(page, "2 · Model", "2 · Your model")
        page.get_by_text("Layers that train").wait_for()
        page.get_by_text(re.compile("Advanced training settings")).first.click()
        epochs = page.get_by_test_id("stNumberInput").filter(has_text="Epochs").locator("input")
        assert epochs.input_value() == str(EPOCHS)

        # One of my models: at the size its run trained at, the run shown by its name.
        _pick(page, "Network", "One of my models")
        page.get_by_text("Which model").wait_for()
        _settled(page)
        page.get_by_text("Layers that train").wait_for()
        # The Small CNN run's size (96 px), not the 224 px default of "One of my models".
        page.get_by_test_id("stMetric").filter(has_text="Image size").filter(
            has_text="96 px"
        ).wait_for()
        _settled(page)
        assert "96 px" in _metric(page, "Image size")
        which = page.get_by_test_id("stSelectbox").filter(has_text="Which model")
        chosen = which.locator("input").input_value()
        assert "Small CNN (from scratch) · " in chosen and "— finished" in chosen
        run_id = next((workspace / "runs").iterdir()).name
        assert run_id not in page.locator("body").inner_text()  # no internal id anywhere
        assert page.get_by_test_id("stAlertContentError").count() == 0
        page.get_by_text("Not possible with One of my models: From scratch").first.wait_for()
        sidebar.get_by_text("One of my models · feature extraction").wait_for()

        # Compare: From scratch cannot be ticked with one of my models, and says why.
        _go(page, "4 · Compare", "4 · Compare strategies")
        scratch = page.get_by_test_id("stCheckbox").filter(has_text="From scratch")
        assert scratch.locator("input").is_disabled()
        page.get_by_text(re.compile("Not possible with One of my models: From scratch")).wait_for()
        _settled(page)
        sidebar.get_by_text("One of my models · feature extraction").wait_for()  # not changed
        # The budget and what it allows, before Start.
        page.get_by_text(re.compile(r"^Budget 3 min per strategy: at most 6 min")).wait_for()
        # Feature extraction alone: its verdict on top, and its link opens that run.
        page.get_by_test_id("stCheckbox").filter(has_text="Fine-tune the top").click()
        _settled(page)
        page.get_by_role("button", name=re.compile("Train 1 strategy")).click()
        page.get_by_text(re.compile(r"^Verdict: Only Feature extraction was scored")).wait_for(
            timeout=300_000
        )
        _settled(page)
        _shot(page, "4-compare")
        page.get_by_role("button", name="Open Feature extraction").click()
        page.get_by_role("heading", name="3 · Train").wait_for()
        picked = page.get_by_test_id("stSelectbox").first.locator("input").input_value()
        assert "Feature extraction" in picked or "feature extraction" in picked

        # Predict: one bad file among good ones; the good ones are predicted, the bad one is
        # named by its own name in a sentence, the tiny one gets a warning.
        _go(page, "5 · Predict", "5 · Try your model")
        page.get_by_text("Knows 4 classes").wait_for(timeout=120_000)
        dropzone = page.get_by_test_id("stFileUploaderDropzoneInput").first
        dropzone.set_input_files(_uploads(workspace, tmp_path))
        page.get_by_text("1 of the 4 files could not be used").wait_for(timeout=120_000)
        page.get_by_text("notes.jpg: not an image.", exact=True).wait_for()
        page.get_by_text("where it looked").nth(2).wait_for(timeout=60_000)
        assert page.get_by_role("heading", name=re.compile(r" — \d+%")).count() == 3
        page.get_by_text(re.compile(r"^This image is only 8 × 8 px")).wait_for()
        assert "cache/uploads" not in page.locator("body").inner_text()
        _shot(page, "5-predict")
        browser.close()
    print(f"first paint {first_paint:.2f}s, Model page {model_paint:.2f}s")
    assert first_paint < 15
    assert model_paint < 1.0


def test_a_bookmarked_page_right_after_a_restart_is_the_whole_app(
    server: str, workspace: Path, tmp_path: Path
) -> None:
    """The first visit to a fresh server lands on /train (a tab left open, a bookmark):
    it is served with the app's navigation, sidebar and last choices, not as a bare page."""
    import json

    from conftest import write_class_images
    from playwright.sync_api import sync_playwright

    data = write_class_images(tmp_path / "pets", per_class=4)
    workspace.mkdir(parents=True, exist_ok=True)
    (workspace / "last_choices.json").write_text(
        json.dumps({"version": 1, "choices": {"data_path": str(data), "backbone": "small_cnn"}})
    )
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(60_000)
        page.goto(f"{server}/train")
        page.get_by_role("heading", name="3 · Train").wait_for()
        nav = page.get_by_test_id("stSidebarNav")
        nav.get_by_text("1 · Data").wait_for()  # the app's pages, not the file names
        assert nav.get_by_text("app", exact=True).count() == 0
        sidebar = page.get_by_test_id("stSidebar")
        sidebar.get_by_text("pets", exact=True).wait_for()
        sidebar.get_by_text("Small CNN (from scratch)").wait_for()
        browser.close()


def test_screenshots_folder_is_ignored_by_git() -> None:
    ignored = subprocess.run(["git", "check-ignore", "-q", str(SHOTS / "x.png")], cwd=ROOT)
    assert ignored.returncode == 0 or shutil.which("git") is None
