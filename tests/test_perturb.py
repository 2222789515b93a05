"""Perturbations, occlusion sensitivity and the rotation sweep (vision.perturb), against numpy
and toy models."""

import numpy as np
import pytest

from vision import perturb
from vision.errors import InvalidImageError


# ---------------------------------------------------------------- perturbations
def square_image(shape=(28, 28)) -> np.ndarray:
    image = np.zeros(shape, np.uint8)
    image[6:20, 9:17] = 200
    image[8, 10] = 255
    return image


@pytest.mark.parametrize("shape", [(28, 28), (28, 28, 1), (28, 28, 3)])
def test_perturb_defaults_and_full_turn_are_identities(shape):
    image = np.broadcast_to(square_image().reshape(28, 28, *([1] * (len(shape) - 2))), shape).copy()
    for kwargs in ({}, {"rotate_deg": 360}, {"rotate_deg": -720}):
        out = perturb.perturb(image, **kwargs)
        assert out.shape == image.shape and out.dtype == image.dtype
        np.testing.assert_array_equal(out, image)
    turned = perturb.perturb(image, rotate_deg=37, blur_sigma=1.0, shift=(0.1, 0), noise_std=0.05)
    assert turned.shape == image.shape and turned.dtype == np.uint8


def test_perturb_rotation_and_shift_against_numpy():
    image = square_image()
    np.testing.assert_array_equal(perturb.perturb(image, rotate_deg=90), np.rot90(image))
    shifted = perturb.perturb(image, shift=(2 / 28, -3 / 28))  # 2 px right, 3 px up
    expected = np.zeros_like(image)
    expected[:-3, 2:] = image[3:, :-2]
    np.testing.assert_array_equal(shifted, expected)


def test_perturb_fills_with_the_border_median():
    white = np.full((28, 28), 250, np.uint8)
    white[10:18, 10:18] = 0
    rotated = perturb.perturb(white, rotate_deg=45, scale=0.5)
    assert rotated[0, 0] == 250 and rotated[-1, -1] == 250  # white background stays white
    dark = perturb.perturb(square_image(), rotate_deg=45)
    assert dark[0, 0] == 0 and dark[-1, -1] == 0  # Fashion's black stays black


def test_perturb_brightness_clips_and_noise_is_seeded():
    image = square_image()
    assert (perturb.perturb(image, brightness=1.0) == 255).all()
    assert (perturb.perturb(image, brightness=-1.0) == 0).all()
    half = perturb.perturb(image, brightness=0.5)
    assert half[0, 0] == 128 and half[10, 10] == 255  # 0 + 127.5 rounds to 128; 200 + 127.5 clips
    a = perturb.perturb(image, noise_std=0.1, seed=3)
    np.testing.assert_array_equal(a, perturb.perturb(image, noise_std=0.1, seed=3))
    assert (a != perturb.perturb(image, noise_std=0.1, seed=4)).any()
    assert 5 < np.std(a.astype(float) - image) < 30  # about 0.1 * 255, less where clipped


def test_perturb_occlusion_and_blur():
    image = square_image()
    occluded = perturb.perturb(image, occlusion=(0.5, 0.5, 0.25))  # 7x7 at the centre
    changed = occluded != image
    assert (occluded[changed] == 128).all()
    assert occluded[14, 14] == 128 and (occluded[:10] == image[:10]).all()
    blurred = perturb.perturb(image, blur_sigma=2.0)
    assert blurred.std() < image.std() and abs(blurred.mean() - image.mean()) < 2
    with pytest.raises(InvalidImageError):
        perturb.perturb(np.zeros((2, 3, 4, 5), np.uint8))


# ---------------------------------------------------------------- sensitivity
class RegionModel:
    """A toy classifier: class 0's probability is the brightness of one region, class 1 the rest."""

    region = (slice(4, 8), slice(10, 14))

    def __init__(self):
        self.calls = 0

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        self.calls += 1
        assert batch.ndim == 4 and batch.dtype == np.float32
        p0 = batch[:, self.region[0], self.region[1], 0].mean(axis=(1, 2)) / 255
        return np.stack([p0, 1 - p0], axis=1)


def test_occlusion_map_is_high_exactly_on_the_region_that_matters():
    image = np.zeros((20, 20), np.uint8)
    image[RegionModel.region] = 255
    image[15:19, 1:5] = 255  # bright, but the model ignores it
    model = RegionModel()
    steps = []
    heat = perturb.occlusion_sensitivity(model, image, 0, patch=2, stride=2, fill=0,
                                         progress=steps.append)
    expected = np.zeros((20, 20), np.float32)
    expected[RegionModel.region] = 4 / 16  # each 2x2 patch hides a quarter of the region
    assert heat.dtype == np.float32 and heat.shape == (20, 20)
    np.testing.assert_allclose(heat, expected, atol=1e-6)
    assert model.calls == 2  # 100 patches + the baseline in batches of 64
    assert steps == sorted(steps) and steps[-1] == 1.0


def test_occlusion_averages_overlaps_and_defaults_to_grey_and_the_prediction():
    image = np.zeros((20, 20, 1), np.uint8)
    image[RegionModel.region] = 255
    model = RegionModel()
    heat = perturb.occlusion_sensitivity(model, image, None, patch=4, stride=1, batch_size=1000)
    assert model.calls == 1
    assert heat.shape == (20, 20)
    # mid-grey hides half the brightness; the centre of the region is hidden by more patches
    assert heat[5, 11] > heat[4, 10] > 0
    assert heat.max() <= 0.5 + 1e-6
    assert heat[15, 2] == 0  # no patch reaching this pixel touches the region


def softmax_model(seed: int = 0, classes: int = 3):
    weights = np.random.default_rng(seed).normal(size=(28 * 28, classes)) / 255

    def predict(batch: np.ndarray) -> np.ndarray:
        logits = batch.reshape(len(batch), -1) @ weights
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    return predict


def test_rotation_sweep_at_zero_is_the_plain_prediction():
    predict = softmax_model()
    calls = []
    image = square_image()
    sweep = perturb.rotation_sweep(lambda b: calls.append(len(b)) or predict(b), image, None)
    assert calls == [25]  # one batched call for -180..180 every 15 degrees
    assert sweep.probabilities.shape == (25, 3) and sweep.predicted.shape == (25,)
    zero = int(np.flatnonzero(sweep.angles == 0)[0])
    plain = predict(image[None, ..., None].astype(np.float32))[0]
    np.testing.assert_allclose(sweep.probabilities[zero], plain, rtol=1e-6)
    assert sweep.class_index == int(np.argmax(plain))
    half_turn = predict(np.rot90(image, 2)[None, ..., None].astype(np.float32))[0]
    np.testing.assert_allclose(sweep.probabilities[0], half_turn, rtol=1e-5)
    np.testing.assert_array_equal(sweep.predicted, sweep.probabilities.argmax(axis=1))
    np.testing.assert_allclose(sweep.class_probabilities, sweep.probabilities[:, sweep.class_index])
    assert perturb.rotation_sweep(predict, image, 2, angles=[0, 90]).class_index == 2


def test_steady_range_around_upright():
    angles = np.arange(-30, 31, 10)
    assert perturb.steady_range(angles, np.array([2, 1, 1, 1, 1, 2, 1]), 1) == (-20.0, 10.0)
    assert perturb.steady_range(angles, np.array([1, 1, 1, 2, 1, 1, 1]), 1) is None
    assert perturb.steady_range(angles, np.ones(7, int), 1) == (-30.0, 30.0)
    assert perturb.steady_range(np.array([]), np.array([]), 0) is None
