"""Export a run's model for use outside TransferLab, and check it still agrees.

Formats: ``keras`` (the ``.keras`` file), ``savedmodel`` (TensorFlow SavedModel, for TF
Serving), ``tflite`` (float) and ``tflite-int8`` (weights and activations quantised to
8 bits, calibrated on training images; float input and output so callers pass pixels as
usual). ``labels.txt`` goes beside every export. The parity check runs the exported model
and the Keras model on the run's test images (validation when there is no test split)
and reports the fraction on which their top-1 classes agree: float TFLite must agree on
every image; int8 usually on nearly all.
"""

import contextlib
import os
import shutil
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tlcore import fsutil
from tlcore.errors import ConfigError
from tlcore.runs import run_files, run_info

FORMATS = ("keras", "savedmodel", "tflite", "tflite-int8")
_SUFFIXES = {
    "keras": ".keras",
    "savedmodel": "_savedmodel",
    "tflite": ".tflite",
    "tflite-int8": "_int8.tflite",
}
CALIBRATION_IMAGES = 100


@dataclass(frozen=True)
class ExportResult:
    """Where the export went and how well it agrees with the Keras model."""

    path: str
    format: str
    agreement: float | None
    n_images: int

    def to_dict(self) -> dict[str, Any]:
        """The JSON form ``export --json`` prints."""
        return {
            "path": self.path,
            "format": self.format,
            "agreement": self.agreement,
            "n_images": self.n_images,
        }


def _split_images(run_dir: Path, which: tuple[str, ...]) -> np.ndarray:
    from tlcore.data.pipeline import load_arrays
    from tlcore.models.classifier import image_size_for

    info = run_info.load_run(run_dir)
    split = run_files.read_split(run_dir)
    if split is None:
        return np.zeros((0, 1, 1, 3), np.uint8)
    for name in which:
        items = getattr(split, name)
        if items:
            images, _ = load_arrays(
                items,
                list(split.classes),
                image_size_for(info.config),
                info.config.resize_mode,
                use_cache=info.config.use_cache,
            )
            return np.asarray(images)
    return np.zeros((0, 1, 1, 3), np.uint8)


def _interpreter(path: Path) -> Any:
    try:  # LiteRT, TensorFlow Lite's successor, when installed
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        import tensorflow as tf

        Interpreter = tf.lite.Interpreter
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "deprecated, use LiteRT": fine until it is gone
        return Interpreter(model_path=str(path))


def _tflite_runner(path: Path) -> Callable[[np.ndarray], np.ndarray]:
    interpreter = _interpreter(path)
    inp = interpreter.get_input_details()[0]
    out = interpreter.get_output_details()[0]

    def run(batch: np.ndarray) -> np.ndarray:
        results = []
        for image in batch:  # the converted model has a fixed batch of 1
            interpreter.resize_tensor_input(inp["index"], (1, *image.shape))
            interpreter.allocate_tensors()
            interpreter.set_tensor(inp["index"], image[None].astype(np.float32))
            interpreter.invoke()
            results.append(interpreter.get_tensor(out["index"])[0])
        return np.array(results)

    return run


def _savedmodel_runner(path: Path) -> Callable[[np.ndarray], np.ndarray]:
    import tensorflow as tf

    loaded = tf.saved_model.load(str(path))

    def run(batch: np.ndarray) -> np.ndarray:
        return np.asarray(loaded.serve(tf.constant(batch.astype(np.float32))))

    return run


def _convert_tflite(model: Any, int8: bool, calibration: np.ndarray) -> bytes:
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if int8:
        if len(calibration) == 0:
            raise ConfigError(
                "int8 export needs training images to calibrate; this run has no saved split."
            )
        converter.optimizations = [tf.lite.Optimize.DEFAULT]

        def representative() -> Any:
            for image in calibration[:CALIBRATION_IMAGES]:
                yield [image[None].astype(np.float32)]

        converter.representative_dataset = representative
    return converter.convert()


def _refuse_to_overwrite(dest: Path, names: list[str]) -> None:
    """``ConfigError`` when ``dest`` is a file or already holds one of ``names``."""
    if dest.exists() and not dest.is_dir():
        raise ConfigError(
            f"'{dest}' is a file; give --out a folder to export into (it is made if missing)."
        )
    taken = [name for name in names if (dest / name).exists()]
    if taken:
        raise ConfigError(
            f"'{dest / taken[0]}' already exists and was left as it is; export into "
            "another folder, or move that file away first."
        )


@contextlib.contextmanager
def _writing(dest: Path) -> Iterator[None]:
    """Turn a failed write (no permission, a file in the way, disk full) into a sentence."""
    try:
        yield
    except OSError as e:
        raise ConfigError(
            f"Could not write the export to '{dest}' ({fsutil.os_error_text(e, dest)}); "
            "choose a folder you can write to."
        ) from None


def export_run(
    ref: str | os.PathLike, fmt: str, out: str | os.PathLike | None = None
) -> ExportResult:
    """Export run ``ref`` as ``fmt`` into ``out`` (default ``<run>/export/``).

    Raises:
        ConfigError: unknown format. RunError: no such run or no model yet.
    """
    from tlcore.models.model_files import load_image_model, load_model_safely
    from tlcore.results.predict import predict_probs
    from tlcore.runs.job import require_finished_model

    if fmt not in FORMATS:
        raise ConfigError(f"Export format must be one of {', '.join(FORMATS)} (got '{fmt}').")
    model_path = require_finished_model(ref)
    run_dir = model_path.parent
    dest = Path(out) if out else run_dir / "export"
    target = dest / f"{run_dir.name}{_SUFFIXES[fmt]}"
    labels = [name for name in ("labels.txt", "labels.json") if (run_dir / name).is_file()]
    if out:  # the run's own export/ folder is TransferLab's to refresh; a chosen one is not
        _refuse_to_overwrite(dest, [target.name, *labels])
    model = load_image_model(model_path)
    int8 = fmt == "tflite-int8"
    calibration = _split_images(run_dir, ("train",)) if int8 else np.zeros(0)
    with _writing(dest):
        dest.mkdir(parents=True, exist_ok=True)
        if fmt == "keras":
            shutil.copyfile(model_path, target)
        elif fmt == "savedmodel":
            if target.exists():
                shutil.rmtree(target)
            model.export(str(target), format="tf_saved_model", verbose=False)
        else:
            tmp = target.with_name(f".{target.name}.tmp")
            tmp.write_bytes(_convert_tflite(model, int8, calibration))
            os.replace(tmp, target)
        for name in labels:
            shutil.copyfile(run_dir / name, dest / name)
    if fmt == "keras":
        exported = load_model_safely(target)
        runner = lambda b: predict_probs(exported, b)  # noqa: E731
    elif fmt == "savedmodel":
        runner = _savedmodel_runner(target)
    else:
        runner = _tflite_runner(target)
    images = _split_images(run_dir, ("test", "val"))
    agreement = None
    if len(images):
        expected = predict_probs(model, images).argmax(axis=1)
        got = np.concatenate([runner(images[i : i + 32]) for i in range(0, len(images), 32)])
        agreement = float((got.argmax(axis=1) == expected).mean())
    return ExportResult(str(target), fmt, agreement, len(images))
