"""Training-time augmentation for doodles: the ways real drawings differ from Quick, Draw!'s.

Each augmented copy of a training doodle is its centre lines (`vision.sketches.centre_lines`) drawn
again with a random pen (one-pixel to marker width, faint grey pencil, coloured ink), at a random
size and place on the sheet, rotated and sheared a little, sometimes with a stroke missing or an
extra one, sometimes photographed on paper (shadow, grain, perspective, ruled lines, JPEG), and then
sent through the app's own doodle preprocessing, so the model learns from what the upload path
makes of such drawings; half the copies are then distorted elastically. Random scribbles and dashes
(outliers) are added with a uniform target, so that the model learns to be unsure of them.

Everything is seeded: `augmented_doodles(x, y, seed)` gives the same arrays on every run.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import cv2
import numpy as np

from vision.errors import InvalidImageError
from vision.preprocess import doodle_from_canvas
from vision.sketches import Pen, Polyline, centre_lines, draw_lines, jpeg_round_trip, paper_photo, \
    transform_lines

OUTLIER_FRACTION = 0.08  # outliers added, as a fraction of the training drawings


def elastic(image28: np.ndarray, rng: np.random.Generator, alpha: float = 1.6,
            sigma: float = 3.0) -> np.ndarray:
    """A 28x28 image under a smooth random displacement field (`alpha` px, smoothed by `sigma`)."""
    shape = image28.shape
    dx = cv2.GaussianBlur(rng.uniform(-1, 1, shape).astype(np.float32), (0, 0), sigma)
    dy = cv2.GaussianBlur(rng.uniform(-1, 1, shape).astype(np.float32), (0, 0), sigma)
    scale = alpha / max(1e-6, float(np.abs(np.stack([dx, dy])).max()))
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float32)
    return cv2.remap(image28, xx + dx * scale, yy + dy * scale, cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def _extra_stroke(lines: list[Polyline], rng: np.random.Generator) -> Polyline:
    """A short stray stroke near the drawing (in 28x28 coordinates)."""
    points = np.concatenate(lines)
    start = points[rng.integers(len(points))]
    length = rng.uniform(3, 8)
    angle = rng.uniform(0, 2 * np.pi)
    end = start + length * np.array([np.cos(angle), np.sin(angle)], np.float32)
    return np.stack([start, np.clip(end, 0, 27)]).astype(np.float32)


def random_sketch(lines: list[Polyline], rng: np.random.Generator) -> np.ndarray:
    """The lines drawn as a random person might bring them: an RGB sheet."""
    lines = list(lines)
    if len(lines) >= 3 and rng.random() < 0.25:  # a stroke missing
        lines.pop(int(rng.integers(len(lines))))
    if lines and rng.random() < 0.2:  # an extra stroke
        lines.append(_extra_stroke(lines, rng))
    side = int(rng.integers(128, 320))
    size = side * rng.uniform(0.3, 0.9)
    left, top = rng.uniform(0, side - size, 2)
    angle = float(np.clip(rng.normal(0, 8), -20, 20))
    shear = float(rng.uniform(-0.25, 0.25))
    kind = rng.choice(["thin", "pen", "marker", "pencil", "colour", "photo"],
                      p=[0.18, 0.2, 0.14, 0.16, 0.12, 0.2])
    upscale = 1
    if kind == "thin":  # one pixel or less, drawn big and shrunk: anti-aliased like a scan
        upscale = 4
        pen = Pen(float(rng.uniform(2, 5)))
    elif kind == "marker":
        pen = Pen(float(side * rng.uniform(0.03, 0.08)))
    elif kind == "pencil":
        grey = int(rng.integers(150, 225))
        pen = Pen(float(rng.uniform(1, 3)), (grey, grey, grey))
    elif kind == "colour":
        colour = rng.integers(0, 200, 3)
        colour[rng.integers(3)] = rng.integers(150, 256)
        pen = Pen(float(rng.uniform(1, 6)), tuple(int(c) for c in colour))
    else:
        pen = Pen(float(rng.uniform(1.5, 6)))
    canvas = np.full((side * upscale, side * upscale, 3), 255, np.uint8)
    moved = transform_lines(lines, side * upscale, (left * upscale, top * upscale, size * upscale),
                            angle, shear)
    draw_lines(canvas, moved, Pen(pen.width * upscale, pen.colour))
    if upscale > 1:
        canvas = cv2.resize(canvas, (side, side), interpolation=cv2.INTER_AREA)
    if kind == "photo":
        paper = tuple(int(v) for v in rng.integers(205, 250, 3))
        canvas = paper_photo(canvas, rng, shadow=float(rng.uniform(0, 0.5)),
                             grain=float(rng.uniform(1, 8)), tilt=float(rng.uniform(0, 0.05)),
                             paper=paper, ruled=bool(rng.random() < 0.3))
        canvas = jpeg_round_trip(canvas, int(rng.integers(40, 91)))
    return canvas


def upload_view(lines: list[Polyline], fallback: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One random sketch of the lines as the app's doodle preprocessing makes it (28x28 uint8);
    `fallback` when the preprocessing refuses it (a drawing that became a dot)."""
    try:
        out = doodle_from_canvas(random_sketch(lines, rng)).model_input[..., 0]
    except InvalidImageError:
        return fallback
    out = out.astype(np.uint8)
    if rng.random() < 0.5:
        out = elastic(out, rng)
    return out


