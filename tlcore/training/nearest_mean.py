"""A nearest-class-mean head on centred, L2-normalised features (SimpleShot).

Wang et al. (2019) show that at 1-5 images a class, subtracting the training images' mean
feature, scaling each feature vector to unit length and predicting the class whose mean
direction is nearest is as strong as a trained linear classifier. The head has nothing to
regularise; its one number is a *temperature* that turns cosine similarities into
probabilities, chosen by the out-of-fold log loss of the training images (it changes
confidences, never which class wins).

It is one of the candidates the solved head is cross-validated on for tiny sets
(``tlcore.training.head_candidates``). In the saved model it is the same Dense layer as
the logistic head: the features are centred and L2-normalised inside the model's
``pool`` part (``tlcore.models.multilayer_head``), and the Dense layer holds the
temperature times the unit class means (``as_head_fit``).
"""

import time
from dataclasses import dataclass

import numpy as np

from tlcore.training.crossval import OutOfFold, out_of_fold_predictions
from tlcore.training.head_fit import HeadFit

TEMPERATURES = (1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0)
"""Tried in ``choose_temperature``; cosines lie in [-1, 1], so 1 is nearly uniform and
100 nearly one-hot."""

ABSENT_LOGIT = -1e4  # a class with no training image: probability exactly 0
DEFAULT_TEMPERATURE = 10.0  # used when there are no out-of-fold scores to choose by


@dataclass(frozen=True)
class NearestMean:
    """A fitted nearest-class-mean head.

    Attributes:
        centre: (F,) the training images' mean feature, subtracted first.
        means: (K, F) unit-length class mean directions (zeros for an absent class).
        present: (K,) which classes had training images.
        temperature: multiplies the cosines before the softmax.
    """

    centre: np.ndarray
    means: np.ndarray
    present: np.ndarray
    temperature: float = DEFAULT_TEMPERATURE

    def cosines(self, features: np.ndarray) -> np.ndarray:
        """(N, K) cosine similarity of each centred, normalised feature to each class."""
        return unit(np.asarray(features, np.float64) - self.centre) @ self.means.T

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """(N, K) softmax of the scaled cosines (absent classes: 0)."""
        return softmax(self.temperature * self.cosines(features), self.present)


def unit(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (a zero row stays zero)."""
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def softmax(logits: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Row softmax, with classes not ``present`` at probability 0."""
    z = np.where(present[None, :], logits, -np.inf)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def fit_nearest_mean(
    features: np.ndarray,
    labels: np.ndarray,
    n_classes: int,
    temperature: float = DEFAULT_TEMPERATURE,
) -> NearestMean:
    """Class mean directions of centred, L2-normalised ``features``."""
    x = np.asarray(features, np.float64)
    y = np.asarray(labels, np.int64)
    centre = x.mean(axis=0)
    u = unit(x - centre)
    means = np.zeros((n_classes, x.shape[1]))
    present = np.zeros(n_classes, bool)
    for c in range(n_classes):
        if (y == c).any():
            means[c], present[c] = u[y == c].mean(axis=0), True
    return NearestMean(centre, unit(means), present, float(temperature))


def choose_temperature(cosines: np.ndarray, labels: np.ndarray, present: np.ndarray) -> float:
    """The temperature with the lowest log loss on out-of-fold cosines."""
    y = np.asarray(labels, np.int64)

    def loss(t: float) -> float:
        p = softmax(t * cosines, present)[np.arange(len(y)), y]
        return float(-np.log(np.clip(p, 1e-15, 1.0)).mean())

    return min(TEMPERATURES, key=loss)


def out_of_fold(
    features: np.ndarray, labels: np.ndarray, n_classes: int, folds: int, seed: int = 42
) -> tuple[OutOfFold, float]:
    """k-fold scores of the head (each fold centred on its own training images), and the
    temperature chosen on those out-of-fold cosines (the probabilities use it)."""
    x = np.asarray(features, np.float64)
    y = np.asarray(labels, np.int64)

    def fit_fn(xt: np.ndarray, yt: np.ndarray, xv: np.ndarray) -> np.ndarray:
        return fit_nearest_mean(xt, yt, n_classes).cosines(xv)

    oof = out_of_fold_predictions(x, y, fit_fn, folds, seed)
    present = np.bincount(y, minlength=n_classes) > 0
    temperature = choose_temperature(oof.probs, y, present)
    probs = softmax(temperature * oof.probs, present)
    return OutOfFold(probs, oof.fold_of, oof.fold_accuracies), temperature


def as_head_fit(
    head: NearestMean, n_images: int, seconds: float = 0.0, oof: OutOfFold | None = None
) -> HeadFit:
    """The Dense layer's weights for features already centred and L2-normalised (by the
    model's ``pool``): logits = temperature x cosine; an absent class gets a bias that
    makes its probability 0."""
    accs = np.asarray(oof.fold_accuracies) if oof is not None else None
    return HeadFit(
        kernel=(head.temperature * head.means.T).astype(np.float32),
        bias=np.where(head.present, 0.0, ABSENT_LOGIT).astype(np.float32),
        C=0.0,
        cv_accuracy=float(accs.mean()) if accs is not None else None,
        cv_accuracy_std=float(accs.std()) if accs is not None else None,
        folds=len(accs) if accs is not None else 0,
        search_images=n_images,
        seconds=seconds,
        criterion="nearest-mean",
        note="",
    )


def solve(
    features: np.ndarray, labels: np.ndarray, n_classes: int, temperature: float
) -> tuple[NearestMean, float]:
    """Fit on every training image with ``temperature``; the head and its seconds."""
    t = time.perf_counter()
    head = fit_nearest_mean(features, labels, n_classes, temperature)
    return head, time.perf_counter() - t
