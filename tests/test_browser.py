"""One real-browser journey: demo data -> Small CNN -> train 2 epochs live -> predict.

Starts ``streamlit run app.py`` headless on a free port with its own workspace and drives
it with Playwright in Debian's Chromium. Screenshots of every page go to
``tests/_screenshots/`` (the README's come from there). Skipped when Chromium is missing,
except in CI (``CI=true``), where that is a failure.
"""

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


def _shot(page, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    # Wait until the script run is over (the "Running" indicator goes away), then let
    # images and charts finish drawing.
    page.get_by_test_id("stStatusWidget").wait_for(state="hidden", timeout=60_000)
    page.wait_for_timeout(800)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _go(page, nav: str, heading: str) -> None:
    page.get_by_test_id("stSidebarNav").get_by_text(nav).click()
    page.get_by_role("heading", name=heading).first.wait_for()


def _pick(page, label: str, option: str) -> None:
    box = page.get_by_test_id("stSelectbox").filter(has_text=label).first
    box.click()
    page.get_by_role("option", name=option).click()


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


def test_demo_to_prediction_in_a_real_browser(server: str, workspace: Path) -> None:
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

        # Model: the Small CNN, 2 epochs.
        _go(page, "2 · Model", "2 · Your model")
        _pick(page, "Network", "Small CNN (from scratch)")
        page.get_by_text("Layers that train").wait_for()
        page.get_by_text(re.compile("Advanced training settings")).first.click()
        epochs = page.get_by_test_id("stNumberInput").filter(has_text="Epochs").locator("input")
        epochs.fill(str(EPOCHS))
        epochs.press("Enter")
        page.wait_for_timeout(800)
        _shot(page, "2-model")

        # Train: start, watch the live chart reach 2 epochs, see the result.
        _go(page, "3 · Train", "3 · Train")
        page.get_by_role("button", name=re.compile("Start training")).click()
        _live_shot(page)
        deadline = time.time() + 180
        while _epoch_points(page) < 2 and time.time() < deadline:
            page.wait_for_timeout(500)
        assert _epoch_points(page) >= 2
        page.get_by_role("heading", name=re.compile("Finished")).wait_for(timeout=600_000)
        if EPOCHS == 2:
            assert _epoch_points(page) == 2
        page.get_by_text(re.compile("Accuracy on the (test|validation) images")).wait_for()
        _shot(page, "3-train")

        # Compare: the page and its choices (no second training here).
        _go(page, "4 · Compare", "4 · Compare strategies")
        page.get_by_text("Feature extraction").first.wait_for()
        _shot(page, "4-compare")

        # Predict: upload one demo image and see a prediction.
        _go(page, "5 · Predict", "5 · Try your model")
        page.get_by_text("Knows 4 classes").wait_for(timeout=120_000)
        image = next((workspace / "datasets").rglob("*.png"))
        page.get_by_test_id("stFileUploaderDropzoneInput").first.set_input_files(str(image))
        page.get_by_role("heading", name=re.compile(r" — \d+%")).wait_for(timeout=120_000)
        page.get_by_text("where it looked").wait_for(timeout=60_000)
        _shot(page, "5-predict")
        browser.close()
    print(f"first paint {first_paint:.2f}s")
    assert first_paint < 15


def test_screenshots_folder_is_ignored_by_git() -> None:
    ignored = subprocess.run(["git", "check-ignore", "-q", str(SHOTS / "x.png")], cwd=ROOT)
    assert ignored.returncode == 0 or shutil.which("git") is None
