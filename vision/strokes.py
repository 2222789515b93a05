"""A drawing sent as strokes, drawn as pixels.

The browser's canvas (ui/canvas.py) sends the whole drawing after each stroke as
`{"side": 320, "strokes": [{"width": 12, "erase": false, "points": [[x, y], ...]}, ...]}`,
in the canvas's logical coordinates (0..side). `render_strokes` draws it the way the browser's
2D canvas does (black ink on white, anti-aliased, round caps and joins, the eraser paints white),
so the server gets the picture the student sees without the browser shipping its pixels.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import cv2
import numpy as np

_SHIFT = 4  # cv2 draws with 4 fractional bits: the browser's sub-pixel points stay sub-pixel
_ONE = 1 << _SHIFT
MAX_STROKES = 2000  # a drawing with more is cut here: a bound on one rerun's work
MAX_POINTS = 5000   # points per stroke, likewise


def parse_strokes(value: Any) -> list[dict[str, Any]]:
    """The strokes of a canvas value (the dict above, or its list of strokes), checked and
    cleaned: each has a positive `width`, a bool `erase` and a list of (x, y) float points.
    Anything malformed is left out, never raised: the value comes from a browser."""
    strokes = value.get("strokes") if isinstance(value, Mapping) else value
    if not isinstance(strokes, Sequence) or isinstance(strokes, (str, bytes)):
        return []
    clean = []
    for stroke in list(strokes)[:MAX_STROKES]:
        if not isinstance(stroke, Mapping):
            continue
        try:
            width = float(stroke.get("width", 0))
            points = [(float(p[0]), float(p[1])) for p in list(stroke.get("points") or [])[:MAX_POINTS]]
        except (TypeError, ValueError, IndexError, KeyError):
            continue
        if not points or not np.isfinite(width) or width <= 0 \
                or not np.all(np.isfinite(np.asarray(points))):
            continue
        clean.append({"width": width, "erase": bool(stroke.get("erase", False)), "points": points})
    return clean


def render_strokes(strokes: Any, side: int) -> np.ndarray:
    """The drawing as RGBA uint8 (side, side, 4): black ink on white, opaque. `strokes` is a
    canvas value or its list of strokes (see `parse_strokes`); an empty one is blank paper."""
    grey = np.full((side, side), 255, np.uint8)
    for stroke in parse_strokes(strokes):
        colour = 255 if stroke["erase"] else 0
        # cv2's pixel centres are at integers, the browser's at .5: shift by half a pixel
        points = np.round((np.asarray(stroke["points"]) - 0.5) * _ONE).astype(np.int32)
        width = stroke["width"]
        if len(points) == 1 or np.all(points == points[0]):
            radius = int(round(width / 2 * _ONE))
            cv2.circle(grey, tuple(int(v) for v in points[0]), radius, colour, -1, cv2.LINE_AA,
                       _SHIFT)
            continue
        # cv2's thick lines end in round caps, and the caps of consecutive segments make round
        # joins: the browser's lineCap/lineJoin "round"
        thickness = max(1, int(round(width)))
        cv2.polylines(grey, [points.reshape(-1, 1, 2)], False, colour, thickness, cv2.LINE_AA,
                      _SHIFT)
    rgba = np.empty((side, side, 4), np.uint8)
    rgba[..., :3] = grey[..., None]
    rgba[..., 3] = 255
    return rgba
