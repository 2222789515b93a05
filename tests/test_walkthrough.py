"""The toy CNN walkthrough against hand-computed numbers, and the real-layer version against Keras."""

import numpy as np
import pytest

from vision import walkthrough as w
from vision.errors import InvalidImageError

# Brandon Rohrer's published map for the X image and the "\" filter, in ninths (0.77 = 7/9 ...).
ROHRER_DIAGONAL_MAP = np.array([
    [7, -1, 1, 3, 5, -1, 3],
    [-1, 9, -1, 3, -1, 1, -1],
    [1, -1, 9, -3, 1, -1, 5],
    [3, 3, -3, 5, -3, 3, 3],
    [5, -1, 1, -3, 9, -1, 1],
    [-1, 1, -1, 3, -1, 9, -1],
    [3, -1, 5, 3, 1, -1, 7],
]) / 9


def test_x_image_and_diagonal_filter_give_the_published_map():
    conv = w.convolve(w.X_IMAGE, w.FILTERS["diagonal \\"])
    assert conv.shape == (7, 7)
    assert np.floor(conv[0, 0] * 100) / 100 == 0.77  # the slide's 0.77 (7/9 = 0.777...)
    assert conv[0, 0] == pytest.approx(7 / 9)
    for i in (1, 2, 4, 5):
        assert conv[i, i] == pytest.approx(1.0)
    assert conv[3, 3] == pytest.approx(5 / 9)  # the centre: the other stroke crosses it
    np.testing.assert_allclose(conv, ROHRER_DIAGONAL_MAP, atol=1e-12)


def test_convolve_matches_a_direct_loop_and_scipy():
    rng = np.random.default_rng(0)
    image = rng.choice([-1.0, 1.0], size=(9, 9))
    kernel = rng.normal(size=(3, 3))
    loop = np.array([[np.sum(image[r:r + 3, c:c + 3] * kernel) / 9 for c in range(7)]
                     for r in range(7)])
    np.testing.assert_allclose(w.convolve(image, kernel), loop, atol=1e-12)
    from scipy import signal
    np.testing.assert_allclose(w.convolve(image, kernel),
                               signal.correlate2d(image, kernel, mode="valid") / 9, atol=1e-12)
    np.testing.assert_allclose(w.convolve(image, kernel, padding="same"),
                               signal.correlate2d(image, kernel, mode="same") / 9, atol=1e-12)


def test_convolution_steps_explain_every_value():
    kernel = w.FILTERS["x centre"]
    steps = list(w.convolution_steps(w.X_IMAGE, kernel))
    assert len(steps) == 49
    assert (steps[0].row, steps[0].col, steps[-1].row, steps[-1].col) == (0, 0, 6, 6)
    expected = w.convolve(w.X_IMAGE, kernel)
    for step in steps:
        np.testing.assert_array_equal(step.patch, w.X_IMAGE[step.row:step.row + 3, step.col:step.col + 3])
        np.testing.assert_array_equal(step.products, step.patch * kernel)
        assert step.value == pytest.approx(expected[step.row, step.col])
    assert steps[3 * 7 + 3].value == pytest.approx(1.0)  # the X filter sits on the X's centre


def test_relu_and_max_pool_by_hand():
    np.testing.assert_array_equal(w.relu(np.array([[-0.5, 0.0], [0.3, -2.0]])), [[0, 0], [0.3, 0]])
    x = np.array([[1, 2, 0, 4],
                  [3, -1, 5, 1],
                  [0, 0, -2, -3],
                  [7, 1, -4, -1]], dtype=float)
    np.testing.assert_array_equal(w.max_pool(x), [[3, 5], [7, -1]])
    odd = np.arange(9, dtype=float).reshape(3, 3)
    np.testing.assert_array_equal(w.max_pool(odd), [[4, 5], [7, 8]])  # ceil: last row/col alone
    np.testing.assert_array_equal(w.max_pool(odd, ceil=False), [[4]])
    stacked = np.stack([x, -x], axis=-1)
    np.testing.assert_array_equal(w.max_pool(stacked)[..., 1], [[1, 0], [0, 4]])


