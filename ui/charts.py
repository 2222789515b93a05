"""Plotly figure builders shared by the pages (drawing only: data comes from `vision`)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from vision.heatmaps import as_uint8, enlarge

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


def thumbnail(image: np.ndarray, side: int = 84) -> np.ndarray:
    """A picture for a gallery, as uint8: small ones enlarged with sharp pixels to about `side`,
    photos shrunk to `side` pixels (so a page of thumbnails does not send full-size photos)."""
    image = as_uint8(image)
    if max(image.shape[:2]) <= side:
        factor = side // max(image.shape[:2])
        return enlarge(image, factor * min(image.shape[:2])) if factor >= 2 else image
    from PIL import Image

    picture = Image.fromarray(image)
    picture.thumbnail((side, side))
    return np.asarray(picture)


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
