"""What the model sees: photos and drawings become inputs that look like the training data.

Measured here (mean absolute error per pixel on the 0-255 scale, 200 images each):
  Fashion-MNIST test image -> photo-like upload (10x cubic, inverted onto white, white margins,
      JPEG quality 85) -> fashion_from_photo: 8.5 from the original 28x28.
  Quick, Draw! doodle -> 280x280 RGBA canvas, dark ink, alpha = ink -> doodle_from_canvas:
      4.9 from the original 28x28.
  100 of these doodles drawn with a pen 20 px thicker: 7.5 from the normal pen's result
      (about 33 when the strokes are only cropped and shrunk, without the width normalisation).
"""

import cv2
import numpy as np
import pytest

from vision.data import load_doodle_arrays, load_fashion_mnist_arrays
from vision.errors import EmptyCanvasError, InvalidImageError
from vision.preprocess import (
    PREPROCESSORS,
    Preprocessed,
    dataset_image_input,
    doodle_from_canvas,
    fashion_from_photo,
    photo_for_mobilenet,
    photo_to_square,
    preprocess,
)

SAMPLES = 200


def mean_abs_error(images: list[np.ndarray], originals: np.ndarray) -> float:
    return float(np.mean([np.abs(a.astype(np.float32) - b).mean()
                          for a, b in zip(images, originals)]))