def test_forward_shapes_and_pooled_map():
    result = w.forward(w.X_IMAGE)
    for name in w.FILTERS:
        assert result.conv[name].shape == (7, 7)
        assert result.relu[name].min() >= 0
        assert result.pooled[name].shape == (4, 4)
        assert result.conv2[name].shape == (4, 4)
        assert result.pooled2[name].shape == (2, 2)
    assert result.features.shape == (12,)
    # Rohrer's pooled map for the "\" filter: max of each 2x2 window of the relu'd published map.
    relu_map = np.maximum(ROHRER_DIAGONAL_MAP, 0)
    by_hand = np.array([[relu_map[r:r + 2, c:c + 2].max() for c in range(0, 7, 2)]
                        for r in range(0, 7, 2)])
    np.testing.assert_allclose(result.pooled["diagonal \\"], by_hand, atol=1e-12)
    assert result.pooled["diagonal \\"][3, 3] == pytest.approx(7 / 9)  # the corner pooled alone


def test_x_is_classified_x_and_o_is_classified_o():
    x, o = w.forward(w.X_IMAGE), w.forward(w.O_IMAGE)
    assert x.prediction == "X" and x.probabilities[0] > 0.5
    assert o.prediction == "O" and o.probabilities[1] > 0.5
    for result in (x, o):
        assert result.probabilities.sum() == pytest.approx(1.0)
    blank = w.forward(-np.ones((9, 9)))  # no ink: no evidence either way
    np.testing.assert_allclose(blank.probabilities, [0.5, 0.5])


def test_forward_is_pure_and_reacts_to_flipped_pixels():
    image = w.X_IMAGE.copy()
    before = w.forward(image)
    np.testing.assert_array_equal(image, w.X_IMAGE)
    image[4, 4] = -1  # erase the X's centre
    after = w.forward(image)
    assert after.conv["x centre"][3, 3] < before.conv["x centre"][3, 3]
    assert after.votes[0] < before.votes[0]
    with pytest.raises(InvalidImageError):
        w.forward(np.ones((8, 9)))


# ---------------------------------------------------------------- a real first layer
@pytest.mark.parametrize("channels, kernel_size", [(1, 3), (3, 4)])
def test_conv_relu_pool_real_matches_keras(channels, kernel_size):
    import keras
    keras.utils.set_random_seed(1)
    inputs = keras.Input((28, 28, channels))
    x = keras.layers.Rescaling(1 / 255)(inputs)
    conv = keras.layers.Conv2D(5, kernel_size, padding="same", bias_initializer="random_normal",
                               name="conv1")(x)
    activated = keras.layers.ReLU()(conv)
    pooled = keras.layers.MaxPooling2D()(activated)
    logits = keras.layers.Dense(2)(keras.layers.Flatten()(pooled))
    model = keras.Model(inputs, logits)
    image = np.random.default_rng(2).integers(0, 256, size=(28, 28, channels)).astype(np.uint8)

    kernels, biases = w.real_first_layer(model)
    assert kernels.shape == (kernel_size, kernel_size, channels, 5) and biases.shape == (5,)
    assert np.any(biases != 0)
    ours = w.conv_relu_pool_real(image, kernels, biases)
    stages = keras.Model(inputs, [conv, activated, pooled])
    k_conv, k_relu, k_pool = (t[0] for t in stages.predict(image[None].astype("float32"), verbose=0))
    np.testing.assert_allclose(ours.conv, k_conv, atol=1e-4)
    np.testing.assert_allclose(ours.relu, k_relu, atol=1e-4)
    np.testing.assert_allclose(ours.pooled, k_pool, atol=1e-4)
    assert ours.pooled.shape == (14, 14, 5)


def test_real_first_layer_without_bias_and_without_conv():
    import keras
    inputs = keras.Input((8, 8, 1))
    out = keras.layers.Conv2D(2, 3, use_bias=False)(keras.layers.Dense(1)(inputs))
    kernels, biases = w.real_first_layer(keras.Model(inputs, out))
    assert kernels.shape == (3, 3, 1, 2)
    np.testing.assert_array_equal(biases, 0)
    with pytest.raises(ValueError):
        w.real_first_layer(keras.Model(inputs, keras.layers.Dense(1)(inputs)))


def test_truncate_cuts_towards_zero():
    values = w.truncate(np.array([7 / 9, 1.0, -1 / 9, 0.29, -0.001, 5 / 9]))
    assert [f"{v:.2f}" for v in values] == ["0.77", "1.00", "-0.11", "0.29", "0.00", "0.55"]
    assert float(w.truncate(0.999)) == 0.99


def test_flip_pixel_copies():
    image = -np.ones((3, 3))
    flipped = w.flip_pixel(image, 1, 2)
    assert flipped[1, 2] == 1 and image[1, 2] == -1 and flipped.sum() == -7
    assert w.flip_pixel(flipped, 1, 2)[1, 2] == -1