def outlier(rng: np.random.Generator) -> np.ndarray | None:
    """A random mark that is none of the classes (one or two straight dashes, or a zigzag) through
    the doodle preprocessing; None when it is refused."""
    side = int(rng.integers(128, 320))
    canvas = np.full((side, side, 3), 255, np.uint8)
    if rng.random() < 0.4:
        lines = []
        for _ in range(int(rng.integers(1, 3))):
            start = rng.uniform(0.1, 0.9, 2) * side
            end = start + rng.uniform(-0.5, 0.5, 2) * side
            lines.append(np.stack([start, np.clip(end, 2, side - 2)]).astype(np.float32))
    else:
        count = int(rng.integers(3, 13))
        centre = rng.uniform(0.3, 0.7, 2) * side
        spread = rng.uniform(0.1, 0.4) * side
        lines = [np.clip(centre + rng.normal(0, spread, (count, 2)), 2, side - 2).astype(np.float32)]
    draw_lines(canvas, lines, Pen(float(rng.uniform(1, 8))))
    try:
        return doodle_from_canvas(canvas).model_input[..., 0].astype(np.uint8)
    except InvalidImageError:
        return None


def augmented_doodles(x: np.ndarray, y: np.ndarray, num_classes: int, copies: int = 2,
                      seed: int = 0, log=print) -> tuple[np.ndarray, np.ndarray]:
    """The training drawings, `copies` augmented views of each and the outliers: images
    (M, 28, 28) uint8 and soft targets (M, num_classes) float32 (one-hot; uniform for outliers)."""
    rng = np.random.default_rng(seed)
    start = time.time()
    images, targets = [x], [np.eye(num_classes, dtype=np.float32)[y]]
    lines = [centre_lines(image) for image in x]
    log(f"  centre lines of {len(x)} drawings in {time.time() - start:.0f}s")
    for copy in range(copies):
        views = np.stack([upload_view(l, image, rng) if l else image for l, image in zip(lines, x)])
        images.append(views)
        targets.append(targets[0])
        log(f"  augmented copy {copy + 1}/{copies} ({time.time() - start:.0f}s)")
    marks = [m for m in (outlier(rng) for _ in range(int(OUTLIER_FRACTION * len(x)))) if m is not None]
    images.append(np.stack(marks))
    targets.append(np.full((len(marks), num_classes), 1 / num_classes, np.float32))
    log(f"  {len(marks)} outliers (scribbles, dashes) with a uniform target ({time.time() - start:.0f}s)")
    return np.concatenate(images), np.concatenate(targets)


def cache_dir() -> Path:
    """Where augmented training sets are kept between runs: `$VISION_LAB_CACHE`, else
    ~/.cache/vision_lab (never committed: they are made again from the data and the seed)."""
    return Path(os.environ.get("VISION_LAB_CACHE", Path.home() / ".cache" / "vision_lab"))


def cached_augmented_doodles(x: np.ndarray, y: np.ndarray, num_classes: int, copies: int = 2,
                             seed: int = 0, log=print) -> tuple[np.ndarray, np.ndarray]:
    """`augmented_doodles`, kept on disk under a key made of the drawings, the settings and the
    code that makes them: a second training run skips the minutes of rendering, and gets the
    very same arrays."""
    key = hashlib.sha256()
    for module in ("augment.py", "sketches.py", "preprocess.py"):
        key.update((Path(__file__).parent / module).read_bytes())
    key.update(np.ascontiguousarray(x).tobytes())
    key.update(np.ascontiguousarray(y).tobytes())
    key.update(f"{num_classes} {copies} {seed}".encode())
    path = cache_dir() / f"doodles_augmented_{key.hexdigest()[:16]}.npz"
    if path.is_file():
        with np.load(path) as cached:
            log(f"  augmented drawings read from {path}")
            return cached["images"], cached["targets"]
    images, targets = augmented_doodles(x, y, num_classes, copies, seed, log)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, images=images, targets=targets)
    return images, targets
