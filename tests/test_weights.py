"""Weights: download from a local server (progress, checksum, interruption, offline), cache,
and loading files saved from a ``weights=None`` model."""

import hashlib
import http.server
import socket
import threading
import time
from pathlib import Path
from typing import ClassVar

import h5py
import numpy as np
import pytest
from conftest import write_class_images

from tlcore.errors import ConfigError, WeightsUnavailableError
from tlcore.models import weights as W
from tlcore.models.backbone_models import build_backbone


def _mobilenet(size: int = 32):
    import keras

    return keras.applications.MobileNetV2(
        include_top=False, weights=None, input_shape=(size, size, 3)
    )


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray, np.ndarray]:
    """A legacy-format (like Keras' published files) no-top MobileNetV2 weights file."""
    import keras
    from keras.src.legacy.saving import legacy_h5_format

    keras.utils.set_random_seed(1)
    model = _mobilenet()
    path = tmp_path_factory.mktemp("w") / "source_notop.h5"
    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, model)
    x = np.random.default_rng(0).uniform(-1, 1, (2, 32, 32, 3)).astype("float32")
    return path, x, np.asarray(model(x, training=False))


class _Handler(http.server.BaseHTTPRequestHandler):
    body = b""
    truncate = False
    requests: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        type(self).requests.append(self.path)
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        data = self.body[: len(self.body) // 2] if self.truncate else self.body
        self.wfile.write(data)
        self.wfile.flush()
        self.close_connection = True

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server(weights_file):
    handler = type("Handler", (_Handler,), {"body": weights_file[0].read_bytes(), "requests": []})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield handler, f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


def _cache_files() -> list[str]:
    return sorted(p.name for p in W.workspace.cache_dir("weights").iterdir())


def test_download_reports_progress_verifies_and_is_reused(server, weights_file) -> None:
    handler, url = server
    body = weights_file[0].read_bytes()
    calls: list[tuple[int, int]] = []
    path = W.imagenet_weights_path(
        "mobilenet_v2",
        32,
        progress=lambda d, t: calls.append((d, t)),
        base_url=url,
        file_hash=hashlib.sha256(body).hexdigest(),
    )
    assert path.read_bytes() == body
    assert path.name == "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5"
    assert handler.requests == ["/tensorflow/keras-applications/mobilenet_v2/" + path.name]
    assert calls[0] == (0, len(body)) and calls[-1] == (len(body), len(body))
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    assert _cache_files() == [path.name]
    # Second use: served from the cache, no request.
    assert W.imagenet_weights_path("mobilenet_v2", 32, base_url=url) == path
    assert len(handler.requests) == 1


def test_md5_checksum_is_accepted_like_keras(server, weights_file) -> None:
    body = weights_file[0].read_bytes()
    path = W.imagenet_weights_path(
        "vgg16", 32, base_url=server[1], file_hash=hashlib.md5(body).hexdigest()
    )
    assert path.read_bytes() == body


def test_checksum_mismatch_is_refused_and_nothing_is_cached(server) -> None:
    # The published VGG16 checksum cannot match the test's file.
    with pytest.raises(WeightsUnavailableError, match="checksum"):
        W.imagenet_weights_path("vgg16", 224, base_url=server[1])
    assert _cache_files() == []


def test_base_url_comes_from_the_environment(server, monkeypatch) -> None:
    monkeypatch.setenv(W.BASE_URL_ENV, server[1])
    with pytest.raises(WeightsUnavailableError, match="checksum"):
        W.imagenet_weights_path("resnet50")
    assert server[0].requests == [
        "/tensorflow/keras-applications/resnet/resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"
    ]


def test_interrupted_transfer_leaves_nothing(server) -> None:
    server[0].truncate = True
    with pytest.raises(WeightsUnavailableError, match="stopped early"):
        W.imagenet_weights_path("mobilenet_v2", 32, base_url=server[1], file_hash=None)
    assert _cache_files() == []


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_host_gives_a_plain_error_quickly() -> None:
    start = time.monotonic()
    with pytest.raises(WeightsUnavailableError) as err:
        W.imagenet_weights_path("efficientnet_b0", base_url=f"http://127.0.0.1:{_closed_port()}/")
    assert time.monotonic() - start < 5
    message = str(err.value)
    assert "offline" in message and "train from scratch" in message
    assert "your own trained models" in message and "upload a weights file" in message
    assert str(W.cached_weights_path("efficientnetb0_notop.h5")) in message
    assert _cache_files() == []


def test_a_server_that_never_answers_times_out() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        start = time.monotonic()
        with pytest.raises(WeightsUnavailableError, match="offline"):
            W.imagenet_weights_path(
                "mobilenet_v2", base_url=f"http://127.0.0.1:{silent.getsockname()[1]}/", timeout=1.0
            )
        assert time.monotonic() - start < 5


def test_imagenet_loads_from_the_cache_with_identical_outputs(weights_file) -> None:
    source, x, expected = weights_file
    W.cached_weights_path(W.imagenet_source("mobilenet_v2", 32).filename).write_bytes(
        source.read_bytes()
    )  # a file put there for offline use
    backbone = build_backbone("mobilenet_v2", 32, "imagenet")
    np.testing.assert_allclose(np.asarray(backbone(x, training=False)), expected, atol=1e-6)


def test_weights_file_saved_by_keras3_gives_identical_outputs(weights_file, tmp_path) -> None:
    import keras

    keras.utils.set_random_seed(2)
    model = _mobilenet()
    x = weights_file[1]
    expected = np.asarray(model(x, training=False))
    model.save_weights(tmp_path / "mine.weights.h5")
    # Also under a plain .h5 name (as people rename files): the format is sniffed.
    (tmp_path / "mine.h5").write_bytes((tmp_path / "mine.weights.h5").read_bytes())
    for name in ("mine.weights.h5", "mine.h5"):
        backbone = build_backbone("mobilenet_v2", 32, str(tmp_path / name))
        np.testing.assert_allclose(np.asarray(backbone(x, training=False)), expected, atol=1e-6)


def test_weights_of_another_network_are_refused(weights_file) -> None:
    with pytest.raises(WeightsUnavailableError, match="do not fit"):
        build_backbone("vgg16", 32, str(weights_file[0]))
    with pytest.raises(WeightsUnavailableError, match="does not exist"):
        build_backbone("vgg16", 32, "/nonexistent/file.h5")


def test_a_whole_model_file_as_weights_gets_one_sentence(tmp_path, capsys) -> None:
    from tlcore.cli import main

    model = _mobilenet()
    model.save(tmp_path / "mine.keras")
    with pytest.raises(ConfigError) as caught:
        build_backbone("mobilenet_v2", 32, str(tmp_path / "mine.keras"))
    message = str(caught.value)
    assert "is a whole Keras model" in message and "--backbone keras_file" in message
    assert len(message) < 300 and message.count(". ") == 0
    data = write_class_images(tmp_path / "data", per_class=4)
    code = main(["train", str(data), "--backbone", "mobilenet_v2", "--image-size", "32",
                 "--weights", str(tmp_path / "mine.keras")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "is a whole Keras model" in err and len(err) < 600, err


def test_sources_follow_keras() -> None:
    assert W.imagenet_source("mobilenet_v2", 160).filename.endswith("_1.0_160_no_top.h5")
    assert W.imagenet_source("mobilenet_v2", 100).filename.endswith("_1.0_224_no_top.h5")
    convnext = W.imagenet_source("convnext_tiny")
    assert len(convnext.file_hash) == 64 and convnext.filename == "convnext_tiny_notop.h5"
    assert W.imagenet_source("efficientnet_b0").url_path == (
        "keras-applications/efficientnetb0_notop.h5"
    )
    with pytest.raises(ConfigError, match="no ImageNet weights"):
        W.imagenet_source("small_cnn")
    with pytest.raises(ConfigError, match="no ImageNet weights"):
        build_backbone("small_cnn", 32, "imagenet")


def test_efficientnet_imagenet_matches_keras_own_imagenet_architecture(
    tmp_path, monkeypatch
) -> None:
    """Keras adds a Rescaling to EfficientNetB0 only with imagenet weights; ours folds it in."""
    import json

    import keras
    from keras.src.legacy.saving import legacy_h5_format
    from keras.src.utils import file_utils

    from tlcore.config import TrainConfig
    from tlcore.models.classifier import build_classifier

    keras.utils.set_random_seed(3)
    source = keras.applications.EfficientNetB0(
        include_top=False, weights=None, input_shape=(32, 32, 3)
    )
    norm = next(la for la in source.layers if type(la).__name__ == "Normalization")
    norm.adapt_mean.assign([0.485, 0.456, 0.406])  # what the published file holds
    norm.adapt_variance.assign([0.229**2, 0.224**2, 0.225**2])
    path = W.cached_weights_path("efficientnetb0_notop.h5")
    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, source)
    # Keras' own imagenet build, served our file instead of downloading.
    monkeypatch.setattr(file_utils, "get_file", lambda *a, **k: str(path))
    reference = keras.applications.EfficientNetB0(
        include_top=False, weights="imagenet", input_shape=(32, 32, 3)
    )
    x = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    expected = np.asarray(reference(x, training=False))
    ours = build_backbone("efficientnet_b0", 32, "imagenet")
    np.testing.assert_allclose(np.asarray(ours(x, training=False)), expected, atol=1e-5)

    def stem(model):
        return np.asarray(keras.Model(model.input, model.get_layer("stem_conv").output)(x))

    np.testing.assert_allclose(stem(ours), stem(reference), rtol=1e-4, atol=1e-4)
    # Copied from a run (set_weights) the preprocessing state follows too.
    config = TrainConfig(data="x", backbone="efficientnet_b0", image_size=32)
    (W.workspace.runs_dir() / "eff").mkdir()
    build_classifier(config, 2).save(W.workspace.runs_dir() / "eff" / "model.keras")
    (W.workspace.runs_dir() / "eff" / "spec.json").write_text(
        json.dumps({"config": config.to_dict()})
    )
    copied = build_backbone("efficientnet_b0", 32, "run:eff")
    np.testing.assert_allclose(np.asarray(copied(x, training=False)), expected, atol=1e-5)
