"""Photo-like Fashion-MNIST: training images that look like what the photo path makes of a photo.

`fashion_from_photo` separates a garment from its background with a mask, negates and stretches
its grey levels and fits it to 28x28. What comes out differs from a Fashion-MNIST item in ways
that can be imitated on the dataset itself: mask edges that bite into or spill over the
silhouette, uneven fill (light falling across a bed), prints and fabric texture, light garments
whose negated body is dark while their print is bright, blur, small rotations and shifts, and
items cut off by the edge of the picture. `photo_like` applies a random mix of these, and
`photo_like_copies` makes such versions of part of the training set, to add beside the originals;
`photo_training_set` adds the real `clothing_photos/train/` photos, made by the app's own path.
Pure numpy and OpenCV; seeded, so a training run can be repeated.
"""

from __future__ import annotations

import functools

import numpy as np
import cv2

from vision.heatmaps import bounding_box
from vision.preprocess import SIDE, _fit_in_square

_WORK = 112  # edges and texture are drawn at 4x the output size, then shrunk as the photo path does


def photo_like(image28: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One random photo-like version of a 28x28 uint8 Fashion-MNIST item (light on black)."""
    big = cv2.resize(image28, (_WORK, _WORK), interpolation=cv2.INTER_CUBIC).astype(np.float32)
    big = np.clip(big, 0, 255)
    mask = big > 8
    if not mask.any():
        return image28.copy()
    if rng.random() < 0.5:   # a mask edge that bites in or spills over by a few pixels
        mask = _jitter_edge(mask, rng)
    if rng.random() < 0.25:  # a light garment: negated, its body is dark and its print bright
        big = (255 - big) * np.clip(big / 64, 0, 1)  # the soft mask edge still fades to black
    if rng.random() < 0.4:   # a print or a fabric texture
        big = big * _texture(rng)
    if rng.random() < 0.5:   # light falling unevenly across the item
        big = big * _gradient(rng)
    if rng.random() < 0.3:   # the photo path fills what its mask holds: no dark gaps inside
        big = np.maximum(big, np.where(mask, rng.uniform(20, 90), 0))
    big = np.where(mask, big, 0)
    if rng.random() < 0.6:   # small rotations and shifts of the item in the picture
        big = _rotate(big, rng.uniform(-12, 12))
    if rng.random() < 0.2:   # an item cut off by the edge of the picture
        big = _cut_side(big, rng)
    if rng.random() < 0.4:
        big = cv2.GaussianBlur(big, (0, 0), rng.uniform(0.8, 3.0))
    return _refit(big)


def photo_like_copies(images: np.ndarray, fraction: float, seed: int
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Photo-like versions of a seeded `fraction` of (N, 28, 28[, 1]) images, to train on beside
    the originals: (the new images, the indices of the images they were made from)."""
    rng = np.random.default_rng(seed)
    chosen = np.flatnonzero(rng.random(len(images)) < fraction)
    out = images[chosen].copy()
    flat = out[..., 0] if out.ndim == 4 else out
    for row in range(len(out)):
        flat[row] = photo_like(flat[row], rng)
    return out, chosen


def photo_training_set(copies: int, seed: int, limit: int | None = None
                       ) -> tuple[np.ndarray, np.ndarray]:
    """The `clothing_photos/train/` photos (never `validation/`) through the upload path (bytes ->
    decode_image -> fashion_from_photo), each as it comes plus `copies - 1` photo-like variants:
    ((N, 28, 28, 1) uint8, (N,) labels). Photos the path refuses are left out; `limit` keeps a
    seeded few (for quick tests of the training code)."""
    photos = _prepared_training_photos(seed, limit)
    kept = ~photos.refused
    images = photos.inputs[kept, ..., 0].astype(np.uint8)
    labels = photos.labels[kept]
    rng = np.random.default_rng(seed)
    variants = [images] + [np.stack([_light_variant(i, rng) for i in images])
                           for _ in range(copies - 1)]
    return np.concatenate(variants)[..., None], np.tile(labels, copies).astype(np.uint8)


@functools.lru_cache(maxsize=2)
def _prepared_training_photos(seed: int, limit: int | None):
    """The training photos through the upload path, once per process (GrabCut takes minutes):
    a command that fits several Fashion models prepares them once."""
    from vision.evaluate_photos import photo_list, prepare_photos

    listed = photo_list("train")
    if limit is not None and limit < len(listed):
        keep = np.sort(np.random.default_rng(seed).permutation(len(listed))[:limit])
        listed = [listed[i] for i in keep]
    return prepare_photos(listed)


def _light_variant(image28: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A real photo's input seen a little differently: flipped, turned, blurred or with its mask
    edge moved; its grey levels are already the photo path's."""
    big = np.clip(cv2.resize(image28, (_WORK, _WORK), interpolation=cv2.INTER_CUBIC)
                  .astype(np.float32), 0, 255)
    if rng.random() < 0.5:
        big = big[:, ::-1]
    if rng.random() < 0.5:
        big = np.where(_jitter_edge(big > 8, rng), big, 0)
    big = _rotate(big, rng.uniform(-10, 10))
    if rng.random() < 0.3:
        big = cv2.GaussianBlur(big, (0, 0), rng.uniform(0.8, 2.0))
    return _refit(big)


# ---------------------------------------------------------------- the pieces
def _jitter_edge(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The mask's edge moved in or out by a smooth random amount of up to a few pixels."""
    inside = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 3)
    outside = cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, 3)
    signed = np.where(mask, -inside, outside)  # < 0 inside
    shift = _smooth_noise(rng, scale=rng.uniform(4, 12)) * rng.uniform(2, 6) + rng.uniform(-2, 2)
    return signed < shift


def _texture(rng: np.random.Generator) -> np.ndarray:
    """A multiplicative pattern in 0.4-1: stripes, checks or blotches (prints, knits)."""
    y, x = np.mgrid[0:_WORK, 0:_WORK].astype(np.float32)
    kind = rng.integers(3)
    if kind == 0:
        angle = rng.uniform(0, np.pi)
        wave = np.sin((x * np.cos(angle) + y * np.sin(angle)) * 2 * np.pi / rng.uniform(6, 20))
    elif kind == 1:
        period = rng.uniform(8, 24)
        wave = np.sign(np.sin(x * 2 * np.pi / period)) * np.sign(np.sin(y * 2 * np.pi / period))
    else:
        wave = _smooth_noise(rng, scale=rng.uniform(3, 10))
    depth = rng.uniform(0.2, 0.6)
    return (1 - depth / 2 + depth / 2 * np.clip(wave, -1, 1)).astype(np.float32)


def _gradient(rng: np.random.Generator) -> np.ndarray:
    """Light falling across the item: a linear ramp from 1 down to 0.5-0.9."""
    y, x = np.mgrid[0:_WORK, 0:_WORK].astype(np.float32) / _WORK
    angle = rng.uniform(0, 2 * np.pi)
    ramp = x * np.cos(angle) + y * np.sin(angle)
    ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
    return (1 - rng.uniform(0.1, 0.5) * ramp).astype(np.float32)


def _smooth_noise(rng: np.random.Generator, scale: float) -> np.ndarray:
    """Noise in about -1..1 that varies over `scale` pixels."""
    noise = rng.normal(0, 1, (_WORK, _WORK)).astype(np.float32)
    noise = cv2.GaussianBlur(noise, (0, 0), scale)
    return noise / max(float(np.abs(noise).max()), 1e-6)


def _rotate(image: np.ndarray, degrees: float) -> np.ndarray:
    matrix = cv2.getRotationMatrix2D((_WORK / 2, _WORK / 2), degrees, 1.0)
    return cv2.warpAffine(image, matrix, (_WORK, _WORK), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def _cut_side(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The item with 5-20% of its extent cut off on one side."""
    top, bottom, left, right = bounding_box(image > 8)
    out = image.copy()
    side = rng.integers(4)
    if side == 0:
        out[:top + int((bottom - top) * rng.uniform(0.05, 0.2))] = 0
    elif side == 1:
        out[bottom - int((bottom - top) * rng.uniform(0.05, 0.2)):] = 0
    elif side == 2:
        out[:, :left + int((right - left) * rng.uniform(0.05, 0.2))] = 0
    else:
        out[:, right - int((right - left) * rng.uniform(0.05, 0.2)):] = 0
    return out


def _refit(big: np.ndarray) -> np.ndarray:
    """As the photo path ends: the brightest part made white, cropped to the item, longest side
    fitted to 28 px."""
    big = np.clip(big, 0, 255)
    top, bottom, left, right = bounding_box(big > 8)
    if bottom <= top or right <= left:
        return np.zeros((SIDE, SIDE), np.uint8)
    crop = big[top:bottom, left:right]
    white = max(float(np.percentile(crop[crop > 8], 99)), 1.0)
    crop = np.rint(np.clip(crop * (255.0 / white), 0, 255)).astype(np.uint8)
    return _fit_in_square(crop, SIDE, SIDE)[0]
