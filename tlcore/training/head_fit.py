"""A solved head: its weights, how its regularisation was chosen, and the Dense layer.

``HeadFit`` is what ``tlcore.training.head_solver.solve_head`` returns: the kernel and
bias of the classifier's ``predictions`` layer on RAW features, plus the cross-validated
scores that chose ``C``. ``write_into_dense`` puts it into that Keras layer; since
dropout is the identity at inference, the end-to-end model then predicts exactly
``HeadFit.predict_proba``.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from tlcore.errors import ConfigError


@dataclass(frozen=True)
class CScore:
    """Cross-validated scores of one ``C``: means over folds (and the accuracy spread)."""

    C: float
    log_loss: float
    accuracy: float
    accuracy_std: float


@dataclass(frozen=True, eq=False)
class HeadFit:
    """A solved head, ready for ``write_into_dense``.

    Attributes:
        kernel: (F, K) float32, applies to the RAW features.
        bias: (K,) float32.
        C: the inverse L2 strength used for the final fit.
        cv_accuracy: mean accuracy over the folds at that ``C`` (None: no CV was possible).
        cv_accuracy_std: spread of that accuracy over the folds.
        folds: folds used to choose ``C`` (0: none).
        search_images: training images the search for ``C`` used (all, up to
            ``SEARCH_MAX_IMAGES``).
        seconds: wall time of the whole solve.
        scores: cross-validated scores of every ``C`` tried, in grid order.
        criterion: what chose ``C`` (``log_loss`` or ``accuracy``).
        class_weights: per-class loss weights used, or None.
        converged: L-BFGS met its tolerance on the final fit.
        note: one plain sentence when something unusual happened, else "".
    """

    kernel: np.ndarray
    bias: np.ndarray
    C: float
    cv_accuracy: float | None
    cv_accuracy_std: float | None
    folds: int
    search_images: int
    seconds: float
    scores: tuple[CScore, ...] = ()
    criterion: str = "log_loss"
    class_weights: tuple[float, ...] | None = None
    converged: bool = True
    note: str = ""

    def predict_proba(self, features: Any) -> np.ndarray:
        """Softmax probabilities for (N, F) raw features: what the Dense layer computes."""
        logits = np.asarray(features, dtype=np.float64) @ self.kernel + self.bias
        logits -= logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        return e / e.sum(axis=1, keepdims=True)

    def summary(self) -> dict[str, Any]:
        """Everything but the weights, JSON-ready (for events and ``metrics.json``)."""
        d = self.to_dict()
        del d["kernel"], d["bias"]
        d["features"], d["classes"] = (int(n) for n in self.kernel.shape)
        return d

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (weights as nested lists)."""
        return {
            "kernel": self.kernel.tolist(),
            "bias": self.bias.tolist(),
            "C": self.C,
            "cv_accuracy": self.cv_accuracy,
            "cv_accuracy_std": self.cv_accuracy_std,
            "folds": self.folds,
            "search_images": self.search_images,
            "seconds": self.seconds,
            "scores": [vars(s).copy() for s in self.scores],
            "criterion": self.criterion,
            "class_weights": list(self.class_weights) if self.class_weights else None,
            "converged": self.converged,
            "note": self.note,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "HeadFit":
        """Rebuild from ``to_dict`` output."""
        d = dict(d)
        weights = d.pop("class_weights", None)
        return cls(
            kernel=np.asarray(d.pop("kernel"), dtype=np.float32),
            bias=np.asarray(d.pop("bias"), dtype=np.float32),
            scores=tuple(CScore(**s) for s in d.pop("scores", ())),
            class_weights=tuple(weights) if weights else None,
            **d,
        )


def describe(fit: HeadFit) -> str:
    """One plain sentence about a solved head, for the Train page and the CLI."""
    if fit.criterion == "nearest-mean":  # tlcore.training.nearest_mean: kernel = T x unit means
        scale = float(np.linalg.norm(fit.kernel, axis=0).max()) if fit.kernel.size else 0.0
        text = (
            "The head is the nearest class mean of the centred, length-normalised features "
            f"(computed in {fit.seconds:.1f} s; temperature {scale:g}, chosen by the "
            "cross-validated log loss)."
        )
    elif fit.cv_accuracy is None:
        text = f"The head was solved exactly with C = {fit.C:g} in {fit.seconds:.1f} s."
    else:
        # No accuracy here: the score of the C that won its own search is optimistic and
        # differs from the run's accuracy (measured with C chosen again in each fold).
        text = (
            f"The head was solved exactly in {fit.seconds:.1f} s; regularisation C = "
            f"{fit.C:g} was chosen by {fit.folds}-fold cross-validation on the training "
            "images (the lowest out-of-fold log loss)."
        )
    return f"{text} {fit.note}".strip()


def write_into_dense(layer: Any, fit: HeadFit) -> None:
    """Set a built Keras ``Dense(K, activation="softmax")`` layer's weights to ``fit``.

    Raises:
        ConfigError: the layer is not a softmax Dense with a bias of the fit's shape.
    """
    name = getattr(layer, "name", "?")
    activation = getattr(getattr(layer, "activation", None), "__name__", "")
    if not getattr(layer, "use_bias", False) or activation != "softmax":
        raise ConfigError(
            f"The layer '{name}' must be a Dense layer with a bias and a softmax activation "
            "to take the solved head."
        )
    kernel_shape = tuple(int(n) for n in layer.kernel.shape)
    if kernel_shape != fit.kernel.shape:
        raise ConfigError(
            f"The solved head maps {fit.kernel.shape[0]} features to {fit.kernel.shape[1]} "
            f"classes but the layer '{name}' maps {kernel_shape[0]} to {kernel_shape[1]}: "
            "the features were computed for another model or class list."
        )
    layer.kernel.assign(fit.kernel)
    layer.bias.assign(fit.bias)
