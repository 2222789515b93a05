"""The pictures the pages draw: probability bars (HTML), Plotly figures (training curves, the
confusion matrix, the mistakes map, occlusion and rotation charts, the walk-through's grids),
reading the clicks on them, and pictures for `st.image` (thumbnails, colour scales).
Drawing only: data comes from `vision`."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from vision.heatmaps import as_uint8, enlarge

ACCENT = "#e4572e"
NEUTRAL = "#4c78a8"
# Light to dark blue, with most of the colour change at small values: a confusion matrix is mostly
# near-empty cells and a bright diagonal, and the mistakes must stay visible.
CONFUSION_SCALE = [[0.0, "#f7fbff"], [0.02, "#deebf7"], [0.08, "#9ecae1"], [0.25, "#4292c6"],
                   [0.6, "#2171b5"], [1.0, "#08306b"]]
CLUSTER_COLOURS = ["#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2", "#ff9da6",
                   "#9d755d", "#eeca3b", "#2f7ed8", "#8c564b", "#17becf"]
NOISE_COLOUR = "#9e9e9e"
INK_SCALE = [[0.0, "#1f2937"], [1.0, "#f8fafc"]]  # -1 background dark, +1 ink light
MATCH_SCALE = [[0.0, "#d6604d"], [1.0, "#4393c3"]]  # -1 mismatch red, +1 match blue


def top_k_bars(labels: Sequence[str], probabilities: np.ndarray) -> str:
    """Horizontal probability bars in the given order (most probable first), as HTML for
    `st.html`; the first is drawn in the accent colour.

    Plain HTML, not a Plotly figure: these bars are redrawn on every doodle stroke, and a Plotly
    chart cost the server 6 ms a stroke and the browser more to draw. Sized in rem, so the
    presenter view enlarges them with the page's text; each bar carries its class and probability
    (`data-label`, `data-p`); a screen reader reads the labels and percentages."""
    probabilities = np.asarray(probabilities, dtype=float)
    rows = []
    for label, p in zip(labels, probabilities):
        name = html.escape(str(label), quote=True)
        rows.append(f'<span>{name}</span><span class="vl-bar" data-label="{name}" data-p="{p:.6f}" '
                    f'aria-hidden="true"><i style="width:{100 * min(max(p, 0.0), 1.0):.2f}%"></i>'
                    f'</span><span>{p:.1%}</span>')
    return _TOP_K_STYLE + '<div class="vl-topk">' + "".join(rows) + "</div>"


# one rule set, sent with each block of bars (a few hundred bytes, not per bar)
_TOP_K_STYLE = (
    "<style>.vl-topk{display:grid;grid-template-columns:fit-content(45%) 1fr 3.6rem;"
    "gap:.3rem .6rem;align-items:center;font-size:.9rem;margin:.25rem 0 .75rem}"
    ".vl-topk>span:nth-child(3n+1){overflow:hidden;"
    "text-overflow:ellipsis;white-space:nowrap}"
    ".vl-topk>span:nth-child(3n){text-align:right;font-variant-numeric:tabular-nums}"
    ".vl-bar{height:1.15rem;border-radius:.25rem;background:rgba(128,128,128,.16);overflow:hidden}"
    f".vl-bar i{{display:block;height:100%;background:{NEUTRAL}}}"
    f".vl-topk>.vl-bar:nth-child(2) i{{background:{ACCENT}}}</style>")


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


# ---------------------------------------------------------------- figures: model report
def curves_figure(series: dict[str, np.ndarray], metric: str, best_val_epoch: int | None = None,
                  overfits: bool = False, fine_tune_epoch: int | None = None,
                  height: int = 320) -> go.Figure:
    """Training and validation `metric` ("loss" or "accuracy") per epoch, with the turning point
    (lowest validation loss) and the start of fine-tuning marked."""
    title = "Loss" if metric == "loss" else "Accuracy"
    figure = go.Figure()
    for key, name, dash in ((metric, "training", "solid"), (f"val_{metric}", "validation", "dash")):
        if key in series:
            values = series[key]
            figure.add_trace(go.Scatter(
                x=np.arange(1, len(values) + 1), y=values, mode="lines+markers", name=name,
                line=dict(dash=dash, width=2), marker=dict(size=4),
                hovertemplate=f"epoch %{{x}}<br>{name} {metric}: %{{y:.4f}}<extra></extra>"))
    if best_val_epoch is not None:
        label = "overfitting starts" if overfits else "lowest validation loss"
        figure.add_vline(x=best_val_epoch, line=dict(color=ACCENT, dash="dot", width=2),
                         annotation_text=f"{label} (epoch {best_val_epoch})",
                         annotation_position="top left" if metric == "loss" else "bottom left")
        if overfits:
            last = max(len(v) for v in series.values())
            figure.add_vrect(x0=best_val_epoch, x1=last, fillcolor=ACCENT, opacity=0.08, line_width=0)
    if fine_tune_epoch is not None:
        figure.add_vline(x=fine_tune_epoch - 0.5, line=dict(color="#54a24b", dash="dash", width=2),
                         annotation_text=f"fine-tuning starts (epoch {fine_tune_epoch})",
                         annotation_position="top right")
    figure.update_layout(
        title=dict(text=title), height=height, margin=dict(l=10, r=10, t=40, b=10),
        xaxis=dict(title="epoch"), yaxis=dict(title=metric, tickformat=".0%" if metric == "accuracy" else None),
        legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1.0),
        hovermode="x unified")
    return figure


def confusion_figure(matrix: np.ndarray, labels: Sequence[str],
                     selected: tuple[int, int] | None = None) -> go.Figure:
    """The confusion matrix as a heat map, with one invisible square marker on every cell so that
    a click selects that cell (Streamlit returns no selection for heat-map clicks).

    Rows are the actual classes (top to bottom), columns the predicted ones. The colour is the
    share of the actual class's images in the cell; the number is the count.
    """
    matrix = np.asarray(matrix, dtype=np.int64)
    n = len(labels)
    labels = list(labels)
    totals = np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    share = matrix / totals
    actual, predicted = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    actual, predicted = actual.ravel(), predicted.ravel()
    counts = matrix.ravel()
    figure = go.Figure(go.Heatmap(
        z=share, x=labels, y=labels, colorscale=CONFUSION_SCALE, zmin=0, zmax=1, hoverinfo="skip",
        xgap=1, ygap=1, showscale=False))  # no colour bar: the numbers say it, and narrow screens need the width
    text_colour = np.where(share.ravel() > 0.25, "white", "#1f2937")
    figure.add_trace(go.Scatter(
        x=[labels[p] for p in predicted], y=[labels[a] for a in actual],
        mode="markers+text", text=[str(c) for c in counts], textfont=dict(color=text_colour, size=10),
        marker=dict(symbol="square", size=30, color="rgba(0,0,0,0)", line=dict(width=0)),
        customdata=np.stack([actual, predicted, counts, share.ravel()], axis=1).tolist(),
        hovertemplate=("Actual %{y}, predicted as %{x}<br>%{customdata[2]} test images "
                       "(%{customdata[3]:.1%} of the row)<br>click to see them<extra></extra>"),
        showlegend=False, name="cells",
        selected=dict(marker=dict(opacity=1)), unselected=dict(marker=dict(opacity=1))))
    if selected is not None:
        a, p = selected
        figure.add_shape(type="rect", x0=p - 0.5, x1=p + 0.5, y0=a - 0.5, y1=a + 0.5,
                         line=dict(color=ACCENT, width=3))
    side = max(360, min(640, 60 + 52 * n))
    figure.update_layout(
        height=side, margin=dict(l=10, r=10, t=10, b=10), clickmode="event+select",
        dragmode=False, hovermode="closest",
        xaxis=dict(title="predicted class", tickangle=-40, side="bottom", constrain="domain",
                   showgrid=False, zeroline=False),
        yaxis=dict(title="actual class", autorange="reversed", showgrid=False, zeroline=False))
    return figure


def _plain(custom: Any) -> Any:
    """customdata as the browser sends it back: a row of a 2-D numpy array may arrive as a dict
    {"0": a, "1": b} (Plotly's typed arrays); make it a list again."""
    if isinstance(custom, dict):
        try:
            return [custom[str(i)] for i in range(len(custom))]
        except KeyError:
            return None
    return custom


def clicked_cell(event: Any, labels: Sequence[str]) -> tuple[int, int] | None:
    """The (actual, predicted) cell clicked in the confusion figure, from a Streamlit plotly
    selection event; None when nothing (or nothing readable) is selected."""
    try:
        points = event["selection"]["points"]
    except (KeyError, TypeError):
        points = getattr(getattr(event, "selection", None), "points", None)
    if not points:
        return None
    point = points[0]
    n = len(labels)
    custom = _plain(point.get("customdata"))
    if isinstance(custom, (list, tuple)) and len(custom) >= 2:
        return int(custom[0]), int(custom[1])
    if point.get("x") in labels and point.get("y") in labels:
        return list(labels).index(point["y"]), list(labels).index(point["x"])
    index = point.get("point_index", point.get("point_number"))
    if isinstance(index, int) and 0 <= index < n * n:
        return index // n, index % n
    return None


def clicked_custom(event: Any) -> Any:
    """The customdata of the first selected point of a plotly selection event, or None."""
    try:
        points = event["selection"]["points"]
    except (KeyError, TypeError):
        return None
    if not points:
        return None
    return _plain(points[0].get("customdata"))


# ---------------------------------------------------------------- figures: mistakes map
def mistakes_figure(points: np.ndarray, clusters: np.ndarray, hover: Sequence[str],
                    height: int = 480) -> go.Figure:
    """The mistakes in 2-D, one trace per cluster (noise, label -1, in grey). Each point's
    customdata is its position in the list of mistakes, so a click can show its image."""
    figure = go.Figure()
    hover = np.asarray(hover, dtype=object)
    for label in sorted(np.unique(clusters), key=lambda c: (c < 0, c)):
        members = np.flatnonzero(clusters == label)
        colour = NOISE_COLOUR if label < 0 else CLUSTER_COLOURS[int(label) % len(CLUSTER_COLOURS)]
        name = "noise" if label < 0 else f"cluster {int(label) + 1}"
        figure.add_trace(go.Scatter(
            x=points[members, 0], y=points[members, 1], mode="markers", name=name,
            marker=dict(size=7, color=colour, opacity=0.8, line=dict(width=0.5, color="white")),
            customdata=members.tolist(), text=hover[members].tolist(),
            hovertemplate=f"{name}<br>%{{text}}<extra></extra>"))
    figure.update_layout(
        height=height, margin=dict(l=10, r=10, t=10, b=10), clickmode="event+select",
        xaxis=dict(title="principal component 1", zeroline=False),
        yaxis=dict(title="principal component 2", zeroline=False),
        legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="left", x=0), dragmode="pan")
    return figure


