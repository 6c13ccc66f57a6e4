"""TransferLab's engine: datasets, backbones, freezing, training runs, prediction, export.

Pure Python + Keras; never imports Streamlit. Importing ``tlcore`` is cheap: TensorFlow
is imported only by the functions that need it, so the app's first page paints fast.
"""

import os
from importlib import import_module
from typing import Any

# Quiet TensorFlow's C++ start-up chatter; must be set before TensorFlow is first imported.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"

# Public names -> the module that defines them, imported on first use.
_LAZY = {
    "load_image": "tlcore.data.images",
    "scan_dataset": "tlcore.data.scan",
    "TrainConfig": "tlcore.config",
    "FreezeConfig": "tlcore.config",
    "AugmentConfig": "tlcore.config",
    "SplitConfig": "tlcore.config",
    "TransferLabError": "tlcore.errors",
}


# The function is ``tlcore.data.scan.scan``; ``tlcore.data.scan`` itself is the module.
_ALIASES = {"scan_dataset": "scan"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), _ALIASES.get(name, name))
    raise AttributeError(f"module 'tlcore' has no attribute {name!r}")


__all__ = sorted(_LAZY)
