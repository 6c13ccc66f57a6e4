"""Errors a person can act on.

Every error that reaches the UI or the CLI is a ``TransferLabError``: its message is one
plain sentence (or two) saying what is wrong and what to do. The CLI prints it and exits
2; the pages show it with ``st.error``. Anything else is a bug.
"""


class TransferLabError(Exception):
    """Base class for errors whose message is meant for the person using TransferLab."""


class DataError(TransferLabError):
    """The dataset cannot be used as given (empty, one class, unsafe zip, ...)."""


class ImageError(TransferLabError):
    """One image cannot be used; ``reason`` is the short reason shown in reports."""

    def __init__(self, path: object, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


class TrainingError(TransferLabError):
    """Training itself went wrong (e.g. the loss became NaN, or the disk filled up)."""


class ConfigError(TransferLabError):
    """A training or model setting is invalid."""


class WeightsUnavailableError(TransferLabError):
    """Pretrained weights could not be obtained (offline, checksum mismatch, bad file)."""


class ModelFileError(TransferLabError):
    """A model file cannot be loaded safely."""


class RunError(TransferLabError):
    """A run folder is missing, unreadable, or in the wrong state for the request."""


class WorkspaceError(TransferLabError):
    """The workspace folder cannot be written (read-only, not a folder, no permission)."""
