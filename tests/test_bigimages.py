"""Decoding a huge image costs about its decoded buffer, once at a time, not per core."""

import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from tlcore.data import bigimages
from tlcore.data.images import load_image, resize_square

ROOT = Path(__file__).resolve().parent.parent

# Peak resident memory a fresh process adds while decoding one file to 224 px, with
# ``threads`` decoder threads on the same file at once (ru_maxrss: every allocation
# counts, Pillow's C buffers included).
_MEASURE = """
import resource, sys
from concurrent.futures import ThreadPoolExecutor
from tlcore.data.images import load_image
path, threads = sys.argv[1], int(sys.argv[2])
load_image(sys.argv[3], 32)  # imports and first-call set-up are not the decode
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
with ThreadPoolExecutor(threads) as pool:
    out = list(pool.map(lambda p: load_image(p, 224), [path] * threads))
assert out[0].shape == (224, 224, 3)
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)
"""


def _peak_mb(path: Path, threads: int, small: Path) -> int:
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_MEASURE), str(path), str(threads), str(small)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    return int(out.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def huge_pngs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Flat 7900x8000 PNGs (63 megapixels, under the limit; tiny on disk)."""
    folder = tmp_path_factory.mktemp("huge")
    out = {}
    for mode, colour in (("RGBA", (120, 30, 200, 128)), ("L", 77)):
        out[mode] = folder / f"flat-{mode}.png"
        Image.new(mode, (7900, 8000), colour).save(out[mode])
    out["small"] = folder / "small.png"
    Image.new("RGB", (40, 40), (1, 2, 3)).save(out["small"])
    return out


@pytest.mark.slow
def test_one_decode_of_a_huge_png_costs_about_its_decoded_buffer(huge_pngs) -> None:
    # Decoded RGBA buffer: 7900 * 8000 * 4 bytes = 253 MB (was 773 MB with the full-size
    # RGB copy and composite); greyscale: 63 MB (was 298 MB).
    assert _peak_mb(huge_pngs["RGBA"], 1, huge_pngs["small"]) < 330
    assert _peak_mb(huge_pngs["L"], 1, huge_pngs["small"]) < 120


@pytest.mark.slow
def test_two_decoder_threads_do_not_double_it(huge_pngs) -> None:
    # Was 1,479 MB with two threads: each decoded its own copy at the same time.
    assert _peak_mb(huge_pngs["RGBA"], 2, huge_pngs["small"]) < 360


def test_strip_reduction_matches_the_plain_path(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:2100, 0:2600]
    base = np.stack([xx % 256, yy % 256, (xx + yy) % 256], axis=-1).astype(np.int16)
    pixels = np.clip(base + rng.integers(-40, 40, base.shape), 0, 255).astype(np.uint8)
    alpha = (xx * 255 // 2600).astype(np.uint8)[..., None]
    path = tmp_path / "big.png"
    Image.fromarray(np.concatenate([pixels, alpha], axis=-1), "RGBA").save(path)
    for mode in ("pad", "crop", "stretch"):
        got = load_image(path, 96, mode).astype(int)
        with Image.open(path) as im:
            rgba = im.convert("RGBA")
        plain = Image.new("RGB", rgba.size, (255, 255, 255))
        plain.paste(rgba, mask=rgba.getchannel("A"))
        want = np.asarray(resize_square(plain, 96, mode)).astype(int)
        # Sharp edges every 256 px (the worst case): a fraction of a grey level off.
        assert np.abs(got - want).mean() < 1.5, mode


def test_exif_orientation_applies_on_the_reduced_path(tmp_path: Path) -> None:
    im = Image.new("RGB", (3000, 2000), (0, 0, 255))
    im.paste((255, 0, 0), (0, 0, 1500, 2000))  # left half red
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: turn 90 degrees clockwise to view
    path = tmp_path / "turned.png"
    im.save(path, exif=exif)
    got = load_image(path, 64, "stretch")
    with Image.open(path) as opened:
        upright = ImageOps.exif_transpose(opened).convert("RGB")
    want = np.asarray(resize_square(upright, 64, "stretch"))
    assert np.abs(got.astype(int) - want.astype(int)).mean() < 1.0
    assert tuple(got[2, 32]) == (255, 0, 0) and tuple(got[61, 32]) == (0, 0, 255)


def test_the_budget_lets_small_decodes_share_and_a_big_one_run_alone() -> None:
    budget = bigimages.DecodeBudget(limit=100)
    inside, order = [], []

    def work(name: str, nbytes: int, hold: float) -> None:
        with budget.reserve(nbytes):
            inside.append(name)
            order.append(sorted(inside))
            time.sleep(hold)
            inside.remove(name)

    small = [threading.Thread(target=work, args=(f"s{i}", 30, 0.2)) for i in range(3)]
    for t in small:
        t.start()
    time.sleep(0.05)
    big = threading.Thread(target=work, args=("big", 500, 0.05))  # more than the budget
    big.start()
    for t in [*small, big]:
        t.join(10)
    assert budget.peak == 100 and budget.in_use == 0
    assert ["big"] in order and not any("big" in o and len(o) > 1 for o in order)
    assert any(len(o) == 3 for o in order)  # the three small ones decoded side by side
