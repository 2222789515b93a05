"""A drawing sent as strokes, drawn as pixels.

The browser's canvas (ui/canvas.py) sends the whole drawing after each stroke as
`{"side": 320, "strokes": [{"width": 12, "erase": false, "points": [[x, y], ...]}, ...]}`,
in the canvas's logical coordinates (0..side). `render_strokes` draws it the way the browser's
2D canvas does (black ink on white, anti-aliased, round caps and joins, the eraser paints white),
so the server gets the picture the student sees without the browser shipping its pixels.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

MAX_STROKES = 2000  # a drawing with more is cut here: a bound on one rerun's work
MAX_POINTS = 5000   # points per stroke, likewise


def parse_strokes(value: Any) -> list[dict[str, Any]]:
    """The strokes of a canvas value (the dict above, or its list of strokes), checked and
    cleaned: each has a positive `width`, a bool `erase` and a list of [x, y] float points.
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
            points = _points(list(stroke.get("points") or [])[:MAX_POINTS])
        except (TypeError, ValueError, IndexError, KeyError):
            continue
        if not len(points) or not np.isfinite(width) or width <= 0 or not np.isfinite(points).all():
            continue
        clean.append({"width": width, "erase": bool(stroke.get("erase", False)),
                      "points": points.tolist()})
    return clean


def _points(raw: list) -> np.ndarray:
    """[[x, y, ...], ...] as an (n, 2) float array: in one NumPy call when the points are plain
    pairs (every stroke, every rerun: it is most of the cost of reading a long drawing), point by
    point otherwise (extra numbers, or points of different lengths)."""
    try:
        points = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError):
        points = None
    if points is None or points.ndim != 2 or points.shape[1] < 2:
        points = np.array([[float(p[0]), float(p[1])] for p in raw], dtype=np.float64).reshape(-1, 2)
    return points[:, :2]


def strokes_at_side(value: Any, side: int) -> list[dict[str, Any]]:
    """The strokes of a canvas value (`parse_strokes`) in the coordinates of a canvas `side`
    wide: the value's own `side` says which coordinates its points and widths are in."""
    strokes = parse_strokes(value)
    sent_side = value.get("side") if isinstance(value, Mapping) else None
    if isinstance(sent_side, (int, float)) and sent_side > 0 and sent_side != side:
        scale = side / sent_side
        strokes = [dict(s, width=s["width"] * scale,
                        points=[[x * scale, y * scale] for x, y in s["points"]]) for s in strokes]
    return strokes


def render_strokes(strokes: Any, side: int, base: np.ndarray | None = None) -> np.ndarray:
    """The drawing as RGBA uint8 (side, side, 4): black ink on white, opaque. `strokes` is a
    canvas value or its list of strokes (see `parse_strokes`); an empty one is blank paper.
    `base`, a picture of the same side, is painted over instead of blank paper: the picture of
    the strokes before these, so that one more stroke costs one stroke."""
    grey = np.full((side, side), 255.0, np.float32) if base is None \
        else np.asarray(base)[..., 0].astype(np.float32)
    for stroke in parse_strokes(strokes):
        coverage = _stroke_coverage(np.asarray(stroke["points"], np.float32), stroke["width"], side)
        if coverage is None:
            continue
        (top, left), cover = coverage
        patch = grey[top:top + cover.shape[0], left:left + cover.shape[1]]
        colour = 255.0 if stroke["erase"] else 0.0
        patch += (colour - patch) * cover  # one stroke is one path: painted once, like a canvas
    rgba = np.empty((side, side, 4), np.uint8)
    rgba[..., :3] = np.round(grey).astype(np.uint8)[..., None]
    rgba[..., 3] = 255
    return rgba


_RUN_SEGMENTS = 16  # segments whose distances _stroke_coverage computes at once