def as_photo(image28: np.ndarray, jpeg_quality: int | None = 85) -> np.ndarray:
    """A Fashion-MNIST item as a user's photo: big, dark on a white background with margins."""
    big = cv2.resize(image28, (280, 280), interpolation=cv2.INTER_CUBIC)
    light = cv2.copyMakeBorder(255 - big, 60, 40, 80, 30, cv2.BORDER_CONSTANT, value=255)
    rgb = cv2.cvtColor(light, cv2.COLOR_GRAY2RGB)
    if jpeg_quality is None:
        return rgb
    _, encoded = cv2.imencode(".jpg", rgb, [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality])
    return cv2.cvtColor(cv2.imdecode(encoded, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def as_canvas(ink: np.ndarray, side: int = 280) -> np.ndarray:
    """Ink (white on black) as the drawing canvas returns it: black pen, alpha = ink."""
    canvas = np.zeros((side, side, 4), np.uint8)
    canvas[..., 3] = cv2.resize(ink, (side, side), interpolation=cv2.INTER_CUBIC)
    return canvas


def step_names(result: Preprocessed) -> list[str]:
    return [step.name for step in result.steps]


@pytest.fixture(scope="module")
def fashion_test_images() -> np.ndarray:
    return load_fashion_mnist_arrays()[2][:SAMPLES]


@pytest.fixture(scope="module")
def doodles() -> np.ndarray:
    images, _ = load_doodle_arrays()
    return images[np.random.default_rng(0).choice(len(images), SAMPLES, replace=False)]


# ---------------------------------------------------------------- Fashion-MNIST
@pytest.mark.data
def test_fashion_photo_comes_back_close_to_the_dataset_image(fashion_test_images):
    results = [fashion_from_photo(as_photo(image)) for image in fashion_test_images]
    error = mean_abs_error([r.model_input[..., 0] for r in results], fashion_test_images)
    print(f"Fashion-MNIST photo round trip: MAE {error:.2f}")
    assert error < 10
    first = results[0]
    assert first.model_input.shape == (28, 28, 1) and first.model_input.dtype == np.float32
    assert step_names(first) == ["original", "grayscale", "inverted", "cropped", "28x28 input"]


@pytest.mark.data
def test_fashion_item_fills_the_frame_and_is_light_on_black(fashion_test_images):
    photo = as_photo(fashion_test_images[1], jpeg_quality=None)
    image = fashion_from_photo(photo).model_input[..., 0]
    rows, cols = np.nonzero(image > 20)
    assert max(np.ptp(rows), np.ptp(cols)) + 1 == 28
    assert image[0, 0] == 0 and image[rows, cols].mean() > 100


@pytest.mark.data
def test_fashion_photo_on_a_dark_background_is_not_inverted(fashion_test_images):
    big = cv2.resize(fashion_test_images[0], (280, 280), interpolation=cv2.INTER_CUBIC)
    dark = cv2.copyMakeBorder(big, 50, 50, 50, 50, cv2.BORDER_CONSTANT, value=0)
    result = fashion_from_photo(dark)
    assert "background already dark" in step_names(result)
    error = np.abs(result.model_input[..., 0] - fashion_test_images[0]).mean()
    assert error < 15


@pytest.mark.data
def test_fashion_ignores_jpeg_noise_and_a_grey_background(fashion_test_images):
    photo = as_photo(fashion_test_images[2], jpeg_quality=None).astype(np.int16)
    noisy = photo * 0.8 + np.random.default_rng(0).normal(0, 6, photo.shape)  # grey paper
    result = fashion_from_photo(np.clip(noisy, 0, 255).astype(np.uint8))
    assert np.abs(result.model_input[..., 0] - fashion_test_images[2]).mean() < 15
    assert result.model_input[0, 0, 0] == 0  # the background is black again


@pytest.mark.parametrize("shade", [255, 0, 128])
def test_photo_without_an_object_is_refused(shade):
    with pytest.raises(InvalidImageError, match="could not find an object"):
        fashion_from_photo(np.full((300, 200, 3), shade, np.uint8))


def test_photo_of_only_background_noise_is_refused():
    noise = np.random.default_rng(0).normal(240, 4, (300, 300)).clip(0, 255).astype(np.uint8)
    with pytest.raises(InvalidImageError):
        fashion_from_photo(noise)


# ---------------------------------------------------------------- Quick, Draw!
@pytest.mark.data
def test_doodle_canvas_comes_back_close_to_the_dataset_image(doodles):
    results = [doodle_from_canvas(as_canvas(image)) for image in doodles]
    error = mean_abs_error([r.model_input[..., 0] for r in results], doodles)
    print(f"Quick, Draw! canvas round trip: MAE {error:.2f}")
    assert error < 6.5
    first = results[0]
    assert first.model_input.shape == (28, 28, 1) and first.model_input.dtype == np.float32
    assert step_names(first) == ["drawing", "ink (paper removed)", "ink mask", "cropped", "28x28 input"]


@pytest.mark.data
def test_a_thicker_pen_gives_nearly_the_same_doodle(doodles):
    subset = doodles[:100]
    normal = [as_canvas(image) for image in subset]
    pen = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (21, 21))
    thick = [np.dstack([c[..., :3], cv2.dilate(c[..., 3], pen)]) for c in normal]
    normal_out = [doodle_from_canvas(c).model_input[..., 0] for c in normal]
    thick_out = np.array([doodle_from_canvas(c).model_input[..., 0] for c in thick])
    error = mean_abs_error(normal_out, thick_out)
    print(f"thick pen vs normal pen: MAE {error:.2f}")
    assert error < 9.5
    assert abs(thick_out.mean() - subset.mean()) < 5  # no fatter strokes than in the dataset


def draw_fish(pen: int, side: int = 400) -> np.ndarray:
    """A fish drawn on a transparent canvas with a black pen `pen` px wide."""
    alpha = np.zeros((side, side), np.uint8)
    cv2.ellipse(alpha, (170, 200), (110, 60), 0, 0, 360, 255, pen, cv2.LINE_AA)
    tail = np.array([[280, 200], [360, 140], [360, 260], [280, 200]], np.int32)
    cv2.polylines(alpha, [tail], False, 255, pen, cv2.LINE_AA)
    cv2.circle(alpha, (110, 185), 12, 255, pen, cv2.LINE_AA)
    canvas = np.zeros((side, side, 4), np.uint8)
    canvas[..., 3] = alpha
    return canvas


def test_thin_and_thick_pens_give_similar_doodles():
    thin, thick = (doodle_from_canvas(draw_fish(pen)).model_input[..., 0] for pen in (3, 24))
    assert np.abs(thin - thick).mean() < 4
    assert abs(thin.mean() - thick.mean()) < 3


def test_doodle_is_centred_and_leaves_a_one_pixel_margin():
    image = doodle_from_canvas(draw_fish(8)).model_input[..., 0]
    rows, cols = np.nonzero(image)
    assert cols.min() == 1 and cols.max() == 26  # the longest side, as in Quick, Draw!
    assert abs((rows.min() + rows.max()) / 2 - 13.5) <= 0.5


def test_dark_ink_on_white_rgb_works_like_the_canvas():
    canvas = draw_fish(8)
    on_white = np.repeat(255 - canvas[..., 3:], 3, axis=2)
    from_rgb = doodle_from_canvas(on_white).model_input
    assert np.abs(from_rgb - doodle_from_canvas(canvas).model_input).max() <= 2


def test_opaque_canvas_with_white_background():
    canvas = draw_fish(8)
    opaque = np.dstack([np.repeat(255 - canvas[..., 3:], 3, axis=2), np.full((400, 400), 255)])
    result = doodle_from_canvas(opaque.astype(np.uint8)).model_input
    assert np.abs(result - doodle_from_canvas(canvas).model_input).max() <= 2


def test_empty_canvas_is_refused():
    with pytest.raises(EmptyCanvasError, match="The canvas is empty: draw something first."):
        doodle_from_canvas(np.zeros((280, 280, 4), np.uint8))
    assert issubclass(EmptyCanvasError, InvalidImageError)


def test_a_single_dot_or_stray_pixels_are_an_empty_canvas():
    dot = np.zeros((280, 280), np.uint8)
    cv2.circle(dot, (140, 140), 5, 255, -1)  # a click with a 10 px pen
    with pytest.raises(EmptyCanvasError):
        doodle_from_canvas(as_canvas(dot))
    specks = np.zeros((280, 280), np.uint8)
    specks[[10, 100, 200, 250], [20, 240, 30, 150]] = 255
    with pytest.raises(EmptyCanvasError):
        doodle_from_canvas(as_canvas(specks))


def test_a_short_line_is_a_drawing():
    line = np.zeros((280, 280), np.uint8)
    cv2.line(line, (100, 140), (180, 140), 255, 6)
    image = doodle_from_canvas(as_canvas(line)).model_input[..., 0]
    assert image[13:15, 2:26].mean() > 100 and image[:10].max() == 0


# ---------------------------------------------------------------- photos and the registry
def test_photo_for_mobilenet_shape_and_steps():
    photo = np.random.default_rng(0).integers(0, 256, (300, 500, 3), dtype=np.uint8)
    result = photo_for_mobilenet(photo)
    assert result.model_input.shape == (224, 224, 3) and result.model_input.dtype == np.float32
    assert np.array_equal(result.model_input, photo_to_square(photo, 224))
    assert step_names(result) == ["original", "resized and centre-cropped"]
    assert photo_for_mobilenet(photo[..., 0], size=96).model_input.shape == (96, 96, 3)


def test_big_photos_are_shown_small():
    photo = np.full((2000, 1500, 3), 255, np.uint8)
    photo[500:1500, 400:1100] = 30
    for step in fashion_from_photo(photo).steps + photo_for_mobilenet(photo).steps:
        assert max(step.image.shape[:2]) <= 512 and step.image.dtype == np.uint8


@pytest.mark.data
def test_dataset_image_is_used_as_it_is(doodles):
    result = dataset_image_input(doodles[0])
    assert result.model_input.shape == (28, 28, 1) and result.model_input.dtype == np.float32
    assert np.array_equal(result.model_input[..., 0], doodles[0])
    assert step_names(result) == ["28x28 input"]


@pytest.mark.data
def test_preprocess_dispatches_by_kind(doodles):
    canvas = as_canvas(doodles[0])
    assert set(PREPROCESSORS) == {"fashion", "doodle", "photo"}
    assert np.array_equal(preprocess("doodle", canvas).model_input,
                          doodle_from_canvas(canvas).model_input)
    with pytest.raises(ValueError):
        preprocess("sketch", canvas)
