"""Drawings a user could make on the canvas, generated: a new shape (a house) for teaching.

Each comes as the browser sends it: RGBA pixels of a 320x320 white canvas with black strokes."""

from __future__ import annotations

import cv2
import numpy as np

SIDE = 320


def house(rng: np.random.Generator, side: int = SIDE) -> np.ndarray:
    """A square house outline with a triangle roof, drawn by hand: every corner a little off,
    random size, place, slant, proportions and pen width."""
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
        points = (points - (cx, cy)) @ rotation.T + (cx, cy)
        return np.round(points * 4).astype(np.int32)  # 2 bits of sub-pixel precision

    canvas = np.full((side, side, 3), 255, np.uint8)
    pen = int(rng.integers(5, 16))
    for stroke in (body, gable):
        cv2.polylines(canvas, [hand(stroke)], False, (0, 0, 0), pen, cv2.LINE_AA, shift=2)
    return np.dstack([canvas, np.full((side, side), 255, np.uint8)])


def houses(count: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [house(rng) for _ in range(count)]
