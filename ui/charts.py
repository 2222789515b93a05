"""Plotly figure builders shared by the pages (drawing only: data comes from `vision`)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

ACCENT = "#e4572e"
NEUTRAL = "#4c78a8"


def top_k_bars(labels: list[str] | tuple[str, ...], probabilities: np.ndarray,
               highlight: str | None = None, height: int | None = None) -> go.Figure:
    """Horizontal probability bars, most probable on top; `highlight` (default: the top class)
    is drawn in the accent colour."""
    labels = list(labels)
    probabilities = np.asarray(probabilities, dtype=float)
    highlight = labels[0] if highlight is None and labels else highlight
    colours = [ACCENT if label == highlight else NEUTRAL for label in labels]
    figure = go.Figure(go.Bar(
        x=probabilities[::-1], y=labels[::-1], orientation="h", marker_color=colours[::-1],
        text=[f"{p:.1%}" for p in probabilities[::-1]], textposition="auto",
        hovertemplate="%{y}: %{x:.2%}<extra></extra>"))
    figure.update_layout(
        height=height or 60 + 28 * len(labels), margin=dict(l=10, r=10, t=10, b=10),
        xaxis=dict(range=[0, 1], tickformat=".0%", title=None), yaxis=dict(title=None),
        showlegend=False)
    return figure


# ---------------------------------------------------------------- pictures for st.image
PAD_GREY = (128, 128, 128)  # grid lines between feature maps: visible in light and dark themes


def pixelated(image: np.ndarray, min_side: int = 280) -> np.ndarray:
    """Enlarge a small image by a whole factor (nearest neighbour), so that the browser shows
    crisp pixels instead of a blur; images already `min_side` or larger are returned as they are."""
    image = np.asarray(image)
    factor = max(1, -(-min_side // max(1, min(image.shape[:2]))))
    if factor == 1:
        return image
    return np.repeat(np.repeat(image, factor, axis=0), factor, axis=1)


def _viridis_lut() -> np.ndarray:
    from plotly.colors import sample_colorscale, unlabel_rgb

    colours = sample_colorscale("Viridis", list(np.linspace(0.0, 1.0, 256)))
    return np.array([unlabel_rgb(colour) for colour in colours]).round().astype(np.uint8)


_VIRIDIS = _viridis_lut()


def colourise(values01: np.ndarray) -> np.ndarray:
    """Values in [0, 1] (H, W) as an RGB uint8 picture in the Viridis colour scale (dark purple:
    low, yellow: high); NaN (the padding of `tile_maps(..., pad_value=np.nan)`) becomes grey."""
    values = np.asarray(values01, dtype=np.float32)
    missing = np.isnan(values)
    index = np.rint(np.clip(np.nan_to_num(values), 0.0, 1.0) * 255).astype(np.uint8)
    rgb = _VIRIDIS[index]
    rgb[missing] = PAD_GREY
    return rgb


def colour_scale_bar(width: int = 256, height: int = 12) -> np.ndarray:
    """A horizontal strip of the colour scale, low on the left, for a legend."""
    return colourise(np.tile(np.linspace(0.0, 1.0, width, dtype=np.float32), (height, 1)))


def ink_box(image: np.ndarray, level: int = 32) -> tuple[int, int, int, int] | None:
    """(top, bottom, left, right) of the pixels brighter than `level` (the drawing or the item
    in a light-on-black picture), or None when there are none."""
    mask = np.asarray(image) > level
    if mask.ndim == 3:
        mask = mask.any(axis=2)
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if not len(rows):
        return None
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def heatmap_for_crop(crop: np.ndarray, model_input: np.ndarray, heatmap: np.ndarray,
                     level: int = 32) -> tuple[np.ndarray, np.ndarray] | None:
    """The cropped picture and the part of the input's heat map that lies over it.

    The model input is the crop scaled down (and centred, with a margin), so the object's box in
    the input matches the object's box in the crop; both are cut to that box. None when either
    holds no object.
    """
    in_box, crop_box = ink_box(model_input, level), ink_box(crop, level)
    if in_box is None or crop_box is None:
        return None
    top, bottom, left, right = in_box
    c_top, c_bottom, c_left, c_right = crop_box
    return crop[c_top:c_bottom, c_left:c_right], heatmap[top:bottom, left:right]