# ---------------------------------------------------------------- figures: playground
def percent_format(limit: float) -> str:
    """A d3 percent format with enough decimals that ticks up to `limit` differ (a colour bar
    of drops under 1% would otherwise read "0%" on every tick)."""
    decimals = 0 if limit >= 0.1 else int(np.clip(np.ceil(-np.log10(limit * 100)) + 1, 1, 4))
    return f".{decimals}%"


def occlusion_figure(image: np.ndarray, drops: np.ndarray, class_name: str,
                     height: int = 380) -> go.Figure:
    """The drop in a class's probability when each region is hidden, over the image."""
    shown = np.clip(np.rint(np.asarray(image, dtype=np.float64)), 0, 255).astype(np.uint8)
    if shown.ndim == 3 and shown.shape[-1] == 1:
        shown = shown[..., 0]
    if shown.ndim == 2:
        shown = np.stack([shown] * 3, axis=-1)
    limit = float(max(np.abs(drops).max(), 1e-6))
    figure = go.Figure(go.Image(z=shown, hoverinfo="skip"))
    figure.add_trace(go.Heatmap(
        z=drops, colorscale="RdBu", reversescale=True, zmid=0, zmin=-limit, zmax=limit, opacity=0.6,
        colorbar=dict(title=dict(text="drop in<br>probability"), thickness=12,
                      tickformat=percent_format(limit)),
        hovertemplate=f"row %{{y}}, column %{{x}}<br>hiding it changes P({class_name}) by "
                      "-%{z:.1%}<extra></extra>"))
    figure.update_layout(height=height, margin=dict(l=10, r=10, t=10, b=10),
                         xaxis=dict(visible=False), yaxis=dict(visible=False, autorange="reversed",
                                                               scaleanchor="x"))
    return figure


