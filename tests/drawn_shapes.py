"""Drawings a user could make on the canvas, generated: a circle, a line, a new shape (a house)
for teaching.

The canvas (ui/canvas.py) sends a drawing as strokes: `circle`, `stroke` and `drawing` build
that value, `house_strokes` too; `picture` is what the server makes of it (the RGBA pixels of a
320x320 white canvas with black strokes), and `house`/`houses` are such pictures."""

from __future__ import annotations

import numpy as np

from vision.strokes import render_strokes

SIDE = 320


def stroke(points, width: float = 12, erase: bool = False) -> dict:
    """One stroke as the canvas sends it (points rounded to one decimal)."""
    return {"width": width, "erase": erase,
            "points": [[round(float(x), 1), round(float(y), 1)] for x, y in points]}


def circle(cx: float = 160, cy: float = 160, radius: float = 90, width: float = 12,
           points: int = 64) -> dict:
    """A closed round stroke: a moon, an apple or an eye to the doodle model."""
    angles = np.linspace(0, 2 * np.pi, points + 1)
    return stroke(zip(cx + radius * np.cos(angles), cy + radius * np.sin(angles)), width)


def drawing(*strokes: dict, side: int = SIDE) -> dict:
    """The canvas's value for these strokes, in order."""
    return {"side": side, "strokes": list(strokes)}


def picture(value: dict, side: int = SIDE) -> np.ndarray:
    """The RGBA pixels the server draws from a canvas value."""
    return render_strokes(value, side)


def house(rng: np.random.Generator, side: int = SIDE) -> np.ndarray:
    """The picture of `house_strokes`."""
    return picture(house_strokes(rng, side), side)


def house_strokes(rng: np.random.Generator, side: int = SIDE) -> dict:
    """A square house outline with a triangle roof, drawn by hand: every corner a little off,
    random size, place, slant, proportions and pen width (the canvas's value)."""
    size = rng.uniform(0.35, 0.6) * side
    width = size * rng.uniform(0.8, 1.2)
    roof = size * rng.uniform(0.35, 0.7)
    cx, cy = rng.uniform(0.4, 0.6) * side, rng.uniform(0.5, 0.62) * side
    left, right, top, bottom = cx - width / 2, cx + width / 2, cy - size / 2, cy + size / 2
    body = [(left, top), (right, top), (right, bottom), (left, bottom), (left, top)]
    gable = [(left - 0.05 * width, top), (cx + rng.uniform(-0.1, 0.1) * width, top - roof),
             (right + 0.05 * width, top)]
    angle = np.deg2rad(rng.uniform(-8, 8))
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])

    def hand(points):
        points = np.asarray(points, np.float64)
        points += rng.normal(0, 0.03 * size, points.shape)  # a shaky hand
        return (points - (cx, cy)) @ rotation.T + (cx, cy)

    pen = int(rng.integers(5, 16))
    return drawing(*(stroke(hand(part), pen) for part in (body, gable)), side=side)


def houses_strokes(count: int, seed: int, side: int = SIDE) -> list[dict]:
    rng = np.random.default_rng(seed)
    return [house_strokes(rng, side) for _ in range(count)]


def houses(count: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [house(rng) for _ in range(count)]
