"""Training curves and the overfitting verdict (vision.history)."""

import pytest
import numpy as np

from vision import history as hist

# ---------------------------------------------------------------- training history
def test_curves_keep_only_per_epoch_series():
    history = {"loss": [1.0, 0.5], "val_loss": [1.1, 0.7], "accuracy": [0.5, 0.8],
               "fine_tune_starts_at_epoch": [1], "lr": []}
    series = hist.curves(history)
    assert set(series) == {"loss", "val_loss", "accuracy"}
    assert series["loss"].dtype == np.float64
    assert hist.fine_tune_epoch(history) == 2  # one head-only epoch, fine-tuning from epoch 2
    assert hist.fine_tune_epoch({"loss": [1.0]}) is None
    assert hist.fine_tune_epoch({"fine_tune_starts_at_epoch": 4}) == 5


def test_overfitting_finds_the_turning_point():
    history = {"loss": [1.0, 0.6, 0.4, 0.3, 0.2, 0.1], "val_loss": [1.0, 0.7, 0.5, 0.55, 0.6, 0.7],
               "accuracy": [0.5, 0.7, 0.8, 0.9, 0.95, 0.99], "val_accuracy": [0.5, 0.7, 0.8, 0.8, 0.8, 0.79]}
    verdict = hist.overfitting(history)
    assert verdict.overfits and verdict.best_val_epoch == 3 and verdict.epochs == 6
    assert verdict.val_loss_rise == pytest.approx(0.2) and verdict.train_loss_drop == pytest.approx(0.3)
    assert verdict.accuracy_gap == pytest.approx(0.2)
    assert "after epoch 3" in verdict.message and "overfits" in verdict.message


@pytest.mark.parametrize("val_loss, overfits, words", [
    ([1.0, 0.8, 0.6, 0.5], False, "No sign"),            # still falling
    ([1.0, 0.6, 0.605, 0.603], False, "Hardly any"),     # a wiggle under 2% is not overfitting
    ([1.0, 0.6, 0.7, 0.8], True, "after epoch 2"),
])
def test_overfitting_needs_a_real_rise(val_loss, overfits, words):
    verdict = hist.overfitting({"loss": [1.0, 0.7, 0.5, 0.4], "val_loss": val_loss})
    assert verdict.overfits is overfits and words in verdict.message


def test_overfitting_without_validation_says_so():
    verdict = hist.overfitting({"loss": [1.0, 0.5]})
    assert not verdict.overfits and verdict.best_val_epoch is None
    assert "cannot be judged" in verdict.message
    # Training loss rising too is not overfitting (the whole run went wrong).
    assert not hist.overfitting({"loss": [0.5, 0.6, 0.7], "val_loss": [0.5, 0.6, 0.7]}).overfits
