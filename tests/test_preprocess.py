"""What the model sees: photos and drawings become inputs that look like the training data.

Measured here (mean absolute error per pixel on the 0-255 scale):
  Fashion-MNIST test image -> photo-like upload (10x cubic, inverted onto white, white margins,
      JPEG quality 85) -> fashion_from_photo: 18.7 from the original 28x28, 40 images (8.5 with
      the old grey-threshold path). The same item on coloured / light / dark / patterned
      backgrounds: 15.1 / 22.0 / 18.4 / 18.1 (the old grey-threshold path: 74.6 / 11.6 / 69.3 /
      40.9).
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
    _drop_specks,
    _grow_into,
    _paper_level_and_grain,
    TWO_OBJECTS,
    UNCLEAR,
    Preprocessed,
    dataset_image_input,
    doodle_from_canvas,
    fashion_from_photo,
    photo_for_mobilenet,
    photo_to_square,
    preprocess,
)

SAMPLES = 200
FASHION_SAMPLES = 40  # GrabCut takes about 0.1 s a photo on a shared CPU


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
    images = fashion_test_images[:FASHION_SAMPLES]
    results = [fashion_from_photo(as_photo(image)) for image in images]
    outputs = [r.model_input[..., 0] for r in results]
    error = mean_abs_error(outputs, images)
    print(f"Fashion-MNIST photo round trip (white background): MAE {error:.2f}")
    # Measured: 18.7. The grey-threshold path had 8.5 on this, its one easy case: GrabCut's mask,
    # made at 200 px, often moves the item's box edge by a pixel at 28 px, or loses its faintest
    # edge pixels. The real-photo figures (python -m vision.evaluate_photos) are what it buys.
    assert error < 22
    first = results[0]
    assert first.model_input.shape == (28, 28, 1) and first.model_input.dtype == np.float32
    assert step_names(first) == ["original", "mask", "grey, light on black", "cropped",
                                 "28x28 input"]
    mask = first.steps[1].image
    assert set(np.unique(mask)) == {0, 255} and mask[0, 0] == 0  # the mask is a shown step


@pytest.mark.data
def test_fashion_item_fills_the_frame_and_is_light_on_black(fashion_test_images):
    photo = as_photo(fashion_test_images[1], jpeg_quality=None)
    image = fashion_from_photo(photo).model_input[..., 0]
    rows, cols = np.nonzero(image > 20)
    assert max(np.ptp(rows), np.ptp(cols)) + 1 == 28
    assert image[0, 0] == 0 and image[rows, cols].mean() > 100


@pytest.mark.data
def test_fashion_light_item_on_a_dark_background_is_negated_like_fashion_mnist(fashion_test_images):
    """Fashion-MNIST negated its product photos: a light garment is dim, its dark print bright.
    The background, masked out, is black whatever its shade."""
    item = fashion_test_images[0]
    big = cv2.resize(item, (280, 280), interpolation=cv2.INTER_CUBIC)
    dark = cv2.copyMakeBorder(big, 50, 50, 50, 50, cv2.BORDER_CONSTANT, value=0)
    image = fashion_from_photo(dark).model_input[..., 0]
    assert image[0, 0] == 0 and image.max() >= 200
    inside = (item > 60) & (image > 0)
    assert np.corrcoef(image[inside], item[inside])[0, 1] < 0  # grey levels reversed


@pytest.mark.data
def test_fashion_ignores_jpeg_noise_and_a_grey_background(fashion_test_images):
    photo = as_photo(fashion_test_images[2], jpeg_quality=None).astype(np.int16)
    noisy = photo * 0.8 + np.random.default_rng(0).normal(0, 6, photo.shape)  # grey paper
    result = fashion_from_photo(np.clip(noisy, 0, 255).astype(np.uint8))
    assert np.abs(result.model_input[..., 0] - fashion_test_images[2]).mean() < 15
    assert result.model_input[0, 0, 0] == 0  # the background is black again


def silhouette(big: np.ndarray) -> np.ndarray:
    """The soft outline of an item (light on black), its enclosed regions filled."""
    mask = (big > 20).astype(np.uint8)
    padded = np.pad(mask, 1)
    outside = padded.copy()
    cv2.floodFill(outside, None, (0, 0), 1)
    filled = (padded | (outside == 0))[1:-1, 1:-1]
    return cv2.GaussianBlur(filled.astype(np.float32), (0, 0), 1.0)


def background(kind: str, height: int, width: int) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width]
    colours = {"coloured": [0, 128, 128], "light": [236, 226, 206], "dark": [25, 30, 75]}
    if kind == "patterned":  # red and yellow checks, 24 px
        checks = ((x // 24 + y // 24) % 2).astype(bool)[..., None]
        return np.where(checks, [200, 60, 60], [230, 200, 120]).astype(np.float32)
    return np.full((height, width, 3), colours[kind], np.float32)


def paste(photo: np.ndarray, image28: np.ndarray, side: int, top: int, left: int) -> None:
    """Lay a Fashion-MNIST item, as a photo shows it (grey levels negated), onto `photo`."""
    big = np.clip(cv2.resize(image28, (side, side), interpolation=cv2.INTER_CUBIC)
                  .astype(np.float32), 0, 255)
    alpha = silhouette(big)[..., None]
    region = photo[top:top + side, left:left + side]
    region[:] = alpha * (255 - big)[..., None] + (1 - alpha) * region


def on_background(image28: np.ndarray, kind: str, rng: np.random.Generator) -> np.ndarray:
    photo = background(kind, 380, 410)
    paste(photo, image28, 280, 60, 70)
    photo = np.clip(photo + rng.normal(0, 2, photo.shape), 0, 255).astype(np.uint8)
    _, encoded = cv2.imencode(".jpg", photo[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 90])
    return np.ascontiguousarray(cv2.imdecode(encoded, cv2.IMREAD_COLOR)[..., ::-1])


@pytest.mark.data
# Mean error per pixel (0-255) over 40 test items; measured with the grey-threshold path first:
# coloured 74.6, light 11.6, dark 69.3, patterned 40.9. GrabCut: 15.1, 22.0, 18.4, 18.1.
@pytest.mark.parametrize("kind", ["coloured", "light", "dark", "patterned"])
def test_fashion_item_comes_back_from_any_background(fashion_test_images, kind):
    rng = np.random.default_rng(0)
    images = fashion_test_images[:FASHION_SAMPLES]
    outputs = [fashion_from_photo(on_background(i, kind, rng)).model_input[..., 0] for i in images]
    error = mean_abs_error(outputs, images)
    print(f"{kind} background: MAE {error:.2f}")
    assert error < 25
    assert all(o[0, 0] == 0 and o.max() >= 200 for o in outputs)  # light on black


@pytest.mark.data
def test_two_shoes_side_by_side_come_back_as_the_larger_one():
    _, _, x_test, y_test = load_fashion_mnist_arrays()
    sneakers = x_test[y_test == 7]
    closer, notes, errors = 0, 0, []
    for large, small in zip(sneakers[:20], sneakers[20:40]):
        photo = background("light", 400, 640)
        paste(photo, large, 280, 60, 30)
        paste(photo, small, 220, 100, 380)
        result = fashion_from_photo(photo.astype(np.uint8))
        image = result.model_input[..., 0]
        errors.append(np.abs(image - large).mean())
        closer += errors[-1] < np.abs(image - small).mean()
        notes += result.note is TWO_OBJECTS
    print(f"pair of shoes: MAE {np.mean(errors):.2f} from the larger shoe; note on {notes}/20")
    assert closer >= 16 and np.mean(errors) < 22  # measured: 17 of 20, 18.2
    assert notes >= 15  # measured: 17; the others were read as one object
    assert "pair of shoes" in TWO_OBJECTS.message


def test_photo_of_many_alike_objects_is_unclear_not_refused():
    """No single object stands out (four socks laid apart): a guess is made, and the note says
    what kind of photo works best."""
    photo = np.full((300, 400, 3), [236, 226, 206], np.uint8)
    for left in (30, 120, 210, 300):
        cv2.rectangle(photo, (left, 60), (left + 60, 240), (40, 60, 150), -1)
    result = fashion_from_photo(photo)
    assert result.note is UNCLEAR and "plain background" in UNCLEAR.message


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


def test_growing_and_dropping_specks_in_one_labelling_is_both_steps():
    """`_grow_into` with a minimum area (one connected-components pass, used on a canvas) against
    an independent reference: scikit-image's labelling, keeping the 8-connected pieces of the
    weak mask that hold a strong pixel and are large enough; and the two steps it replaces."""
    from skimage.measure import label

    rng = np.random.default_rng(7)
    for density in (0.2, 0.45, 0.6):
        weak = cv2.GaussianBlur(rng.random((120, 150)).astype(np.float32), (5, 5), 0) > 0.5 - density / 4
        weak &= rng.random(weak.shape) < 0.9
        strong = weak & (rng.random(weak.shape) < 0.02)
        for min_area in (0.0, 4.0, 30.0):
            labels = label(weak, connectivity=2)
            areas = np.bincount(labels.ravel())
            keep = np.zeros(labels.max() + 1, bool)
            keep[np.unique(labels[strong])] = True
            keep &= areas >= min_area
            keep[0] = False
            expected = keep[labels]
            assert expected.any() and not expected.all(), "the case would prove nothing"
            np.testing.assert_array_equal(_grow_into(weak, strong, min_area), expected)
            np.testing.assert_array_equal(
                _grow_into(weak, strong, min_area), _drop_specks(_grow_into(weak, strong), min_area))


@pytest.mark.parametrize("size", [10, 11, 1000, 1001])
def test_paper_level_and_grain_skip_the_sort_only_when_numpy_says_zero(size):
    """Around the share of exact zeros where the shortcut starts, against np.percentile and
    np.median on the same pixels."""
    rng = np.random.default_rng(size)
    for zeros in range(int(0.55 * size), size + 1):
        darkness = np.concatenate([np.zeros(zeros, np.float32),
                                   rng.uniform(0.01, 1, size - zeros).astype(np.float32)])
        rng.shuffle(darkness)
        paper = darkness[darkness <= np.percentile(darkness, 60)]
        level = float(np.median(paper))
        grain = 1.4826 * float(np.median(np.abs(paper - level)))
        assert _paper_level_and_grain(darkness) == (level, grain), zeros
