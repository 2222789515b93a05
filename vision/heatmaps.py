"""Pictures of heat maps, and the small image helpers behind them. Pure numpy and OpenCV: drawing a
heat map never imports TensorFlow.

- `scale_to_size`: a raw class-activation map resized to the input and scaled to [0, 1];
- `overlay_heatmap`: a [0, 1] map coloured and blended over a picture;
- `map_onto_crop`: a heat map of the model input laid back onto the part of the user's picture
  the input was made from (the crop box and scale that `vision.preprocess.Preprocessed` records);
- `enlarge`: small pictures blown up with sharp pixels; `as_uint8`: any picture as uint8 pixels;
- `normalise_maps` and `tile_maps`: a layer's feature maps scaled to [0, 1] and laid out as a grid;
- `bounding_box` and `border_pixels`: the box of a mask, the outer frame of an image.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

SCALES = ("per_map", "per_layer", "shared")


def scale_to_size(cam: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a non-negative map to (H, W) = `size` and divide by its maximum: float32 in [0, 1].
    An all-zero map (no positive evidence anywhere) stays all zeros instead of becoming NaN."""
    height, width = size
    cam = cv2.resize(np.asarray(cam, np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
    cam = np.clip(cam, 0.0, None)
    peak = float(cam.max())
    if not np.isfinite(peak) or peak <= 0.0:
        return np.zeros((height, width), np.float32)
    return np.clip(cam / peak, 0.0, 1.0).astype(np.float32)


def as_uint8(image: np.ndarray) -> np.ndarray:
    """Pixels for display: rounded and clipped to uint8, a single channel axis dropped."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        image = np.clip(np.rint(image), 0, 255).astype(np.uint8)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    return image


def overlay_heatmap(image: np.ndarray, heatmap: np.ndarray, opacity: float = 0.5,
                    colormap: int = cv2.COLORMAP_JET) -> np.ndarray:
    """Blend a [0, 1] heat map, coloured, over an image.

    Args:
        image: (H, W), (H, W, 1) grey or (H, W, 3) RGB, any resolution; 0-255 pixels of any dtype.
        heatmap: float (h, w) in [0, 1], any resolution; resized to the image.
        opacity: 0 returns the image (as RGB), 1 the coloured heat map.
        colormap: an OpenCV colour map.
    Returns:
        uint8 RGB (H, W, 3).
    """
    if not 0.0 <= opacity <= 1.0:
        raise ValueError(f"opacity must be in [0, 1], got {opacity}")
    image = as_uint8(image)
    rgb = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB) if image.ndim == 2 else image[..., :3]
    height, width = rgb.shape[:2]
    # Clipped at its own size (a linear resize stays within the range), then uint8 OpenCV ops:
    # the same picture (at most 1 level apart, where numpy and OpenCV round a half differently)
    # at a fraction of the cost of full-size float arrays; a doodle makes two per stroke.
    heat = np.clip(np.nan_to_num(np.asarray(heatmap, np.float32)), 0.0, 1.0)
    heat = cv2.convertScaleAbs(cv2.resize(heat, (width, height), interpolation=cv2.INTER_LINEAR),
                               alpha=255.0)
    colour = cv2.cvtColor(cv2.applyColorMap(heat, colormap), cv2.COLOR_BGR2RGB)  # OpenCV is BGR
    return cv2.addWeighted(np.ascontiguousarray(rgb), 1.0 - opacity, colour, opacity, 0.0)


def map_onto_crop(heatmap: np.ndarray, crop_size: tuple[float, float], scale: tuple[float, float],
                  offset: tuple[float, float], shape: tuple[int, int]) -> np.ndarray:
    """The heat map of a model input, resampled onto a picture of the crop it was made from.

    The model input shows the crop (`crop_size` = (height, width) in the user's pixels) scaled by
    `scale` = (rows, columns) input pixels per user pixel, its top-left corner at `offset` =
    (row, column) of the input (pixel edges). `shape` is the (H, W) of the picture of the crop
    (any resolution). Where the crop falls outside the input the map is 0.
    """
    heatmap = np.asarray(heatmap, np.float32)
    height, width = int(shape[0]), int(shape[1])
    matrix = np.zeros((2, 3), np.float64)
    # picture pixel centre d -> crop coordinate (d + 0.5) * crop / D -> input coordinate
    # offset + scale * that, as a pixel-centre coordinate (minus 0.5).
    for axis, (size, out, step, start) in enumerate(
            zip(crop_size[::-1], (width, height), scale[::-1], offset[::-1])):
        factor = step * size / out
        matrix[axis, axis] = factor
        matrix[axis, 2] = start + 0.5 * factor - 0.5
    return cv2.warpAffine(heatmap, matrix, (width, height), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)


def enlarge(image: np.ndarray, min_side: int = 280) -> np.ndarray:
    """Enlarge a small image by a whole factor (nearest neighbour) until its shorter side is at
    least `min_side`, so that the browser shows crisp pixels instead of a blur; images already
    that large are returned as they are. The dtype is kept."""
    image = np.asarray(image)
    factor = max(1, -(-min_side // max(1, min(image.shape[:2]))))
    if factor == 1:
        return image
    return np.repeat(np.repeat(image, factor, axis=0), factor, axis=1)


def fit_for_display(image: np.ndarray, side: int) -> np.ndarray:
    """An image for a picture shown about `side` CSS pixels wide: a small one (under 100 px)
    enlarged with crisp pixels (`enlarge`), a large one shrunk (area averaging) so that its
    longer side is at most twice `side` (sharp on a high-density screen). A 1024-pixel photo
    step then costs the server a small PNG instead of a large one, on every rerun."""
    image = np.asarray(image)
    longer = max(image.shape[:2])
    if longer < 100:
        return enlarge(image, side)
    if longer <= 2 * side:
        return image
    scale = 2 * side / longer
    size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def bounding_box(mask: np.ndarray) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) of the True pixels, bottom and right excluded; 0s if none."""
    mask = np.asarray(mask)
    if mask.ndim == 3:
        mask = mask.any(axis=2)
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return 0, 0, 0, 0
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def border_pixels(image: np.ndarray, thickness: int = 1) -> np.ndarray:
    """The pixels of the image's outer frame, `thickness` pixels wide, each once: (N,) for a grey
    image, (N, C) for one with channels."""
    image = np.asarray(image)
    t = max(1, min(int(thickness), (min(image.shape[:2]) + 1) // 2))
    middle = image[t:-t] if image.shape[0] > 2 * t else image[:0]
    parts = [image[:t], image[-t:] if image.shape[0] > t else image[:0],
             middle[:, :t], middle[:, -t:] if image.shape[1] > t else middle[:, :0]]
    channels = image.shape[2:]
    return np.concatenate([part.reshape(-1, *channels) for part in parts], axis=0)


def normalise_maps(maps: np.ndarray, scale: str = "per_map",
                   value_range: tuple[float, float] | None = None) -> np.ndarray:
    """Feature maps (H, W, C) scaled to [0, 1] float32 for display.

    Args:
        maps: (H, W, C) (or (H, W)) activations.
        scale: "per_map" stretches every channel to its own min..max (shows each map's pattern),
            "per_layer" uses the min..max of the whole layer (shows which maps are strong),
            "shared" uses `value_range` (to compare layers or images on one scale).
        value_range: (lo, hi), required for "shared".
    Returns:
        float32 array of the same shape; constant maps become zeros.
    """
    maps = np.asarray(maps, dtype=np.float32)
    if scale == "per_map":
        lo = maps.min(axis=(0, 1), keepdims=True)
        hi = maps.max(axis=(0, 1), keepdims=True)
    elif scale == "per_layer":
        lo, hi = maps.min(), maps.max()
    elif scale == "shared":
        if value_range is None:
            raise ValueError('scale="shared" needs value_range=(lo, hi).')
        lo, hi = (np.float32(v) for v in value_range)
    else:
        raise ValueError(f"scale must be one of {SCALES}, got {scale!r}")
    span = np.asarray(hi - lo, np.float32)
    safe = np.where(span > 1e-12, span, 1.0)
    out = np.where(span > 1e-12, (maps - lo) / safe, 0.0)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def tile_maps(maps01: np.ndarray, columns: int | None = None, pad: int = 1,
              pad_value: float = 1.0) -> np.ndarray:
    """All channels of (H, W, C) maps as one grid image (float32), row by row.

    `columns` defaults to ceil(sqrt(C)); cells are separated by `pad` pixels of `pad_value`, and
    unused cells of the last row are filled with it too. Output: (rows*(H+pad)-pad, cols*(W+pad)-pad).
    """
    maps01 = np.asarray(maps01, dtype=np.float32)
    if maps01.ndim == 2:
        maps01 = maps01[..., None]
    height, width, count = maps01.shape
    columns = max(1, min(columns or math.ceil(math.sqrt(count)), count))
    rows = math.ceil(count / columns)
    grid = np.full((rows * (height + pad) - pad, columns * (width + pad) - pad), pad_value,
                   np.float32)
    for index in range(count):
        row, col = divmod(index, columns)
        top, left = row * (height + pad), col * (width + pad)
        grid[top:top + height, left:left + width] = maps01[..., index]
    return grid