def rotation_figure(angles: np.ndarray, class_probabilities: np.ndarray, class_name: str,
                    predicted_names: Sequence[str], top_probabilities: np.ndarray,
                    height: int = 320) -> go.Figure:
    """Confidence in one class, and in whatever is predicted, versus the rotation angle."""
    figure = go.Figure()
    figure.add_trace(go.Scatter(
        x=angles, y=class_probabilities, mode="lines+markers", name=f"P({class_name})",
        line=dict(color=ACCENT, width=2),
        hovertemplate=f"%{{x}}°: P({class_name}) = %{{y:.1%}}<extra></extra>"))
    figure.add_trace(go.Scatter(
        x=angles, y=top_probabilities, mode="markers", name="top prediction",
        marker=dict(color=NEUTRAL, size=6), text=list(predicted_names),
        hovertemplate="%{x}°: predicts %{text} (%{y:.1%})<extra></extra>"))
    figure.update_layout(
        height=height, margin=dict(l=10, r=10, t=10, b=10),
        xaxis=dict(title="rotation (degrees, counter-clockwise)", tickvals=list(range(-180, 181, 45))),
        yaxis=dict(title="probability", range=[0, 1.02], tickformat=".0%"),
        legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1.0))
    return figure


# ---------------------------------------------------------------- figures: how a CNN works
def number_grid(values: np.ndarray, text: np.ndarray | None = None, colorscale: str | list = "RdBu",
                zmin: float = -1.0, zmax: float = 1.0, box: tuple[int, int, int] | None = None,
                height: int | None = None, cell: int = 34, show_scale: bool = False,
                font_size: int = 12) -> go.Figure:
    """A small matrix drawn as coloured cells with its numbers written in them; `box` =
    (row, col, size) outlines a square window (the filter's position)."""
    values = np.asarray(values, dtype=np.float64)
    rows, cols = values.shape
    # Gaps separate cells that carry numbers; small cells (a real 28x28 map) are drawn edge to
    # edge like an image, or the gaps turn the picture into a dot mesh.
    gap = 2 if cell >= 16 else 0
    figure = go.Figure()
    if np.isnan(values).any():  # cells not computed yet: faint squares, in light and dark themes
        figure.add_trace(go.Heatmap(
            z=np.zeros_like(values), colorscale=[[0, "rgba(128,128,128,0.18)"],
                                                 [1, "rgba(128,128,128,0.18)"]],
            showscale=False, xgap=gap, ygap=gap, hoverinfo="skip"))
    figure.add_trace(go.Heatmap(
        z=values, text=text, texttemplate="%{text}" if text is not None else None,
        textfont=dict(size=font_size), colorscale=colorscale, zmin=zmin, zmax=zmax,
        showscale=show_scale, xgap=gap, ygap=gap,
        hovertemplate="row %{y}, column %{x}: %{z:.4f}<extra></extra>"))
    if box is not None:
        row, col, size = box
        figure.add_shape(type="rect", x0=col - 0.5, x1=col + size - 0.5, y0=row - 0.5,
                         y1=row + size - 0.5, line=dict(color="#facc15", width=4))
    figure.update_layout(
        height=height or 30 + cell * rows, margin=dict(l=4, r=4, t=4, b=4),
        xaxis=dict(visible=False, constrain="domain", range=[-0.5, cols - 0.5]),
        yaxis=dict(visible=False, range=[rows - 0.5, -0.5], scaleanchor="x"))
    return figure