def _stroke_coverage(points: np.ndarray, width: float, side: int):
    """How much of each pixel one stroke covers (0..1), over the stroke's bounding box only:
    ((top, left), coverage), or None when it is off the canvas. The stroke is the set of points
    within width/2 of its polyline: round caps and joins, as the browser's "round" line caps
    and joins; a single point is a disc. Coverage is a one-pixel ramp across the edge, which is
    how the browser's anti-aliasing looks at this size."""
    radius = width / 2
    low = np.floor(points.min(axis=0) - radius - 1).astype(int)
    high = np.ceil(points.max(axis=0) + radius + 1).astype(int)
    left, top = max(0, low[0]), max(0, low[1])
    right, bottom = min(side, high[0]), min(side, high[1])
    if left >= right or top >= bottom:
        return None
    xs = np.arange(left, right, dtype=np.float32) + 0.5  # pixel centres, as the browser's
    ys = np.arange(top, bottom, dtype=np.float32) + 0.5
    nearest = np.full((len(ys), len(xs)), np.inf, np.float32)
    starts = points if len(points) == 1 else points[:-1]
    ends = points if len(points) == 1 else points[1:]
    # Only the pixels near each segment: its own box, grown by the pen. The distances of a run of
    # segments are computed at once, each in a window as large as the run's largest box (the
    # same float32 arithmetic per pixel as one segment at a time, in a few numpy calls instead
    # of a dozen per segment: a stroke has 20-100 segments and comes on every stroke).
    x0 = np.searchsorted(xs, np.minimum(starts[:, 0], ends[:, 0]) - radius - 1)
    x1 = np.searchsorted(xs, np.maximum(starts[:, 0], ends[:, 0]) + radius + 1)
    y0 = np.searchsorted(ys, np.minimum(starts[:, 1], ends[:, 1]) - radius - 1)
    y1 = np.searchsorted(ys, np.maximum(starts[:, 1], ends[:, 1]) + radius + 1)
    keep = (x0 < x1) & (y0 < y1)
    starts, ends, x0, x1, y0, y1 = starts[keep], ends[keep], x0[keep], x1[keep], y0[keep], y1[keep]
    for index in range(0, len(starts), _RUN_SEGMENTS):
        run = slice(index, index + _RUN_SEGMENTS)
        tall, wide = int((y1[run] - y0[run]).max()), int((x1[run] - x0[run]).max())
        rows = np.minimum(y0[run, None] + np.arange(tall), len(ys) - 1)  # (S, tall)
        cols = np.minimum(x0[run, None] + np.arange(wide), len(xs) - 1)  # (S, wide)
        ax, ay = starts[run, 0, None, None], starts[run, 1, None, None]
        dx, dy = ends[run, 0, None, None] - ax, ends[run, 1, None, None] - ay
        qx, qy = xs[cols][:, None, :] - ax, ys[rows][:, :, None] - ay
        length2 = dx * dx + dy * dy
        along = qx * dx + qy * dy  # (S, tall, wide)
        t = np.clip(np.divide(along, length2, out=np.zeros_like(along), where=length2 > 0), 0, 1)
        distance = np.hypot(qx - t * dx, qy - t * dy)
        for k, i in enumerate(range(index, min(index + _RUN_SEGMENTS, len(starts)))):
            window = nearest[y0[i]:y1[i], x0[i]:x1[i]]
            np.minimum(window, distance[k, :y1[i] - y0[i], :x1[i] - x0[i]], out=window)
    return (top, left), np.clip(radius + 0.5 - nearest, 0, 1)


def hand_stroke(rng: random.Random, side: int) -> list[list[float]]:
    """One made-up stroke as a hand draws it, for load tests and benchmarks: a smooth wobbly
    curve of 20-60 points, 80-250 px long, inside a canvas `side` wide (logical coordinates,
    rounded to one decimal as the browser sends them)."""
    count = rng.randint(20, 60)
    x, y = rng.uniform(60, side - 60), rng.uniform(60, side - 60)
    heading, turn = rng.uniform(0, 2 * np.pi), rng.uniform(-0.15, 0.15)
    step = rng.uniform(80, 250) / count
    points = []
    for _ in range(count):
        points.append([round(x, 1), round(y, 1)])
        heading += turn + rng.uniform(-0.1, 0.1)
        x = min(max(x + step * np.cos(heading), 4), side - 4)
        y = min(max(y + step * np.sin(heading), 4), side - 4)
    return points
