"""Honest confidence: temperature scaling fitted on the validation split, and the confidence
below which a page says "I'm not sure yet".

Temperature scaling (Guo et al., 2017) divides the logits by one number T, fitted to minimise the
negative log-likelihood of the validation labels: the ranking of the classes (and so the accuracy)
is unchanged, only the confidence becomes truthful. `fold_temperature` writes 1/T into the model's
`logits` layer, so the shipped `.keras` file gives calibrated probabilities everywhere.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

SELECTIVE_ACCURACY = 0.98  # above the threshold, validation guesses are right this often


@dataclass(frozen=True)
class Calibration:
    """What `calibrate` found on the validation split."""

    temperature: float
    unsure_below: float          # calibrated top-1 probability under which a page says "not sure"
    nll_before: float
    nll_after: float
    confident_fraction: float    # of validation images at or above `unsure_below`
    confident_accuracy: float    # the accuracy on those

    def as_dict(self) -> dict:
        return {k: round(v, 4) for k, v in asdict(self).items()}


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax of logits / temperature."""
    z = np.asarray(logits, np.float64) / temperature
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def nll(logits: np.ndarray, y: np.ndarray, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood of integer labels y under softmax(logits / temperature)."""
    p = softmax(logits, temperature)[np.arange(len(y)), np.asarray(y, int)]
    return float(-np.mean(np.log(np.clip(p, 1e-12, 1.0))))


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """The temperature that minimises the validation NLL (a bounded 1-D search on log T)."""
    from scipy.optimize import minimize_scalar

    result = minimize_scalar(lambda log_t: nll(logits, y, float(np.exp(log_t))),
                             bounds=(np.log(0.05), np.log(20.0)), method="bounded")
    return float(np.exp(result.x))


def unsure_threshold(probabilities: np.ndarray, y: np.ndarray,
                     target: float = SELECTIVE_ACCURACY) -> float:
    """The lowest top-1 probability such that the guesses at or above it are right at least
    `target` of the time (on the split given: the validation split)."""
    confidence = probabilities.max(axis=1)
    right = probabilities.argmax(axis=1) == np.asarray(y, int)
    order = np.argsort(-confidence, kind="stable")
    sorted_confidence = confidence[order]
    running = np.cumsum(right[order]) / np.arange(1, len(order) + 1)
    # a threshold takes every guess of its confidence or above: look only at the ends of ties
    last_of_tie = np.append(sorted_confidence[1:] != sorted_confidence[:-1], True)
    good = np.flatnonzero((running >= target) & last_of_tie)
    if good.size == 0:
        return 1.0
    return float(sorted_confidence[good[-1]])


def calibrate(logits: np.ndarray, y: np.ndarray) -> Calibration:
    """Temperature and "not sure" threshold from validation logits and labels."""
    temperature = fit_temperature(logits, y)
    probabilities = softmax(logits, temperature)
    threshold = unsure_threshold(probabilities, y)
    sure = probabilities.max(axis=1) >= threshold
    right = probabilities.argmax(axis=1) == y
    return Calibration(temperature, threshold, nll(logits, y), nll(logits, y, temperature),
                       float(sure.mean()), float(right[sure].mean()) if sure.any() else 0.0)


def fold_temperature(model, temperature: float) -> None:
    """Divide the model's `logits` layer (weights and bias) by `temperature`, in place."""
    layer = model.get_layer("logits")
    layer.set_weights([w / temperature for w in layer.get_weights()])


def is_unsure(probabilities: np.ndarray, calibration: dict | None) -> bool:
    """Whether the top-1 probability of one image is below the model's calibrated threshold
    (never unsure when the model has no calibration)."""
    if not calibration:
        return False
    return float(np.max(probabilities)) < float(calibration["unsure_below"])
