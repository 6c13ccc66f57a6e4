"""Looking inside a ``.keras`` file before Keras does: its size, depth and input shape.

A ``.keras`` file is a zip of ``config.json`` (the architecture), ``metadata.json`` and
``model.weights.h5``. Keras reads the config whole and, when there are more than three
members, unpacks every one into a temporary folder; a small hostile file can make either
huge (a config that inflates to gigabytes, ten 200 MiB members of zeros) or nest its
config so deep that reading it overflows Python's stack. The checks here read only the
zip's directory and a bounded, depth-checked config, so they are cheap and run before
anything is built. They also say, from the declared input, whether TransferLab can use the
model at all: one square colour image of 16-1024 px in (the ``--image-size`` limit; a
model declaring 20000 px would blow every image up to 1.6 GB of floats), one vector of
class scores out.
"""

import json
import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from tlcore.config import MAX_IMAGE_SIZE, MIN_IMAGE_SIZE
from tlcore.errors import ModelFileError

MAX_MEMBERS = 1000  # Keras writes three, plus any assets (vocabularies): never hundreds
MAX_CONFIG_BYTES = 64 << 20  # a 300-layer network's architecture is ~0.2 MB
MAX_DEPTH = 100  # a TransferLab classifier (a model nested in a model) is 14 deep
MAX_EXPANSION = 100  # Keras stores members uncompressed; even JSON deflates only ~20x
SMALL_MEMBER = 1 << 20  # below this, any ratio is harmless
_RESAVE = "re-save the model with model.save('model.keras')"
_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"')


def check_archive(path: Path) -> None:
    """Refuse a ``.keras`` zip that would unpack to far more than it is, or holds too much.

    Raises:
        ModelFileError: not a zip, too many members, or a member (or all of them) that
            inflates far beyond its stored size.
    """
    try:
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
    except Exception as e:  # BadZipFile, OSError, ValueError, ...: a damaged directory
        raise ModelFileError(f"Could not read the model file '{path.name}' ({e}).") from None
    refused = f"Refused to open '{path.name}'"
    if len(infos) > MAX_MEMBERS:
        raise ModelFileError(
            f"{refused}: it holds {len(infos):,} files where a Keras model holds a few "
            f"(config.json, metadata.json, model.weights.h5); {_RESAVE}."
        )
    for info in infos:
        if info.file_size > SMALL_MEMBER and info.file_size > MAX_EXPANSION * max(
            info.compress_size, 1
        ):
            raise ModelFileError(
                f"{refused}: its member '{info.filename}' would unpack from "
                f"{_mb(info.compress_size)} to {_mb(info.file_size)}, as no saved model does "
                f"(a decompression bomb); {_RESAVE}."
            )
    total = sum(info.file_size for info in infos)
    on_disk = path.stat().st_size
    if total > 8 * on_disk + (64 << 20):  # recompressed weights shrink by ~10% at most
        raise ModelFileError(
            f"{refused}: its {len(infos):,} members would unpack to {_mb(total)} from a "
            f"{_mb(on_disk)} file, as no saved model does; {_RESAVE}."
        )


def read_config(path: Path) -> dict[str, Any]:
    """The architecture (``config.json``) of a ``.keras`` file, read within limits.

    Raises:
        ModelFileError: see ``check_archive``; no config, or one too large, too deeply
            nested, or not JSON.
    """
    check_archive(path)
    try:
        with zipfile.ZipFile(path) as z, z.open("config.json") as f:
            raw = f.read(MAX_CONFIG_BYTES + 1)
    except KeyError:
        raise ModelFileError(
            f"'{path.name}' is not a Keras model file (it has no config.json); give a "
            ".keras file saved with model.save('model.keras')."
        ) from None
    except Exception as e:  # zipfile also raises zlib.error, NotImplementedError, ...
        raise ModelFileError(f"Could not read the model file '{path.name}' ({e}).") from None
    return parse_config(raw, path.name)


def parse_config(raw: bytes, name: str) -> dict[str, Any]:
    """Parse a model's JSON architecture, refusing one too large or too deeply nested."""
    refused = f"Refused to open '{name}'"
    if len(raw) > MAX_CONFIG_BYTES:
        raise ModelFileError(
            f"{refused}: its architecture (config.json) is over {_mb(MAX_CONFIG_BYTES)}, "
            f"far larger than any real model's; {_RESAVE}."
        )
    depth = nesting_depth(raw)
    if depth > MAX_DEPTH:
        raise ModelFileError(
            f"{refused}: its architecture (config.json) is nested {depth:,} levels deep, "
            f"where real models stay under {MAX_DEPTH}; {_RESAVE}."
        )
    try:
        config = json.loads(raw)
    except ValueError as e:  # JSON or UTF-8
        raise ModelFileError(f"Could not read the model file '{name}' ({e}).") from None
    if not isinstance(config, dict):
        raise ModelFileError(f"Could not read the model file '{name}' (its config is not a model).")
    return config


