"""How a model's prediction changes when its image is changed: perturbations (rotation, shift,
zoom, blur, noise, brightness, a hidden patch), the occlusion-sensitivity map, and the rotation
sweep with the range of angles a prediction survives.

Pure functions over numpy arrays (no TensorFlow): models enter only as a `predict` callable taking
a batch (N, H, W, C) of raw 0-255 pixels and returning probabilities (N, classes), e.g.
`vision.models.Predictor(model, spec).probabilities`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from vision.errors import InvalidImageError
from vision.heatmaps import border_pixels

Predict = Callable[[np.ndarray], np.ndarray]
Progress = Callable[[float], None]

PIXEL_RANGE = 255.0  # every model takes raw 0-255 pixels, so perturbations are sized on that range
GREY = PIXEL_RANGE / 2


# ---------------------------------------------------------------- perturbations
def _border_median(image: np.ndarray) -> np.ndarray:
    """Per-channel median of the outermost pixels: the background the image is drawn on."""
    border = border_pixels(image)
    return np.median(border.reshape(len(border), -1), axis=0)


def _check_image(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim not in (2, 3) or image.shape[0] < 1 or image.shape[1] < 1:
        raise InvalidImageError(f"Expected an image of shape (H, W) or (H, W, C), got {image.shape}.")
    if not np.issubdtype(image.dtype, np.number):
        raise InvalidImageError("The image must hold numbers (pixel values 0-255).")
    return image


def _occlusion_box(height: int, width: int, x: float, y: float, size: float) -> tuple[int, int, int, int]:
    side = max(1, int(round(size * min(height, width))))
    centre_row, centre_col = y * height, x * width
    top = int(np.clip(round(centre_row - side / 2), 0, max(height - side, 0)))
    left = int(np.clip(round(centre_col - side / 2), 0, max(width - side, 0)))
    return top, min(top + side, height), left, min(left + side, width)


def perturb(image: np.ndarray, rotate_deg: float = 0.0, shift: tuple[float, float] = (0.0, 0.0),
            scale: float = 1.0, blur_sigma: float = 0.0, noise_std: float = 0.0,
            brightness: float = 0.0, occlusion: tuple[float, float, float] | None = None,
            seed: int = 0) -> np.ndarray:
    """A perturbed copy of an image of shape (H, W) or (H, W, C), same shape and dtype.

    Applied in this order: rotation (degrees, counter-clockwise), zoom `scale` and `shift` (dx, dy
    as fractions of width and height, right and down positive), all about the centre in one warp,
    with uncovered pixels filled by the median of the image's border (Fashion's black stays
    black); a Gaussian blur of `blur_sigma` pixels; `brightness` added as a fraction of the 0-255
    range (-1..1); Gaussian noise of standard deviation `noise_std` (fraction of the range, seeded);
    a mid-grey square `occlusion` = (x, y, size): centre as fractions of width and height, side as
    a fraction of the shorter side. The result is clipped to 0-255. All defaults return an exact copy.
    """
    image = _check_image(image)
    dtype = image.dtype
    height, width = image.shape[:2]
    out = image.astype(np.float32)
    dx, dy = shift
    if rotate_deg % 360 != 0 or scale != 1.0 or dx != 0 or dy != 0:
        if scale <= 0:
            raise ValueError("scale must be positive")
        matrix = cv2.getRotationMatrix2D(((width - 1) / 2, (height - 1) / 2), float(rotate_deg),
                                         float(scale))
        matrix[:, 2] += (dx * width, dy * height)
        fill = tuple(float(v) for v in _border_median(out))
        warped = cv2.warpAffine(out, matrix, (width, height), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_CONSTANT, borderValue=fill)
        out = warped.reshape(out.shape)  # OpenCV drops a single channel axis
    if blur_sigma > 0:
        out = cv2.GaussianBlur(out, (0, 0), sigmaX=float(blur_sigma),
                               borderType=cv2.BORDER_REPLICATE).reshape(out.shape)
    if brightness:
        out = out + float(brightness) * PIXEL_RANGE
    if noise_std > 0:
        out = out + np.random.default_rng(seed).normal(0.0, noise_std * PIXEL_RANGE, out.shape)
    if occlusion is not None:
        top, bottom, left, right = _occlusion_box(height, width, *occlusion)
        out[top:bottom, left:right] = GREY
    out = np.clip(out, 0.0, PIXEL_RANGE)
    if np.issubdtype(dtype, np.integer):
        out = np.rint(out)
    return out.astype(dtype)


# ---------------------------------------------------------------- sensitivity
def _positions(length: int, patch: int, stride: int) -> list[int]:
    starts = list(range(0, length - patch + 1, stride))
    if starts[-1] != length - patch:  # the last patch reaches the edge, so every pixel is covered
        starts.append(length - patch)
    return starts


def occlusion_sensitivity(predict: Predict, image: np.ndarray, class_index: int | None, patch: int,
                          stride: int, fill: float | None = None, progress: Progress | None = None,
                          batch_size: int = 64) -> np.ndarray:
    """How much the probability of `class_index` drops when each region is hidden.

    A `patch` x `patch` square of value `fill` (None: mid-grey, 127.5) slides over the image (H, W)
    or (H, W, C) with `stride`; the occluded copies go to `predict` in batches of `batch_size`. The
    result is a float32 map (H, W): for each pixel, the mean over the patches covering it of
    (baseline - occluded) probability; positive where hiding the region hurts the class.
    `class_index` None means the class predicted for the unoccluded image.
    """
    image = _check_image(image)
    x = image.astype(np.float32)
    if x.ndim == 2:
        x = x[..., None]
    height, width = x.shape[:2]
    if patch < 1 or stride < 1:
        raise ValueError("patch and stride must be at least 1")
    patch = min(patch, height, width)
    fill = GREY if fill is None else float(fill)
    boxes = [(top, left) for top in _positions(height, patch, stride)
             for left in _positions(width, patch, stride)]

    drops = np.zeros((height, width), dtype=np.float64)
    counts = np.zeros((height, width), dtype=np.float64)
    baseline = None
    done = 0
    total = len(boxes)
    # The unoccluded image rides along in the first batch: its probability is the baseline.
    chunks = [boxes[:max(batch_size - 1, 1)]]
    chunks += [boxes[i:i + batch_size] for i in range(len(chunks[0]), total, batch_size)]
    for number, chunk in enumerate(chunks):
        batch = np.repeat(x[None], len(chunk) + (number == 0), axis=0)
        for i, (top, left) in enumerate(chunk, start=(number == 0)):
            batch[i, top:top + patch, left:left + patch] = fill
        probs = np.asarray(predict(batch), dtype=np.float64)
        if number == 0:
            if class_index is None:
                class_index = int(np.argmax(probs[0]))
            baseline = probs[0, class_index]
            probs = probs[1:]
        for (top, left), p in zip(chunk, probs[:, class_index]):
            drops[top:top + patch, left:left + patch] += baseline - p
            counts[top:top + patch, left:left + patch] += 1
        done += len(chunk)
        if progress is not None:
            progress(done / total)
    return (drops / np.maximum(counts, 1)).astype(np.float32)


@dataclass(frozen=True)
class RotationSweep:
    """The model's probabilities for copies of one image rotated by each angle."""

    angles: np.ndarray  # (A,) degrees
    probabilities: np.ndarray  # (A, classes)
    predicted: np.ndarray  # (A,) predicted class per angle
    class_index: int  # the class followed (given, or predicted at the angle closest to 0)

    @property
    def class_probabilities(self) -> np.ndarray:
        """The probability of `class_index` at each angle, (A,)."""
        return self.probabilities[:, self.class_index]


