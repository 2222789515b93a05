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
