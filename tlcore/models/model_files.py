"""Opening model files someone hands us, without letting a file run code.

A Keras model file can contain a ``Lambda`` layer (or a lambda in a layer's settings),
i.e. Python code that would run while the model is rebuilt. Only native ``.keras``
files are loaded, always in Keras' safe mode, which refuses those. Legacy full-model
``.h5`` / ``.hdf5`` files are refused outright: they are rebuilt by Keras' legacy loader,
whose safe mode older Keras versions did not apply (CVE-2025-9905, CVE-2026-1462), so no
version check here could make them trustworthy. A weights-only ``.h5`` holds no model
configuration, only arrays, and is read by ``tlcore.models.backbone_weights`` instead.
Before Keras sees a file, ``tlcore.models.model_file_checks`` refuses zip and JSON bombs
and, for ``load_image_model``, a model whose input or output TransferLab cannot use.
Keras' exceptions become a ``ModelFileError`` that says what to do.
"""

from pathlib import Path
from typing import Any

from tlcore.errors import ModelFileError
from tlcore.models import model_file_checks as checks

MODEL_SUFFIXES = (".keras",)
LEGACY_SUFFIXES = (".h5", ".hdf5")
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def load_model_safely(path: str | Path, compile: bool = False) -> Any:
    """Load a full Keras model from a ``.keras`` file with ``safe_mode=True``.

    Args:
        path: a ``.keras`` model file (legacy ``.h5`` full models are refused).
        compile: also restore the optimizer/loss (off: TransferLab recompiles).

    Returns:
        The ``keras.Model``.

    Raises:
        ModelFileError: missing, wrong kind, legacy ``.h5``, unsafe (lambda), custom
            classes, or damaged.
    """
    path = Path(path)
    check_model_file(path)
    return _load(path, compile)


def _load(path: Path, compile: bool = False) -> Any:
    import keras

    try:
        return keras.models.load_model(path, compile=compile, safe_mode=True)
    except Exception as e:  # Keras raises ValueError/TypeError/OSError/...
        raise ModelFileError(_explain(path, e)) from None


def load_image_model(path: str | Path, purpose: str = "predict") -> Any:
    """Load a model TransferLab will feed images to, refusing one it cannot use.

    The declared input (size, shape) is judged from ``config.json`` before Keras builds
    anything; the built model's inputs and outputs are checked again after.

    Args:
        path: a ``.keras`` model file.
        purpose: ``predict`` (a classifier of fixed-size images) or ``backbone`` (the
            feature part of a network started from); see ``model_file_checks.input_problem``.

    Raises:
        ModelFileError: as ``load_model_safely``, or a model of a shape TransferLab cannot
            use (the message says which and what to do).
    """
    path = Path(path)
    declared = checks.declared_inputs(check_model_file(path))
    if declared is not None:
        _refuse_if(checks.input_problem(path.name, declared, purpose))
    model = _load(path)
    check_image_model(model, path.name, purpose)
    return model


def check_image_model(model: Any, name: str, purpose: str = "predict") -> None:
    """``ModelFileError`` unless a loaded model takes one image (and, to predict, gives
    one list of class scores)."""
    _refuse_if(checks.input_problem(name, [tuple(t.shape) for t in model.inputs], purpose))
    if purpose == "predict":
        _refuse_if(checks.output_problem(name, [tuple(t.shape) for t in model.outputs]))


def _refuse_if(problem: str | None) -> None:
    if problem:
        raise ModelFileError(problem)


def check_model_file(path: str | Path) -> dict[str, Any]:
    """Refuse, without opening it in Keras, a file ``load_model_safely`` would not load.

    Returns:
        The model's architecture (its ``config.json``), read within limits.

    Raises:
        ModelFileError: missing, not a ``.keras`` file, a legacy ``.h5`` model, a zip or
            JSON bomb (``model_file_checks``).
    """
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"The model file '{path}' does not exist.")
    if path.suffix.lower() in LEGACY_SUFFIXES or _is_hdf5(path):
        raise ModelFileError(
            f"Refused to load '{path.name}': legacy .h5 model files are not opened, because "
            "rebuilding one can run code stored in it. Open the model in the program that "
            "made it and save it again as .keras (model.save('model.keras')), then use "
            "that file."
        )
    if path.suffix.lower() not in MODEL_SUFFIXES:
        raise ModelFileError(
            f"'{path.name}' is not a Keras model file; give a .keras file saved with "
            "model.save('model.keras')."
        )
    return checks.read_config(path)


def _is_hdf5(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(len(_HDF5_SIGNATURE)) == _HDF5_SIGNATURE
    except OSError:
        return False


_ONLY_BUILTIN = "Only models made of built-in Keras layers can be loaded"


def _explain(path: Path, error: Exception) -> str:
    # Keras nests its errors ("... could not be deserialized ... Exception encountered:
    # ..."), quoting whole layer configs on the way: judge by the innermost cause only, so
    # a layer merely *named* like "LambdaScale" is not mistaken for a Lambda layer.
    cause = _innermost(str(error))
    refused = f"Refused to load '{path.name}'"
    if "`Lambda` layer" in cause:
        return (
            f"{refused}: it contains a Lambda layer, i.e. Python code that would run when "
            f"the file is opened. {_ONLY_BUILTIN}; re-save the model without Lambda layers."
        )
    if "deserialization of a Python lambda" in cause:
        return (
            f"{refused}: one of its layers has a Python lambda in its settings, i.e. code "
            f"that would run when the file is opened. {_ONLY_BUILTIN}; use a named "
            "built-in function instead and re-save."
        )
    if "Non-modeling APIs are disallowed" in cause:
        name = cause.split("`")[1] if cause.count("`") >= 2 else "a Keras function"
        return (
            f"{refused}: it calls {name}, which is not part of a model; a model "
            "file has no reason to do that."
        )
    if "Could not locate" in cause or "Unknown" in cause:
        return (
            f"'{path.name}' uses a custom layer or function that is not part of Keras "
            f"({cause}). {_ONLY_BUILTIN}."
        )
    if "safe_mode" in cause or "unsafe" in cause.lower():
        return f"{refused}: Keras' safe mode refused it ({cause})."
    return f"Could not read the model file '{path.name}' ({cause})."


def _innermost(text: str) -> str:
    """The first line of the deepest ``Exception encountered:`` in a Keras error."""
    text = text.rsplit("Exception encountered:", 1)[-1].strip()
    line = text.splitlines()[0].strip() if text else "unknown error"
    return line if len(line) <= 200 else line[:197] + "..."


def refresh_layer_state(model: Any) -> None:
    """Recompute state derived from weights (``Normalization``'s mean/variance tensors).

    ``set_weights`` and direct assignment do not; a stale copy would silently keep the
    old preprocessing.
    """
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if getattr(layer, "built", False) and hasattr(layer, "finalize_state"):
            layer.finalize_state()