def rotation_sweep(predict: Predict, image: np.ndarray, class_index: int | None = None,
                   angles: np.ndarray = np.arange(-180, 181, 15), progress: Progress | None = None
                   ) -> RotationSweep:
    """Predict copies of an image (H, W) or (H, W, C) rotated by each angle (degrees,
    counter-clockwise, background filled as in `perturb`) in one batched call."""
    image = _check_image(image)
    angles = np.asarray(angles, dtype=np.float64).reshape(-1)
    rotated = []
    for i, angle in enumerate(angles):
        rotated.append(perturb(image, rotate_deg=float(angle)).astype(np.float32))
        if progress is not None:
            progress(0.5 * (i + 1) / len(angles))
    batch = np.stack(rotated) if rotated else np.zeros((0, *image.shape), np.float32)
    if batch.ndim == 3:
        batch = batch[..., None]
    probs = np.asarray(predict(batch), dtype=np.float32)
    predicted = probs.argmax(axis=1) if len(probs) else np.zeros(0, dtype=np.int64)
    if class_index is None:
        class_index = int(predicted[np.argmin(np.abs(angles))]) if len(angles) else 0
    if progress is not None:
        progress(1.0)
    return RotationSweep(angles, probs, predicted.astype(np.int64), int(class_index))


def steady_range(angles: np.ndarray, predicted: np.ndarray, class_index: int) -> tuple[float, float] | None:
    """The widest run of consecutive angles around the one closest to 0 over which the prediction
    stays `class_index`, as (first angle, last angle); None when it is not predicted there."""
    angles = np.asarray(angles, dtype=np.float64)
    predicted = np.asarray(predicted)
    if len(angles) == 0:
        return None
    centre = int(np.argmin(np.abs(angles)))
    if predicted[centre] != class_index:
        return None
    low = high = centre
    while low > 0 and predicted[low - 1] == class_index:
        low -= 1
    while high < len(angles) - 1 and predicted[high + 1] == class_index:
        high += 1
    return float(angles[low]), float(angles[high])
