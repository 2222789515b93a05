"""What the model sees: turn a decoded image into exactly the input a model expects.

Each preprocessor returns the model input and the steps from the user's picture to it, so that
the app can show students how a photo becomes a 28x28 Fashion-MNIST item or a Quick, Draw!
doodle. Everything here is pure numpy and OpenCV.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

from vision.errors import EmptyCanvasError, InvalidImageError
from vision.heatmaps import border_pixels, bounding_box, map_onto_crop

SIDE = 28                 # Fashion-MNIST and Quick, Draw! images are 28x28
DISPLAY_SIDE = 512        # the longest side of the big pictures in `steps`
# Quick, Draw! bitmaps (measured on the data): the drawing is centred on its bounding box; its
# strokes span DOODLE_FIT px (26 with their anti-aliased fringe, leaving 1 px of margin) and are
# STROKE_WIDTH px wide, as measured by `_redraw_strokes`. Both fitted on real drawings.
DOODLE_FIT = 25.0
STROKE_WIDTH = 1.5
_WORK_SIDE = 208   # strokes are measured and redrawn at this resolution (about 8x the output)
_WORK_LEVEL = 64   # ink level of a stroke there: low, so that thin strokes stay whole
MIN_DRAWING_FRACTION = 0.05   # a drawing smaller than this part of the canvas is a stray dot
MIN_CONTRAST = 25             # grey levels between a photo's background and its object
PHOTO_WORK_SIDE = 1024        # clothing photos are shrunk to this longest side first


@dataclass(frozen=True)
class Step:
    """One picture on the way from the user's image to the model input."""

    name: str          # short title shown under the picture, e.g. "grayscale"
    image: np.ndarray  # uint8, (H, W) or (H, W, 3), for display


