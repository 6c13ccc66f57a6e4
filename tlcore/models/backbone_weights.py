"""Putting weights into a freshly built backbone: ImageNet, a weights file, or a run's.

``weights`` in a config is ``imagenet`` (the published file, downloaded on first use by
``tlcore.models.weights``), ``none`` (random), a path to a weights file, or ``run:<id>``
(the backbone of an earlier TransferLab run). A file is checked without TensorFlow first,
so a whole model or a file that is not HDF5 is refused with a sentence saying what to do.
"""

import contextlib
import os
from pathlib import Path
from typing import Any

from tlcore import workspace
from tlcore.errors import ConfigError, WeightsUnavailableError
from tlcore.models.weights import Progress, imagenet_weights_path


def load_backbone_weights(
    model: Any, spec: Any, weights: str, image_size: int, progress: Progress | None = None
) -> None:
    """Put ``weights`` (see module doc) into a freshly built backbone ``model``."""
    weights = (weights or "none").strip()
    if weights.lower() in ("none", "random"):
        return
    if weights.lower() == "imagenet":
        if not spec.pretrained:
            raise ConfigError(f"{spec.display_name} has no ImageNet weights; use weights 'none'.")
        load_weights_file(model, imagenet_weights_path(spec.key, image_size, progress))
        if spec.key == "efficientnet_b0":
            _efficientnet_imagenet_scaling(model)
    elif weights.startswith("run:"):
        from tlcore.models.my_models import copy_run_weights

        copy_run_weights(model, spec.key, weights)
    else:
        load_weights_file(model, weights)
    from tlcore.models.model_files import refresh_layer_state

    refresh_layer_state(model)


def load_weights_file(model: Any, path: str | os.PathLike) -> None:
    """Load a ``.weights.h5`` (Keras 3) or legacy ``.h5`` weights file into ``model``.

    Raises:
        WeightsUnavailableError: missing file, or weights that do not fit the model.
    """
    path = check_weights_file(path, model.name)
    try:
        if (
            path.name.endswith(".h5")
            and not path.name.endswith(".weights.h5")
            and _is_keras3_weights(path)
        ):
            # Keras picks the loader by file name; give a Keras 3 file the name it expects.
            link = workspace.cache_dir("weights") / f".{os.getpid()}-{path.stem}.weights.h5"
            link.unlink(missing_ok=True)
            link.symlink_to(path.resolve())
            try:
                model.load_weights(link)
            finally:
                link.unlink(missing_ok=True)
        else:
            model.load_weights(path)
    except WeightsUnavailableError:
        raise
    except Exception as e:  # h5py/Keras raise many types for a bad file
        raise WeightsUnavailableError(
            f"The weights in '{path.name}' do not fit this {model.name} network ({e}). "
            "Use a file saved from the same backbone, or delete it if it is damaged."
        ) from None


def check_weights_file(path: str | os.PathLike, network: str) -> Path:
    """Refuse, without TensorFlow, a weights file that cannot load into any network.

    Raises:
        WeightsUnavailableError: missing, or not HDF5 data. ConfigError: a whole model.
    """
    import h5py

    path = Path(path)
    if not path.is_file():
        raise WeightsUnavailableError(f"The weights file '{path}' does not exist.")
    if _is_whole_model(path):
        raise ConfigError(
            f"'{path.name}' is a whole Keras model, not a weights file for this "
            f"{network} network: to start from it, choose the backbone 'A Keras model "
            f"file' (CLI: --backbone keras_file --weights {path})."
        )
    # Keras 3 also writes sharded weights: a .weights.json index beside its .h5 shards.
    if not path.name.endswith(".weights.json") and not h5py.is_hdf5(path):
        raise WeightsUnavailableError(
            f"'{path.name}' is not a weights file (it holds no HDF5 data); give a "
            f".weights.h5 file saved with model.save_weights() from a {network} network."
        )
    return path


def _is_whole_model(path: Path) -> bool:
    """A ``.keras`` archive or a full-model ``.h5`` (architecture + weights), read without TF."""
    import zipfile

    if zipfile.is_zipfile(path):
        with contextlib.suppress(OSError, zipfile.BadZipFile), zipfile.ZipFile(path) as z:
            return "config.json" in z.namelist()
        return False
    import h5py

    try:
        with h5py.File(path, "r") as f:
            return "model_config" in f.attrs
    except OSError:
        return False


def _is_keras3_weights(path: Path) -> bool:
    import h5py

    try:
        with h5py.File(path, "r") as f:
            return "layer_names" not in f.attrs and "model_weights" not in f
    except OSError:
        return False


# keras.applications.EfficientNetB0(weights="imagenet") adds a Rescaling by 1/sqrt(std)
# after its Normalization (keras issue tensorflow/tensorflow#49930) that a weights=None
# build lacks; folding it into the Normalization variance keeps one architecture for all
# weights: (x - m) / sqrt(v) / sqrt(s) == (x - m) / sqrt(v * s).
_IMAGENET_STD = (0.229, 0.224, 0.225)


def _efficientnet_imagenet_scaling(model: Any) -> None:
    import numpy as np

    norm = next(layer for layer in model.layers if type(layer).__name__ == "Normalization")
    variance = np.asarray(norm.adapt_variance)
    norm.adapt_variance.assign(variance * np.asarray(_IMAGENET_STD, dtype=variance.dtype))
