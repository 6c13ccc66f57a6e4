"""Opening model files someone hands us, without letting a file run code.

A ``.keras`` or ``.h5`` model can contain a ``Lambda`` layer, i.e. pickled Python code that
would run on load. Keras' safe mode refuses those; we always use it and turn Keras'
exceptions into a ``ModelFileError`` a person can act on.
"""

from pathlib import Path
from typing import Any

from tlcore.errors import ModelFileError

MODEL_SUFFIXES = (".keras", ".h5", ".hdf5")


def load_model_safely(path: str | Path, compile: bool = False) -> Any:
    """Load a full Keras model with ``safe_mode=True``.

    Args:
        path: a ``.keras`` (Keras 3) or ``.h5`` (legacy) model file.
        compile: also restore the optimizer/loss (off: TransferLab recompiles).

    Returns:
        The ``keras.Model``.

    Raises:
        ModelFileError: missing, wrong kind, unsafe (Lambda), custom classes, or damaged.
    """
    import keras

    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"The model file '{path}' does not exist.")
    if path.suffix.lower() not in MODEL_SUFFIXES or path.name.endswith(".weights.h5"):
        raise ModelFileError(
            f"'{path.name}' is not a Keras model file; give a .keras or .h5 "
            "file saved with model.save()."
        )
    try:
        return keras.models.load_model(path, compile=compile, safe_mode=True)
    except Exception as e:  # Keras raises ValueError/TypeError/OSError/...
        raise ModelFileError(_explain(path, e)) from None


def _explain(path: Path, error: Exception) -> str:
    text = str(error)
    if "Lambda" in text or "safe_mode" in text or "unsafe" in text.lower():
        return (
            f"Refused to load '{path.name}': it contains a Lambda layer, i.e. Python code "
            "that would run when the file is opened. Only models made of built-in Keras "
            "layers can be loaded; re-save the model without Lambda layers."
        )
    if "Unknown" in text or "custom" in text.lower() or "Could not locate" in text:
        return (
            f"'{path.name}' uses a custom layer or function that is not part of Keras "
            f"({_first_line(text)}). Only models made of built-in Keras layers can be "
            "loaded."
        )
    return f"Could not read the model file '{path.name}' ({_first_line(text)})."


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else "unknown error"
    return line if len(line) <= 200 else line[:197] + "..."


def refresh_layer_state(model: Any) -> None:
    """Recompute state derived from weights (``Normalization``'s mean/variance tensors).

    ``set_weights`` and direct assignment do not; a stale copy would silently keep the
    old preprocessing.
    """
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if getattr(layer, "built", False) and hasattr(layer, "finalize_state"):
            layer.finalize_state()