def nesting_depth(raw: bytes) -> int:
    """How deeply JSON arrays/objects nest in ``raw``, counted without recursion."""
    text = _STRINGS.sub(b'""', raw)  # brackets inside strings do not nest
    codes = np.frombuffer(text, dtype=np.uint8)
    steps = np.zeros(len(codes), dtype=np.int32)
    steps[(codes == ord("[")) | (codes == ord("{"))] = 1
    steps[(codes == ord("]")) | (codes == ord("}"))] = -1
    return int(np.cumsum(steps).max(initial=0))


def declared_inputs(config: dict[str, Any]) -> list[tuple[int | None, ...]] | None:
    """The input shapes (with the batch axis) the top-level model declares, or None."""
    inner = config.get("config")
    if not isinstance(inner, dict):
        return None
    layers = [x for x in inner.get("layers") or [] if isinstance(x, dict)]
    if config.get("class_name") == "Sequential":
        first = layers[0] if layers else {}
        shape = _batch_shape(first) if first.get("class_name") == "InputLayer" else None
        shape = shape or inner.get("build_input_shape")
        return [tuple(shape)] if isinstance(shape, list) else None
    wanted = inner.get("input_layers")
    if not isinstance(wanted, list) or not wanted:
        return None
    if isinstance(wanted[0], str):  # one input is saved as ["name", 0, 0]
        wanted = [wanted]
    by_name = {str(x.get("name") or (x.get("config") or {}).get("name")): x for x in layers}
    shapes = []
    for ref in wanted:
        layer = by_name.get(str(ref[0])) if isinstance(ref, list) and ref else None
        shape = _batch_shape(layer) if layer else None
        if shape is None:
            return None
        shapes.append(tuple(shape))
    return shapes


def _batch_shape(layer: dict[str, Any]) -> list | None:
    settings = layer.get("config") or {}
    for key in ("batch_shape", "batch_input_shape"):
        if isinstance(settings.get(key), list):
            return settings[key]
    return None


def input_problem(name: str, shapes: list[tuple], purpose: str) -> str | None:
    """Why TransferLab cannot feed images to a model with these input shapes, or None.

    Args:
        name: the file's name, for the message.
        shapes: input shapes with the batch axis, e.g. ``[(None, 224, 224, 3)]``.
        purpose: ``predict`` (a fixed size is needed and one channel is fine: the image
            is turned grey) or ``backbone`` (any size; colour only).
    """
    if len(shapes) != 1:
        return (
            f"'{name}' takes {len(shapes)} inputs, but TransferLab gives a model one image; "
            "use a model with a single image input."
        )
    shape = tuple(shapes[0])[1:]
    if len(shape) != 3:
        what = f"a vector of {shape[0]} numbers" if len(shape) == 1 else f"{shape} arrays"
        return (
            f"'{name}' takes {what}, not images (height x width x channels), so "
            "TransferLab cannot use it; use a model whose input is an image."
        )
    height, width, channels = shape
    if height is None and width is None:
        if purpose == "predict":
            return (
                f"'{name}' takes images of any size, so it does not say the size it was "
                "trained at; re-save it with that size as its input, e.g. "
                "keras.Input((224, 224, 3)), to predict with it."
            )
    elif height != width:
        side = max(height or 0, width or 0)
        return (
            f"'{name}' takes {height or 'any'} x {width or 'any'} px images (height x "
            "width), but TransferLab works with square images; re-save it with a square "
            f"input, e.g. keras.Input(({side}, {side}, 3))."
        )
    elif not MIN_IMAGE_SIZE <= height <= MAX_IMAGE_SIZE:
        return (
            f"'{name}' declares {height} x {height} px input images; TransferLab works with "
            f"{MIN_IMAGE_SIZE} to {MAX_IMAGE_SIZE} px (as for --image-size), so re-save the "
            "model with an input in that range, e.g. keras.Input((224, 224, 3))."
        )
    if channels == 3 or (channels == 1 and purpose == "predict"):
        return None
    kind = "one-channel (grey)" if channels == 1 else f"{channels}-channel"
    return (
        f"'{name}' takes {kind} images, but TransferLab starts from networks that take "
        "colour (3-channel RGB) images; use a model whose input has 3 channels."
    )


def output_problem(name: str, shapes: list[tuple]) -> str | None:
    """Why a model with these output shapes is not a classifier TransferLab can read."""
    if len(shapes) != 1:
        return (
            f"'{name}' gives {len(shapes)} outputs, but TransferLab reads one list of class "
            "scores; use a classifier with a single output."
        )
    shape = tuple(shapes[0])[1:]
    if len(shape) != 1:
        return (
            f"'{name}' outputs a {' x '.join(str(s) for s in shape)} map (e.g. a mask), not "
            "one score per class; TransferLab can only predict with classifiers."
        )
    return None


def _mb(n: int) -> str:
    return f"{n / (1 << 30):.1f} GiB" if n >= 1 << 30 else f"{n / (1 << 20):.1f} MiB"
