"""The pieces behind the doodle model's training and honesty, on synthetic inputs (no dataset):
centre lines of a drawing, the augmentation (seeded, uniform targets for outliers) and
temperature scaling (recovers a known temperature; folded into the logits layer)."""

from __future__ import annotations

import cv2
import keras
import numpy as np
import pytest

from vision.augment import augmented_doodles, elastic
from vision.calibration import calibrate, fit_temperature, fold_temperature, is_unsure, softmax, \
    unsure_threshold
from vision.sketches import Pen, centre_lines, render, thin_mask


def ring28(radius: float = 9.0) -> np.ndarray:
    image = np.zeros((28, 28), np.uint8)
    cv2.circle(image, (14, 14), int(radius), 255, 2, cv2.LINE_AA)
    return image


def test_thinning_leaves_a_one_pixel_ring():
    mask = np.zeros((80, 80), np.uint8)
    cv2.circle(mask, (40, 40), 25, 1, 7)
    skeleton = thin_mask(mask > 0)
    assert abs(skeleton.sum() - 2 * np.pi * 25) < 0.15 * 2 * np.pi * 25
    assert (skeleton & ~(mask > 0)).sum() == 0  # inside the strokes only


def test_centre_lines_follow_the_strokes():
    lines = centre_lines(ring28())
    points = np.concatenate(lines)
    distance = np.hypot(points[:, 0] - 14, points[:, 1] - 14)
    assert np.all(np.abs(distance - 9) < 1.5)
    redrawn = render(lines, 280, Pen(3), box=(0, 0, 280))
    assert redrawn.min() < 50 and redrawn[140, 140].min() == 255  # a ring, not a disc


def test_augmentation_is_seeded_and_outliers_have_a_uniform_target():
    x = np.stack([ring28(r) for r in (6, 8, 10, 12)] * 10)
    y = np.arange(len(x)) % 3
    first = augmented_doodles(x, y, num_classes=3, copies=1, seed=5, log=lambda *_: None)
    again = augmented_doodles(x, y, num_classes=3, copies=1, seed=5, log=lambda *_: None)
    other = augmented_doodles(x, y, num_classes=3, copies=1, seed=6, log=lambda *_: None)
    assert np.array_equal(first[0], again[0]) and np.array_equal(first[1], again[1])
    assert not np.array_equal(first[0], other[0])
    images, targets = first
    assert images.dtype == np.uint8 and images.shape[1:] == (28, 28)
    assert np.array_equal(images[:len(x)], x)  # the clean drawings come first, untouched
    assert np.array_equal(targets[len(x):2 * len(x)].argmax(1), y)  # views keep their labels
    outliers = targets[2 * len(x):]
    assert len(outliers) >= 1 and np.allclose(outliers, 1 / 3)
    assert np.allclose(targets.sum(axis=1), 1)


def test_elastic_distortion_moves_pixels_but_keeps_the_drawing():
    image = ring28()
    moved = elastic(image, np.random.default_rng(0))
    assert not np.array_equal(moved, image)
    assert abs(float(moved.sum()) - float(image.sum())) < 0.15 * image.sum()


def test_temperature_scaling_recovers_a_known_temperature():
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 3, (4000, 5))
    truth = 2.0
    probabilities = softmax(logits, truth)
    y = np.array([rng.choice(5, p=p) for p in probabilities])
    assert fit_temperature(logits, y) == pytest.approx(truth, rel=0.1)
    calibration = calibrate(logits, y)
    assert calibration.nll_after <= calibration.nll_before
    assert calibration.confident_accuracy >= 0.98 - 1e-9


def test_unsure_threshold_is_where_the_guesses_become_reliable():
    # 100 confident right answers at 0.9, then 100 at 0.5 that are right half of the time
    probabilities = np.array([[0.9, 0.1]] * 100 + [[0.5, 0.5]] * 100)
    y = np.array([0] * 100 + [0, 1] * 50)
    assert unsure_threshold(probabilities, y, target=0.98) == pytest.approx(0.9)
    assert is_unsure(np.array([0.6, 0.4]), {"unsure_below": 0.9})
    assert not is_unsure(np.array([0.6, 0.4]), None)


def test_folding_the_temperature_into_the_logits_layer():
    inputs = keras.Input((4,))
    logits = keras.layers.Dense(3, name="logits")(inputs)
    model = keras.Model(inputs, keras.layers.Activation("softmax", name="probabilities")(logits))
    x = np.random.default_rng(1).normal(size=(6, 4)).astype(np.float32)
    raw = keras.Model(inputs, logits)(x).numpy()
    fold_temperature(model, 2.5)
    assert np.allclose(model(x).numpy(), softmax(raw, 2.5), atol=1e-5)