@dataclass(frozen=True)
class Preprocessed:
    """The model's input, how it was made, and where it came from in the user's picture.

    The model input shows the part `crop_box` = (top, bottom, left, right) of the user's picture
    (its pixel edges, in the picture's own pixels), scaled by `scale` = (rows, columns) input
    pixels per picture pixel, with the box's top-left corner at `offset` = (row, column) of the
    input. So input coordinate = offset + scale * (picture coordinate - box corner), exactly: a
    heat map of the input maps back onto the user's picture (`heatmap_on_crop`).
    """

    model_input: np.ndarray   # float32 (H, W, C), raw 0-255 pixels, exactly what the model takes
    steps: tuple[Step, ...]   # from the original image to the model input, in order
    crop_box: tuple[float, float, float, float]
    scale: tuple[float, float]
    offset: tuple[float, float] = (0.0, 0.0)

    @property
    def crop_size(self) -> tuple[float, float]:
        top, bottom, left, right = self.crop_box
        return bottom - top, right - left

    def heatmap_on_crop(self, heatmap: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
        """A heat map of the model input (any resolution: it is first brought to the input's),
        laid onto a picture of `crop_box` of shape (H, W), e.g. the "cropped" step."""
        height, width = self.model_input.shape[:2]
        heatmap = np.asarray(heatmap, np.float32)
        if heatmap.shape != (height, width):
            heatmap = cv2.resize(heatmap, (width, height), interpolation=cv2.INTER_LINEAR)
        return map_onto_crop(heatmap, self.crop_size, self.scale, self.offset, shape)


def photo_to_square(rgb: np.ndarray, size: int = 224) -> np.ndarray:
    """Resize so the shorter side is `size`, then crop the centre square: (size, size, 3) uint8."""
    return _square_and_box(rgb, size)[0]


def _square_and_box(rgb: np.ndarray, size: int):
    """`photo_to_square`, with the square's box in the photo and the scale (rows, columns)."""
    height, width = rgb.shape[:2]
    scale = size / min(height, width)
    new_w, new_h = max(size, round(width * scale)), max(size, round(height * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    resized = cv2.resize(rgb, (new_w, new_h), interpolation=interpolation)
    top, left = (new_h - size) // 2, (new_w - size) // 2
    scale_y, scale_x = new_h / height, new_w / width
    box = (top / scale_y, (top + size) / scale_y, left / scale_x, (left + size) / scale_x)
    return np.ascontiguousarray(resized[top:top + size, left:left + size]), box, (scale_y, scale_x)


# ---------------------------------------------------------------- Fashion-MNIST
def fashion_from_photo(rgb: np.ndarray) -> Preprocessed:
    """A photo of one piece of clothing (RGB or grayscale uint8) as a Fashion-MNIST image.

    Fashion-MNIST items are light on black and fill the frame: the photo is made grey, inverted
    when its background is light, cropped to the object, and its longest side fitted to 28 px.

    Raises:
        InvalidImageError: no object stands out from the background.
    """
    original = _flatten_alpha(rgb)
    image = _shrink(original, PHOTO_WORK_SIDE)  # enough for 28 px, and fast
    shrink_y, shrink_x = (image.shape[0] / original.shape[0], image.shape[1] / original.shape[1])
    gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    light_background = np.median(_border(gray)) > 127
    ink = 255 - gray if light_background else gray
    # The background becomes black, as in Fashion-MNIST, whatever its shade in the photo.
    background = float(np.percentile(_border(ink), 90))
    ink = _stretch(ink, background)
    top, bottom, left, right = _object_box(ink)
    cropped = ink[top:bottom, left:right]
    model_image, (size_h, size_w), offset = _fit_in_square(cropped, SIDE, SIDE)
    return Preprocessed(_as_input(model_image), (
        Step("original", _for_display(image)),
        Step("grayscale", _for_display(gray)),
        Step("inverted" if light_background else "background already dark", _for_display(ink)),
        Step("cropped", _for_display(cropped)),
        Step("28x28 input", model_image),
    ), crop_box=(top / shrink_y, bottom / shrink_y, left / shrink_x, right / shrink_x),
        scale=(size_h / (bottom - top) * shrink_y, size_w / (right - left) * shrink_x),
        offset=offset)


def _object_box(ink: np.ndarray) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) of what stands out from the black background."""
    smooth = cv2.GaussianBlur(ink, (5, 5), 0)  # JPEG noise is not an object
    otsu, _ = cv2.threshold(smooth, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    # Half of Otsu's level keeps an object's darker parts; the floor ignores a noisy background.
    mask = smooth > max(MIN_CONTRAST, otsu / 2)
    mask = _drop_specks(mask, min_area=mask.size * 1e-3)
    if not mask.any():
        raise InvalidImageError(
            "We could not find an object in this photo. Photograph one piece of clothing on a "
            "plain background, filling most of the picture.")
    return bounding_box(mask)


# ---------------------------------------------------------------- Quick, Draw!
def doodle_from_canvas(rgba: np.ndarray) -> Preprocessed:
    """A drawing (canvas RGBA with a transparent background, or dark ink on white) as a doodle.

    Quick, Draw! bitmaps are white ink on black, centred on the drawing's bounding box, and drawn
    with one thin pen whatever the drawing's size. So the edges of the strokes are moved in or out
    until the strokes have the dataset's width, whatever pen the user chose, and the drawing is
    fitted to the middle of the 28x28 frame.

    Raises:
        EmptyCanvasError: there is no drawing, or only a dot or a few stray pixels.
    """
    canvas = np.asarray(rgba, dtype=np.uint8)
    ink = _ink(canvas)
    mask = _drop_specks(ink >= 128, min_area=max(4.0, ink.size * 1e-4))
    top, bottom, left, right = bounding_box(mask)
    if max(bottom - top, right - left) < MIN_DRAWING_FRACTION * max(ink.shape):
        raise EmptyCanvasError("The canvas is empty: draw something first.")
    cropped, (pad_top, pad_left) = _pad_to_square(
        np.where(mask, ink, 0).astype(np.uint8)[top:bottom, left:right])
    model_image, scale, offset = _redraw_strokes(cropped)
    side = cropped.shape[0]
    square_top, square_left = top - pad_top, left - pad_left  # the square in canvas pixels
    return Preprocessed(_as_input(model_image), (
        Step("canvas", _for_display(_flatten_alpha(canvas))),
        Step("ink", _for_display(ink)),
        Step("cropped", _for_display(cropped)),
        Step("28x28 input", model_image),
    ), crop_box=(square_top, square_top + side, square_left, square_left + side),
        scale=(scale, scale), offset=offset)


def _ink(canvas: np.ndarray) -> np.ndarray:
    """How much ink each pixel holds, 0-255: its distance from white, times its opacity."""
    if canvas.ndim == 2:
        ink = 255 - canvas
    else:
        channels = cv2.split(canvas)
        ink = 255 - cv2.min(cv2.min(channels[0], channels[1]), channels[2])  # any colour is ink
        if len(channels) == 4:
            ink = cv2.multiply(ink, channels[3], scale=1 / 255)
    if np.median(_border(ink)) > 127:
        ink = 255 - ink  # light strokes on a dark canvas
    return ink


def _redraw_strokes(square: np.ndarray) -> tuple[np.ndarray, float, tuple[float, float]]:
    """Give the strokes the dataset's pen width, then fit the drawing in 28x28. Returns the
    28x28 image, the input pixels per square pixel, and where the square's corner lands in the
    input (row, column; it may lie outside)."""
    shrink = square.shape[0] > _WORK_SIDE
    work = cv2.resize(square, (_WORK_SIDE, _WORK_SIDE),
                      interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    pad = _WORK_SIDE // 8
    mask = np.pad(work >= _WORK_LEVEL, pad)  # the pad leaves room to grow
    inside = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    outside = cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    centre = mask & (inside >= cv2.dilate(inside, np.ones((3, 3), np.uint8)))
    width = 2 * float(np.median(inside[centre]))
    top, bottom, left, right = bounding_box(mask)
    extent = max(bottom - top, right - left)
    # Move every edge out (or in) by `grow` pixels so that the strokes end up STROKE_WIDTH wide
    # once the drawing spans DOODLE_FIT pixels: (width + 2 grow) / (extent + 2 grow).
    grow = (STROKE_WIDTH * extent - DOODLE_FIT * width) / (2 * (DOODLE_FIT - STROKE_WIDTH))
    signed = np.where(mask, 0.5 - inside, outside - 0.5)  # distance to the edge, < 0 inside
    strokes = np.clip(0.5 + grow - signed, 0, 1)
    # A stroke thinner than the others vanishes when edges move in: redraw its centre line.
    to_centre = cv2.distanceTransform((~centre).astype(np.uint8), cv2.DIST_L2, 5)
    strokes = np.maximum(strokes, np.clip(width / 2 + grow + 0.5 - to_centre, 0, 1))
    strokes = strokes.astype(np.float32)
    top, bottom, left, right = bounding_box(strokes >= 0.5)
    side = round(max(bottom - top, right - left) * SIDE / DOODLE_FIT)
    centre_xy = ((left + right - 1) / 2, (top + bottom - 1) / 2)
    centred = cv2.getRectSubPix(strokes, (side, side), centre_xy)
    small = cv2.resize(centred, (SIDE, SIDE), interpolation=cv2.INTER_AREA)
    # getRectSubPix puts the work image's pixel edge c - (side - 1) / 2 at the patch's edge 0;
    # the square's edge 0 is at `pad` in the work image, which is `work_per_square` times larger.
    to_input = SIDE / side
    work_per_square = _WORK_SIDE / square.shape[0]
    offset = tuple((pad - (c - (side - 1) / 2)) * to_input for c in centre_xy[::-1])
    return np.rint(np.clip(small, 0, 1) * 255).astype(np.uint8), work_per_square * to_input, offset


# ---------------------------------------------------------------- photos (MobileNetV2)
def photo_for_mobilenet(rgb: np.ndarray, size: int = 224) -> Preprocessed:
    """A photo as a (size, size, 3) input: shorter side resized to `size`, centre cropped."""
    image = _flatten_alpha(rgb)
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    square, crop_box, scale = _square_and_box(image, size)
    return Preprocessed(square.astype(np.float32), (
        Step("original", _for_display(image)),
        Step("resized and centre-cropped", square),
    ), crop_box=crop_box, scale=scale)


def dataset_image_input(image: np.ndarray) -> Preprocessed:
    """An image taken from a dataset (28x28 grey, or a 224x224 RGB test photo, uint8) is already
    what the model expects."""
    image = np.asarray(image, dtype=np.uint8)
    height, width = image.shape[:2]
    model_input = image.astype(np.float32) if image.ndim == 3 else _as_input(image)
    return Preprocessed(model_input, (Step(f"{height}x{width} input", image),),
                        crop_box=(0.0, float(height), 0.0, float(width)), scale=(1.0, 1.0))


PREPROCESSORS: dict[str, Callable[[np.ndarray], Preprocessed]] = {
    "fashion": fashion_from_photo,
    "doodle": doodle_from_canvas,
    "photo": photo_for_mobilenet,
}


def preprocess(kind: str, image: np.ndarray) -> Preprocessed:
    """Run the preprocessing a model names by `kind`: "fashion", "doodle" or "photo"."""
    if kind not in PREPROCESSORS:
        raise ValueError(f"unknown preprocessing {kind!r}; expected one of {sorted(PREPROCESSORS)}")
    return PREPROCESSORS[kind](image)


# ---------------------------------------------------------------- small helpers
def _flatten_alpha(image: np.ndarray) -> np.ndarray:
    """RGBA laid on white as RGB; (H, W, 1) as (H, W); anything else unchanged."""
    image = np.asarray(image, dtype=np.uint8)
    if image.ndim == 3 and image.shape[2] == 1:
        return image[..., 0]
    if image.ndim == 3 and image.shape[2] == 4:
        *rgb, alpha = cv2.split(image)
        return 255 - cv2.multiply(255 - cv2.merge(rgb), cv2.merge([alpha] * 3), scale=1 / 255)
    return image


def _border(image: np.ndarray) -> np.ndarray:
    """The pixels of the outer frame, 2% of the size thick (at least one pixel)."""
    return border_pixels(image, max(1, round(0.02 * min(image.shape[:2])))).ravel()


def _stretch(image: np.ndarray, black: float) -> np.ndarray:
    """Map grey level `black` to 0 and keep 255 at 255."""
    scaled = (image.astype(np.float32) - black) * (255.0 / max(255.0 - black, 1.0))
    return np.rint(np.clip(scaled, 0, 255)).astype(np.uint8)


def _drop_specks(mask: np.ndarray, min_area: float) -> np.ndarray:
    """The mask without its connected pieces smaller than `min_area` pixels."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), 8)
    keep = stats[:, cv2.CC_STAT_AREA] >= min_area
    keep[0] = False  # label 0 is the background
    return keep[labels]


def _pad_to_square(image: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
    """Centre the image on a black square as large as its longest side; also the padding added
    above and to the left."""
    height, width = image.shape[:2]
    side = max(height, width)
    top, left = (side - height) // 2, (side - width) // 2
    return cv2.copyMakeBorder(image, top, side - height - top, left, side - width - left,
                              cv2.BORDER_CONSTANT, value=0), (top, left)


def _fit_in_square(image: np.ndarray, fit: int, side: int):
    """Scale the longest side to `fit` pixels, keeping the shape, and centre on a black square.
    Returns the square, the (height, width) the image was resized to, and its (top, left)."""
    height, width = image.shape[:2]
    scale = fit / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    resized = cv2.resize(image, size, interpolation=interpolation)
    out = np.zeros((side, side), np.uint8)
    # An odd spare pixel goes above and to the left, as in Fashion-MNIST.
    top, left = (side - size[1] + 1) // 2, (side - size[0] + 1) // 2
    out[top:top + size[1], left:left + size[0]] = resized
    return out, (size[1], size[0]), (float(top), float(left))


def _for_display(image: np.ndarray) -> np.ndarray:
    return _shrink(image, DISPLAY_SIDE)


def _shrink(image: np.ndarray, longest_side: int) -> np.ndarray:
    """The image with its longest side at most `longest_side` pixels."""
    longest = max(image.shape[:2])
    if longest <= longest_side:
        return np.ascontiguousarray(image)
    scale = longest_side / longest
    size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def _as_input(image28: np.ndarray) -> np.ndarray:
    return image28.astype(np.float32)[..., np.newaxis]