def pixel_editor_figure(image: np.ndarray, height: int = 330) -> go.Figure:
    """The 9x9 +1/-1 picture as clickable squares: white ink (+1) on dark (-1); each marker's
    customdata is its (row, col)."""
    image = np.asarray(image)
    rows, cols = np.meshgrid(np.arange(image.shape[0]), np.arange(image.shape[1]), indexing="ij")
    rows, cols = rows.ravel(), cols.ravel()
    ink = image.ravel() > 0
    figure = go.Figure(go.Heatmap(
        z=image, colorscale=INK_SCALE, zmin=-1, zmax=1, showscale=False,
        xgap=2, ygap=2, hoverinfo="skip"))
    figure.add_trace(go.Scatter(
        x=cols, y=rows, mode="markers+text", text=np.where(ink, "+1", "-1"),
        textfont=dict(color=np.where(ink, "#1f2937", "#f8fafc").tolist(), size=11),
        marker=dict(symbol="square", size=26, color="rgba(0,0,0,0)"),
        customdata=np.stack([rows, cols], axis=1).tolist(), showlegend=False,
        hovertemplate="row %{customdata[0]}, column %{customdata[1]}: click to flip<extra></extra>",
        selected=dict(marker=dict(opacity=1)), unselected=dict(marker=dict(opacity=1))))
    figure.update_layout(
        height=height, margin=dict(l=4, r=4, t=4, b=4), clickmode="event+select", dragmode=False,
        xaxis=dict(visible=False, constrain="domain"),
        yaxis=dict(visible=False, autorange="reversed", scaleanchor="x"))
    return figure
