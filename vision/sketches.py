"""Quick, Draw! doodles redrawn as people bring them: thin paint-program lines, a thick marker,
faint pencil, a phone photo of paper, a small drawing in a corner, a rotated drawing.

A 28x28 doodle has no strokes, only pixels, so its centre lines are recovered first (thinning at 4x
resolution, then walked into polylines); every style draws those polylines again. The benchmark
(`vision.benchmark_styles`) uses fixed settings, the training augmentation (`vision.augment`)
random ones. Pure numpy and OpenCV.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

_UP = 4            # thinning works at 4x the bitmap's resolution: smoother centre lines
_SHIFT = 4         # cv2 drawing with 4 fractional bits: sub-pixel line positions
STYLES = ("thin", "marker", "pencil", "paper_photo", "corner", "rotated")

Polyline = np.ndarray  # (K, 2) float32 points (x, y) in the 28x28 bitmap's pixel coordinates


# ---------------------------------------------------------------- centre lines
def thin_mask(mask: np.ndarray) -> np.ndarray:
    """Zhang-Suen thinning: the one-pixel centre lines of a boolean mask."""
    image = np.pad(mask.astype(np.uint8), 1)
    while True:
        changed = False
        for step in (0, 1):
            p = image
            # neighbours P2..P9, clockwise from the top
            n = [p[:-2, 1:-1], p[:-2, 2:], p[1:-1, 2:], p[2:, 2:],
                 p[2:, 1:-1], p[2:, :-2], p[1:-1, :-2], p[:-2, :-2]]
            count = sum(x.astype(np.int32) for x in n)
            transitions = sum(((n[i] == 0) & (n[(i + 1) % 8] == 1)).astype(np.int32) for i in range(8))
            centre = p[1:-1, 1:-1] == 1
            if step == 0:
                side = (n[0] * n[2] * n[4] == 0) & (n[2] * n[4] * n[6] == 0)
            else:
                side = (n[0] * n[2] * n[6] == 0) & (n[0] * n[4] * n[6] == 0)
            remove = centre & (count >= 2) & (count <= 6) & (transitions == 1) & side
            if remove.any():
                image[1:-1, 1:-1][remove] = 0
                changed = True
        if not changed:
            return image[1:-1, 1:-1].astype(bool)


def centre_lines(image28: np.ndarray, level: int = 100) -> list[Polyline]:
    """The strokes of a 28x28 doodle (white on black) as polylines along their centre lines."""
    big = cv2.resize(np.asarray(image28, np.uint8), None, fx=_UP, fy=_UP,
                     interpolation=cv2.INTER_LINEAR)
    skeleton = thin_mask(big >= level)
    paths = _walk(skeleton)
    lines = []
    for path in paths:
        points = np.array(path, np.float32)[:, ::-1]  # (row, col) -> (x, y)
        if len(points) > 2:
            points = cv2.approxPolyDP(points[:, None], 0.7, False)[:, 0]
        lines.append((points + 0.5) / _UP - 0.5)
    return lines


_STEPS = ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1))


def _walk(skeleton: np.ndarray) -> list[list[tuple[int, int]]]:
    """Paths through the pixels of a thinned mask that use every neighbour link once."""
    on = set(zip(*np.nonzero(skeleton)))
    links = {p: [(p[0] + dr, p[1] + dc) for dr, dc in _STEPS if (p[0] + dr, p[1] + dc) in on]
             for p in on}
    used: set[frozenset] = set()
    paths = []
    # start at the ends of strokes, then anywhere that is left (closed loops)
    starts = sorted(on, key=lambda p: (len(links[p]) != 1, p))
    for start in starts:
        while any(frozenset((start, q)) not in used for q in links[start]):
            path, here, previous = [start], start, None
            while True:
                free = [q for q in links[here] if frozenset((here, q)) not in used]
                if not free:
                    break
                if previous is not None:  # go on as straight as possible
                    direction = (here[0] - previous[0], here[1] - previous[1])
                    free.sort(key=lambda q: -((q[0] - here[0]) * direction[0] + (q[1] - here[1]) * direction[1]))
                following = free[0]
                used.add(frozenset((here, following)))
                previous, here = here, following
                path.append(here)
            paths.append(path)
        if not links[start] and len(links) and [start] not in paths:
            paths.append([start])  # an isolated dot
    return paths


# ---------------------------------------------------------------- drawing the lines again
@dataclass(frozen=True)
class Pen:
    """How the lines are drawn: width in output pixels, ink colour (RGB) and where they go."""

    width: float = 2.0
    colour: tuple[int, int, int] = (0, 0, 0)


def transform_lines(lines: list[Polyline], side: int, box: tuple[float, float, float],
                    angle: float = 0.0, shear: float = 0.0) -> list[Polyline]:
    """Map 28x28 coordinates to an image `side` pixels wide: the doodle's 28-pixel frame becomes
    the square at (left, top) of size `size` (`box`), rotated by `angle` degrees and sheared."""
    left, top, size = box
    scale = size / 28.0
    theta = np.deg2rad(angle)
    rotate = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]], np.float32)
    shear_m = np.array([[1.0, shear], [0.0, 1.0]], np.float32)
    matrix = rotate @ shear_m
    out = []
    for line in lines:
        centred = (line - 13.5) @ matrix.T
        out.append((centred + 13.5) * scale + np.array([left, top], np.float32))
    return out


def draw_lines(canvas: np.ndarray, lines: list[Polyline], pen: Pen) -> np.ndarray:
    """Draw polylines on an RGB canvas (in place) with anti-aliased round-capped lines."""
    thickness = max(1, int(round(pen.width)))
    colour = tuple(int(c) for c in pen.colour)
    for line in lines:
        points = np.rint(line * (1 << _SHIFT)).astype(np.int32)
        if len(points) == 1:
            centre = tuple(int(v) for v in points[0])
            cv2.circle(canvas, centre, max(1, thickness // 2) << _SHIFT, colour, -1, cv2.LINE_AA, _SHIFT)
        else:
            cv2.polylines(canvas, [points], False, colour, thickness, cv2.LINE_AA, _SHIFT)
    return canvas


def render(lines: list[Polyline], side: int, pen: Pen, box: tuple[float, float, float] | None = None,
           angle: float = 0.0, shear: float = 0.0, paper=(255, 255, 255)) -> np.ndarray:
    """The lines drawn on a plain sheet: (side, side, 3) uint8 RGB. `box` defaults to the
    doodle filling the sheet with a 10% margin."""
    if box is None:
        box = (0.1 * side, 0.1 * side, 0.8 * side)
    canvas = np.empty((side, side, 3), np.uint8)
    canvas[:] = paper
    return draw_lines(canvas, transform_lines(lines, side, box, angle, shear), pen)


def paper_photo(drawing: np.ndarray, rng: np.random.Generator, shadow: float = 0.35,
                grain: float = 6.0, tilt: float = 0.04, paper=(236, 231, 218),
                ruled: bool = False) -> np.ndarray:
    """A sketch (dark lines on white RGB) as a phone photo of it on paper: paper colour and grain,
    a gradient shadow, a slight perspective, optionally blue ruled lines (JPEG is left to the
    caller)."""
    side = drawing.shape[0]
    ink = 1.0 - drawing.astype(np.float32) / 255.0
    sheet = np.empty_like(ink)
    sheet[:] = np.array(paper, np.float32) / 255.0
    if ruled:
        for y in np.arange(side * 0.07, side, side / 14):
            cv2.line(sheet, (0, int(y)), (side - 1, int(y)), (0.62, 0.74, 0.90), max(1, side // 300),
                     cv2.LINE_AA)
    photo = sheet * (1.0 - ink)
    # the light falls off across the sheet (a hand or phone's shadow), in a random direction
    angle = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:side, 0:side].astype(np.float32) / side - 0.5
    ramp = (np.cos(angle) * xx + np.sin(angle) * yy) + 0.5
    photo *= (1.0 - shadow * np.clip(ramp, 0, 1))[..., None]
    photo = photo * 255.0 + rng.normal(0, grain, photo.shape)
    src = np.float32([[0, 0], [side, 0], [side, side], [0, side]])
    dst = src + rng.uniform(-tilt, tilt, src.shape).astype(np.float32) * side
    warped = cv2.warpPerspective(np.clip(photo, 0, 255).astype(np.uint8),
                                 cv2.getPerspectiveTransform(src, dst), (side, side),
                                 borderMode=cv2.BORDER_REFLECT)
    return warped


def _downsampled(rgb: np.ndarray, side: int) -> np.ndarray:
    return cv2.resize(rgb, (side, side), interpolation=cv2.INTER_AREA)


def jpeg_round_trip(rgb: np.ndarray, quality: int) -> np.ndarray:
    """The image after being saved as JPEG at `quality` and decoded again."""
    ok, encoded = cv2.imencode(".jpg", rgb[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(encoded, cv2.IMREAD_COLOR)[..., ::-1]


# ---------------------------------------------------------------- the benchmark's six styles
def style_image(lines: list[Polyline], style: str, index: int = 0) -> np.ndarray:
    """One doodle's centre lines drawn in one of STYLES with the benchmark's fixed settings, as
    an RGB image (the paper photo is returned before its JPEG encoding). `index` varies the corner,
    the sign of the rotation and the photo's random shadow from one drawing to the next."""
    if style == "thin":  # a one-pixel line, anti-aliased as a scan or a paint program gives it
        return _downsampled(render(lines, 600, Pen(4)), 150)
    if style == "marker":
        return render(lines, 256, Pen(16))
    if style == "pencil":  # light grey, thin
        return render(lines, 200, Pen(2, (185, 185, 185)))
    if style == "paper_photo":
        rng = np.random.default_rng(10_000 + index)
        return paper_photo(render(lines, 480, Pen(4, (45, 45, 60))), rng)
    if style == "corner":  # a quarter of the width, in one of the four corners
        side, size = 300, 80
        left = 12 if index % 2 == 0 else side - size - 12
        top = 12 if (index // 2) % 2 == 0 else side - size - 12
        return render(lines, side, Pen(2), box=(left, top, size))
    if style == "rotated":
        return render(lines, 200, Pen(3), angle=15.0 if index % 2 == 0 else -15.0)
    raise ValueError(f"unknown style {style!r}; expected one of {STYLES}")


# ---------------------------------------------------------------- things that are not drawings
def scribble(rng: np.random.Generator, side: int = 200) -> np.ndarray:
    """A random scribble (one to three wandering strokes) or a short dash, dark on white RGB."""
    canvas = np.full((side, side, 3), 255, np.uint8)
    if rng.random() < 0.35:  # a dash
        length = rng.uniform(0.1, 0.5) * side
        angle = rng.uniform(0, np.pi)
        centre = rng.uniform(0.3, 0.7, 2) * side
        offset = 0.5 * length * np.array([np.cos(angle), np.sin(angle)])
        lines = [np.stack([centre - offset, centre + offset]).astype(np.float32)]
    else:
        lines = []
        for _ in range(rng.integers(1, 4)):
            steps = rng.integers(4, 25)
            heading = rng.uniform(0, 2 * np.pi)
            point = rng.uniform(0.25, 0.75, 2) * side
            points = [point]
            for _ in range(steps):
                heading += rng.normal(0, 1.0)
                point = np.clip(point + rng.uniform(0.03, 0.12) * side *
                                np.array([np.cos(heading), np.sin(heading)]), 5, side - 5)
                points.append(point)
            lines.append(np.array(points, np.float32))
    return draw_lines(canvas, lines, Pen(float(rng.integers(1, 6))))
