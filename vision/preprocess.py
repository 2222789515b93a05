"""What the model sees: turn a decoded image into exactly the input a model expects.

Each preprocessor returns the model input and the steps from the user's picture to it, so that
the app can show students how a photo becomes a 28x28 Fashion-MNIST item or a Quick, Draw!
doodle. Everything here is pure numpy and OpenCV.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

from vision.errors import DrawingTooSmallError, EmptyCanvasError, InvalidImageError
from vision.heatmaps import border_pixels, bounding_box, map_onto_crop

SIDE = 28                 # Fashion-MNIST and Quick, Draw! images are 28x28
DISPLAY_SIDE = 512        # the longest side of the big pictures in `steps`
# Quick, Draw! bitmaps (measured on the data): the drawing is centred on its bounding box; its
# strokes span DOODLE_FIT px (26 with their anti-aliased fringe, leaving 1 px of margin) and are
# STROKE_WIDTH px wide, as measured by `_redraw_strokes`. Both fitted on real drawings.
DOODLE_FIT = 25.0
STROKE_WIDTH = 1.5
_WORK_SIDE = 208   # strokes are measured and redrawn at this resolution (about 8x the output)
_WORK_LEVEL = 128  # ink level of a stroke's edge there, or half the lines' own level if lower
#                    (a thin line fades when a big picture is shrunk: it must stay whole)
MIN_DRAWING_FRACTION = 0.05   # a drawing smaller than this part of the canvas is a stray dot
PHOTO_WORK_SIDE = 1024        # clothing photos are shrunk to this longest side first


@dataclass(frozen=True)
class Step:
    """One picture on the way from the user's image to the model input."""

    name: str          # short title shown under the picture, e.g. "grayscale"
    image: np.ndarray  # uint8, (H, W) or (H, W, 3), for display


@dataclass(frozen=True)
class Preprocessed:
    """The model's input, how it was made, and where it came from in the user's picture.

    The model input shows the part `crop_box` = (top, bottom, left, right) of the user's picture
    (its pixel edges, in the picture's own pixels), scaled by `scale` = (rows, columns) input
    pixels per picture pixel, with the box's top-left corner at `offset` = (row, column) of the
    input. So input coordinate = offset + scale * (picture coordinate - box corner), exactly: a
    heat map of the input maps back onto the user's picture (`heatmap_on_crop`).
    """

    model_input: np.ndarray   # float32 (H, W, C), raw 0-255 pixels, exactly what the model takes
    steps: tuple[Step, ...]   # from the original image to the model input, in order
    crop_box: tuple[float, float, float, float]
    scale: tuple[float, float]
    offset: tuple[float, float] = (0.0, 0.0)
    note: "PhotoNote | None" = None  # what the page should say about how the photo was read

    @property
    def crop_size(self) -> tuple[float, float]:
        top, bottom, left, right = self.crop_box
        return bottom - top, right - left

    def heatmap_on_crop(self, heatmap: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
        """A heat map of the model input (any resolution: it is first brought to the input's),
        laid onto a picture of `crop_box` of shape (H, W), e.g. the "cropped" step."""
        height, width = self.model_input.shape[:2]
        heatmap = np.asarray(heatmap, np.float32)
        if heatmap.shape != (height, width):
            heatmap = cv2.resize(heatmap, (width, height), interpolation=cv2.INTER_LINEAR)
        return map_onto_crop(heatmap, self.crop_size, self.scale, self.offset, shape)


def photo_to_square(rgb: np.ndarray, size: int = 224) -> np.ndarray:
    """Resize so the shorter side is `size`, then crop the centre square: (size, size, 3) uint8."""
    return _square_and_box(rgb, size)[0]


def _square_and_box(rgb: np.ndarray, size: int):
    """`photo_to_square`, with the square's box in the photo and the scale (rows, columns)."""
    height, width = rgb.shape[:2]
    scale = size / min(height, width)
    new_w, new_h = max(size, round(width * scale)), max(size, round(height * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    resized = cv2.resize(rgb, (new_w, new_h), interpolation=interpolation)
    top, left = (new_h - size) // 2, (new_w - size) // 2
    scale_y, scale_x = new_h / height, new_w / width
    box = (top / scale_y, (top + size) / scale_y, left / scale_x, (left + size) / scale_x)
    return np.ascontiguousarray(resized[top:top + size, left:left + size]), box, (scale_y, scale_x)


# ---------------------------------------------------------------- Fashion-MNIST
SEGMENT_SIDE = 200        # the foreground is separated on the photo shrunk to this longest side
BORDER_FRACTION = 0.04    # the frame this thick is taken as background (users centre the item)
GRABCUT_ITERATIONS = 4
# Two objects: the second is a separate object (the other shoe of a pair, a second garment)
# when it is at least this part of the largest one; smaller pieces are clutter and dropped.
SECOND_OBJECT_FRACTION = 0.3
# The separated object must cover between these parts of the photo to count as one clear object.
MIN_OBJECT_FRACTION, MAX_OBJECT_FRACTION = 0.02, 0.92
# Of the candidate masks, the one whose outline best separates colours wins, times its area to
# this power: a belt or a hanger alone has a sharp outline but is not the garment.
AREA_POWER = 0.25
MIN_COLOUR_CONTRAST = 10.0    # Lab distance between an object and its background; below: nothing


@dataclass(frozen=True)
class PhotoNote:
    """Something the page should tell the user about how their photo was read."""

    kind: str     # "two objects" (kept the larger, e.g. one shoe of a pair) or "unclear"
    message: str  # a sentence for the user


TWO_OBJECTS = PhotoNote(
    "two objects",
    "The photo shows two separate objects (a pair of shoes, for instance): the model looks at "
    "the larger one only.")
UNCLEAR = PhotoNote(
    "unclear",
    "We could not tell one piece of clothing apart from its background, so this guess is a long "
    "shot. Photos work best with one item, laid flat or hung up, on a plain background that "
    "shows all around it.")


def fashion_from_photo(rgb: np.ndarray) -> Preprocessed:
    """A photo of one piece of clothing (RGB or grayscale uint8) as a Fashion-MNIST image.

    The garment is separated from its background by GrabCut, seeded from the colours of the
    photo's frame (whatever the two colours are); the largest object is kept (one shoe of a
    pair). It is then rendered as Fashion-MNIST renders its items: grey levels negated (so the
    background, masked out, is black and the item is light), stretched so that its brightest part
    is white, cropped to the item and its longest side fitted to 28 px. `note` says when the
    photo held two objects or no clear one.

    Raises:
        InvalidImageError: nothing at all stands out from the background.
    """
    original = _flatten_alpha(rgb)
    image = _shrink(original, PHOTO_WORK_SIDE)  # enough for 28 px, and fast
    shrink_y, shrink_x = (image.shape[0] / original.shape[0], image.shape[1] / original.shape[1])
    colour = image if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    gray = cv2.cvtColor(colour, cv2.COLOR_RGB2GRAY)
    small_mask, note = foreground_mask(colour)
    height, width = gray.shape
    soft = cv2.resize(small_mask.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
    mask = soft >= 0.5
    top, bottom, left, right = bounding_box(mask)
    ink = _negated_item(gray, soft, mask)
    cropped = ink[top:bottom, left:right]
    model_image, (size_h, size_w), offset = _fit_in_square(cropped, SIDE, SIDE)
    return Preprocessed(_as_input(model_image), (
        Step("original", _for_display(image)),
        Step("mask", _for_display(np.where(mask, 255, 0).astype(np.uint8))),
        Step("grey, light on black", _for_display(ink)),
        Step("cropped", _for_display(cropped)),
        Step("28x28 input", model_image),
    ), crop_box=(top / shrink_y, bottom / shrink_y, left / shrink_x, right / shrink_x),
        scale=(size_h / (bottom - top) * shrink_y, size_w / (right - left) * shrink_x),
        offset=offset, note=note)


def foreground_mask(rgb: np.ndarray) -> tuple[np.ndarray, PhotoNote | None]:
    """Which pixels of the photo (shrunk to SEGMENT_SIDE) belong to the one object, and a note.

    GrabCut is seeded from the frame: the colours that fill the photo's border are background,
    and it refines both colour models from there, once starting from the convex hull of what
    stands out from those colours, once from everything inside the frame. Of the two masks (and
    the seed itself, as a fallback) the one whose outline separates colours best wins. When none
    holds a clear object, the whole photo is the object and the note says the photo is unclear.

    Raises:
        InvalidImageError: no pixel differs from the background colours.
    """
    small = _shrink(rgb, SEGMENT_SIDE)
    smooth = cv2.GaussianBlur(small, (5, 5), 0)  # JPEG noise and fabric grain are not edges
    lab = cv2.cvtColor(smooth, cv2.COLOR_RGB2LAB).astype(np.float32)
    distance, border_is_background = _distance_from_border_colours(lab)
    if distance.max() < MIN_COLOUR_CONTRAST:
        raise InvalidImageError(
            "We could not find an object in this photo. Photograph one piece of clothing on a "
            "plain background, filling most of the picture.")
    # Scaled by a high percentile, not the maximum: one dark collar must not squash the rest.
    top = max(float(np.percentile(distance, 99)), MIN_COLOUR_CONTRAST)
    scaled = np.clip(distance * (255.0 / top), 0, 255).astype(np.uint8)
    level, _ = cv2.threshold(scaled, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    seed, seed_note = _one_object(scaled > level)
    # A print or a check shares colours with the background: the whole outline of what stands
    # out (its convex hull) is probably the garment, and GrabCut decides inside it.
    hull = _convex_hull(seed)
    # Two seeds, and the mask whose outline separates colours best wins: the hull of what
    # stands out from the frame's colours, or (as GrabCut's rectangle) everything inside the frame.
    masks = [_grabcut(smooth, probable, border_is_background)
             for probable in (hull | seed, np.ones_like(seed))]
    scored = []
    for candidate in masks + [seed]:  # the seed itself is the fallback when GrabCut fails
        cleaned, note = _one_object(candidate)
        note = note or seed_note  # two objects stand out, whichever mask keeps only one
        if MIN_OBJECT_FRACTION <= cleaned.mean() <= MAX_OBJECT_FRACTION:
            scored.append((_outline_contrast(lab, cleaned) * cleaned.mean() ** AREA_POWER,
                           len(scored), cleaned, note))
    if scored:
        _, _, cleaned, note = max(scored, key=lambda t: (t[0], -t[1]))
        return cleaned, note
    return np.ones_like(seed), UNCLEAR


def _grabcut(smooth: np.ndarray, probable: np.ndarray, background: np.ndarray) -> np.ndarray:
    """GrabCut's foreground, started from `probable` foreground and sure `background` pixels."""
    grabcut = np.where(probable, cv2.GC_PR_FGD, cv2.GC_PR_BGD).astype(np.uint8)
    grabcut[background] = cv2.GC_BGD
    cv2.setRNGSeed(0)  # GrabCut's colour models start from k-means: the same photo, the same mask
    try:
        cv2.grabCut(cv2.cvtColor(smooth, cv2.COLOR_RGB2BGR), grabcut, None,
                    np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64),
                    GRABCUT_ITERATIONS, cv2.GC_INIT_WITH_MASK)
    except cv2.error:  # e.g. no background colour left to model
        return np.zeros(probable.shape, bool)
    return (grabcut == cv2.GC_FGD) | (grabcut == cv2.GC_PR_FGD)


def _outline_contrast(lab: np.ndarray, mask: np.ndarray) -> float:
    """How well a mask's outline separates colours: the distance between the mean colours of a
    thin band just inside and just outside it (Lab units)."""
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))
    mask8 = mask.astype(np.uint8)
    inner = mask & ~cv2.erode(mask8, kernel).astype(bool)
    outer = cv2.dilate(mask8, kernel).astype(bool) & ~mask
    if not inner.any() or not outer.any():
        return 0.0
    return float(np.linalg.norm(lab[inner].mean(axis=0) - lab[outer].mean(axis=0)))


def _distance_from_border_colours(lab: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """How far each pixel's colour is from the background colours seen on the frame (Lab units),
    and which frame pixels surely are background.

    The frame's colours are clustered; a cluster holding a small part of the frame is taken to be
    the object reaching the edge (or clutter), not background."""
    height, width = lab.shape[:2]
    t = max(2, round(BORDER_FRACTION * min(height, width)))
    frame = np.zeros((height, width), bool)
    frame[:t], frame[-t:], frame[:, :t], frame[:, -t:] = True, True, True, True
    pixels = lab[frame].reshape(-1, 3)
    clusters = min(4, len(np.unique(pixels, axis=0)))
    cv2.setRNGSeed(0)
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 0.5)
    _, assignment, centres = cv2.kmeans(pixels, clusters, None, criteria, 3, cv2.KMEANS_PP_CENTERS)
    share = np.bincount(assignment.ravel(), minlength=clusters) / len(assignment)
    background = centres[share >= 0.15]
    if len(background) == 0:
        background = centres[[int(np.argmax(share))]]
    distance = np.min(np.linalg.norm(lab[..., None, :] - background, axis=-1), axis=-1)
    sure = np.zeros_like(frame)
    sure[frame] = np.isin(assignment.ravel(), np.flatnonzero(share >= 0.15))
    return distance, sure


def _convex_hull(mask: np.ndarray) -> np.ndarray:
    """The convex hull of a mask's True pixels (empty when there are none)."""
    points = cv2.findNonZero(mask.astype(np.uint8))
    hull = np.zeros(mask.shape, np.uint8)
    if points is not None:
        cv2.fillConvexPoly(hull, cv2.convexHull(points), 1)
    return hull.astype(bool)


def _one_object(mask: np.ndarray) -> tuple[np.ndarray, PhotoNote | None]:
    """The largest object of a mask, holes filled, with what lies over its box; and a note when a
    second, separate object of a similar size was dropped (the other shoe of a pair)."""
    mask = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_OPEN,
                            cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5)))
    # Closing over about 3% of the photo joins the pieces of a patterned garment, not two shoes.
    close = 2 * max(2, round(0.015 * min(mask.shape))) + 1
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE,
                            cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (close, close)))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, 8)
    if count <= 1:
        return np.zeros(mask.shape, bool), None
    areas = stats[1:, cv2.CC_STAT_AREA]
    order = np.argsort(areas)[::-1] + 1
    main = order[0]
    x, y, w, h = stats[main, :4]
    keep, others = [main], 0
    for other in order[1:]:
        ox, oy, ow, oh = stats[other, :4]
        overlaps = ox < x + w and x < ox + ow and oy < y + h and y < oy + oh
        if overlaps:  # a piece of the same garment (a sleeve cut off by a fold)
            keep.append(other)
        elif stats[other, cv2.CC_STAT_AREA] >= SECOND_OBJECT_FRACTION * stats[main, cv2.CC_STAT_AREA]:
            others += 1
    # One other object of a similar size: a pair. More: no single object stands out.
    note = None if others == 0 else TWO_OBJECTS if others == 1 else UNCLEAR
    return _fill_holes(np.isin(labels, keep)), note


def _fill_holes(mask: np.ndarray) -> np.ndarray:
    """The mask with every region it encloses filled (Fashion-MNIST items have no holes)."""
    padded = np.pad(mask, 1).astype(np.uint8)
    outside = padded.copy()
    cv2.floodFill(outside, None, (0, 0), 1)
    return (padded | (outside == 0))[1:-1, 1:-1].astype(bool)


def _negated_item(gray: np.ndarray, soft: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Fashion-MNIST's rendering: grey levels negated, the item's brightest part (its 99th
    percentile, so a glint does not count) made white, the background black.

    Always negated, as Fashion-MNIST negated its product photos, even for a light garment (which
    comes out dim, with its print bright): on 400 clothing_photos/train photos, today's CNN was
    right on 0.60 of them so, and on 0.55 when light garments were kept light instead."""
    negated = 255.0 - gray.astype(np.float32)
    if not mask.any():
        return np.zeros_like(gray)
    white = max(float(np.percentile(negated[mask], 99)), 1.0)
    item = np.clip(negated * (255.0 / white), 0, 255) * np.clip(soft, 0, 1)
    return np.rint(item).astype(np.uint8)


# ---------------------------------------------------------------- Quick, Draw!
# The ink threshold adapts to the picture: the paper is estimated and divided out (uneven light,
# shadow, paper colour), what is left is each pixel's darkness against its own paper, and the
# threshold sits between the paper's grain and the lines' darkness (Otsu), with hysteresis so that
# the faint, anti-aliased edges of a thin line stay joined to its darker centre.
INK_WORK_SIDE = 800       # uploads are shrunk to this longest side before the ink is found
MIN_INK_DARKNESS = 0.08   # darker than the paper by 8% at least: a light pencil line is ~25%
NOISE_SIGMAS = 5.0        # the strong threshold is this many grain sigmas above the paper
MAX_PAPER_GRAIN = 0.12    # paper noisier than this (sigma, as a fraction of white) is no paper
MIN_PAPER_EVENNESS = 0.4  # a sheet's shadowed paper is still 40% as bright as its lit paper
MAX_INK_FRACTION = 0.45   # a photographed line drawing leaves most of the sheet blank
_BACKGROUND_SIDE = 64     # the paper is estimated on a picture this small ...
_BACKGROUND_KERNEL = 7    # ... by a closing this wide: 11% of the picture, wider than a marker


def doodle_from_canvas(image: np.ndarray) -> Preprocessed:
    """A drawing as a Quick, Draw! doodle: the canvas (RGBA with a transparent background), or an
    uploaded sketch (a scan, a phone photo of paper, a paint-program drawing, any ink colour).

    The ink is found against the paper (see `ink_mask`); Quick, Draw! bitmaps are white ink on
    black, centred on the drawing's bounding box, and drawn with one thin pen whatever the
    drawing's size, so the edges of the strokes are moved in or out until the strokes have the
    dataset's width, whatever pen the user chose, and the drawing is fitted to the 28x28 frame.

    Raises:
        EmptyCanvasError: there is no drawing at all ("draw something").
        DrawingTooSmallError: only a dot or a tiny mark ("too small to read").
        InvalidImageError: the picture is not a line drawing (noise, a photo of a scene).
    """
    canvas = np.asarray(image, dtype=np.uint8)
    flattened = _flatten_alpha(canvas)  # once: the ink is found on it and it is the first step
    ink, mask = _ink_mask(flattened)
    top, bottom, left, right = bounding_box(mask)
    if max(bottom - top, right - left) < MIN_DRAWING_FRACTION * max(ink.shape):
        raise DrawingTooSmallError(
            "This drawing is too small to read: it is only a dot. Draw the whole thing, "
            "filling most of the canvas.")
    cropped, (pad_top, pad_left) = _pad_to_square(
        np.where(mask, ink, 0).astype(np.uint8)[top:bottom, left:right])
    model_image, scale, offset = _redraw_strokes(cropped)
    side = cropped.shape[0]
    # the ink was found on a copy at most INK_WORK_SIDE pixels wide: back to the user's pixels
    shrink_y, shrink_x = ink.shape[0] / canvas.shape[0], ink.shape[1] / canvas.shape[1]
    square_top, square_left = (top - pad_top) / shrink_y, (left - pad_left) / shrink_x
    return Preprocessed(_as_input(model_image), (
        Step("drawing", _for_display(flattened)),
        Step("ink (paper removed)", _for_display(255 - ink)),
        Step("ink mask", _for_display(np.where(mask, 0, 255).astype(np.uint8))),
        Step("cropped", _for_display(cropped)),
        Step("28x28 input", model_image),
    ), crop_box=(square_top, square_top + side / shrink_y, square_left, square_left + side / shrink_x),
        scale=(scale * shrink_y, scale * shrink_x), offset=offset)


def ink_mask(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(ink, mask) of a drawing: ink is 0-255, 255 for the lines' own darkness whatever their
    shade or colour, 0 for paper; mask says which pixels are lines. Works at most
    INK_WORK_SIDE pixels on the longest side.

    Raises:
        EmptyCanvasError: no line anywhere (blank canvas, blank paper).
        InvalidImageError: no paper to be seen (noise), or more ink than paper (not a drawing).
    """
    return _ink_mask(_flatten_alpha(image))


def _ink_mask(flattened: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`ink_mask` of a picture whose alpha is already laid on white (`_flatten_alpha`)."""
    darkness, flat, evenness = _darkness(_shrink(flattened, INK_WORK_SIDE))
    if evenness < MIN_PAPER_EVENNESS:
        raise InvalidImageError(
            "This looks like a photo of a scene, not a drawing on paper. Upload a drawing: dark "
            "lines on light paper (a scan or a photo of the sheet), or draw on the canvas.")
    paper_level, grain = _paper_level_and_grain(darkness)
    if grain > MAX_PAPER_GRAIN:
        raise InvalidImageError(
            "This picture is too busy to find a drawing in it. Upload dark lines on plain light "
            "paper (a scan or a photo of the sheet), or draw on the canvas.")
    scaled = np.rint(darkness * 255).astype(np.uint8)
    otsu, _ = cv2.threshold(scaled, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    floor = max(MIN_INK_DARKNESS, paper_level + NOISE_SIGMAS * grain)
    strong = darkness >= max(floor, otsu / 255)
    weak = darkness >= max(floor / 2, paper_level + 3 * grain, otsu / 510)
    min_area = max(4.0, weak.size * 1e-4)
    if flat:  # the specks are dropped in the same labelling (a canvas: no ruled lines)
        mask = _grow_into(weak, strong, min_area)
    else:  # lined paper is photographed or scanned, never a canvas
        mask = _grow_into(weak, strong)
        mask = _drop_specks(mask & ~_ruled_lines(mask), min_area)
    if not mask.any():
        raise EmptyCanvasError("The canvas is empty: draw something first.")
    if mask.mean() > MAX_INK_FRACTION and not flat:
        raise InvalidImageError(
            "This does not look like a line drawing: there is more ink than paper. Draw the "
            "outline with a pen on light paper and upload that.")
    # the lines' own darkness becomes full ink: faint pencil counts as much as black marker
    line = float(np.percentile(darkness[mask], 90))
    ink = np.clip(darkness / max(line, 1e-3), 0, 1)
    return np.rint(np.where(mask, ink, 0) * 255).astype(np.uint8), mask


def _paper_level_and_grain(darkness: np.ndarray) -> tuple[float, float]:
    """The paper's darkness and its grain (a robust sigma), read on the lightest 60% of the
    pixels: most of a drawing is paper. When more than that is paper at exactly 0 (a canvas, a
    paint program), both are 0, as np.percentile and np.median say, without sorting the picture:
    this runs on every stroke."""
    if np.count_nonzero(darkness <= 0) >= 0.6 * (darkness.size - 1) + 2:
        return 0.0, 0.0  # both neighbours of the 60th percentile's index are zeros
    paper = darkness[darkness <= np.percentile(darkness, 60)]
    level = float(np.median(paper))
    return level, 1.4826 * float(np.median(np.abs(paper - level)))


def _darkness(image: np.ndarray) -> tuple[np.ndarray, bool, float]:
    """How much darker than its paper each pixel is, 0-1 (float32), in its darkest channel: the
    paper is divided out, so uneven light and coloured paper do not count, and any ink colour does.
    Light lines on a dark background are inverted first. Also says whether the sheet is flat, and
    how even its light is (the darkest part of the paper over the brightest, 1 when flat)."""
    if image.ndim == 3 and image.shape[2] > 1 and all(
            np.array_equal(image[..., 0], image[..., c]) for c in range(1, image.shape[2])):
        image = image[..., 0]  # grey (the canvas): one channel gives the same, a third of the work
    # The paper's level and flatness are read on uint8 pixels (the same integers as floats, at a
    # fraction of the cost: this runs on every stroke); the darkness itself is float.
    pixels = np.asarray(image, np.uint8)
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    lightest = pixels.min(axis=2)
    if np.median(_border(lightest)) < 110:
        pixels, lightest = 255 - pixels, 255 - pixels.max(axis=2)  # light strokes on a dark sheet
    channels = pixels.astype(np.float32)
    counts = _histogram(lightest)
    level = _mode(counts, lightest=110)  # the paper is light (dark sheets are inverted first)
    flat = _is_flat(counts, level)
    if flat:  # one paper level (a canvas, a paint program): nothing to estimate, evenly lit
        if channels.shape[2] == 1:
            darkness = 1 - channels[..., 0] / max(level, 1.0)
        else:  # each channel against its own paper level: a pale coloured page is still paper
            levels = np.array([_mode(_histogram(pixels[..., c]), lightest=110)
                               for c in range(channels.shape[2])], np.float32)
            darkness = (1 - channels / np.maximum(levels, 1.0)).max(axis=2)
        return np.clip(darkness, 0, 1), True, 1.0
    paper = np.stack([_paper(channels[..., c]) for c in range(channels.shape[2])], axis=2)
    darkness = 1 - channels / np.maximum(paper, 1.0)
    light = paper.min(axis=2)
    evenness = float(np.percentile(light, 5) / max(np.percentile(light, 95), 1.0))
    return np.clip(darkness.max(axis=2), 0, 1), False, evenness


def _paper(channel: np.ndarray) -> np.ndarray:
    """The paper's brightness under each pixel of a sheet that is not flat (a photo, a scan): a
    closing (dark lines removed) of a small copy, smoothed."""
    height, width = channel.shape
    scale = _BACKGROUND_SIDE / max(height, width)
    small = cv2.resize(channel, (max(8, round(width * scale)), max(8, round(height * scale))),
                       interpolation=cv2.INTER_AREA)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (_BACKGROUND_KERNEL,) * 2)
    closed = cv2.morphologyEx(small, cv2.MORPH_CLOSE, kernel, borderType=cv2.BORDER_REPLICATE)
    closed = cv2.GaussianBlur(closed, (5, 5), 0)
    return cv2.resize(closed, (width, height), interpolation=cv2.INTER_LINEAR)


def _histogram(channel: np.ndarray) -> np.ndarray:
    """How many pixels of a uint8 channel sit at each grey level, 0-255."""
    return np.bincount(channel.ravel(), minlength=256)


def _mode(counts: np.ndarray, lightest: int = 0) -> float:
    """The most common grey level of a channel's `_histogram`, among the levels >= `lightest`."""
    return float(lightest + np.argmax(counts[lightest:]))


def _is_flat(counts: np.ndarray, level: float) -> bool:
    """Whether the paper is one exact light level (`level`, the channel's lightest common grey),
    as on a canvas or in a paint program: then it needs no estimating. A photo's paper has
    grain: few of its pixels sit exactly at its mode. `counts` is the channel's `_histogram`."""
    near = float(counts[max(0, int(level) - 8):int(level) + 9].sum())
    return near > 0.05 * counts.sum() and float(counts[int(level)]) >= 0.6 * near


def _grow_into(weak: np.ndarray, strong: np.ndarray, min_area: float = 0.0) -> np.ndarray:
    """The pieces of `weak` that hold at least one `strong` pixel (hysteresis thresholding), and
    at least `min_area` pixels: the pieces of the result are whole pieces of `weak` (two pieces
    never touch), so this is `_drop_specks` of it in the same labelling."""
    count, labels = cv2.connectedComponents(weak.astype(np.uint8), connectivity=8)
    keep = np.zeros(count, bool)
    keep[labels[strong & weak]] = True
    if min_area > 0:
        keep &= np.bincount(labels.ravel(), minlength=count) >= min_area
    keep[0] = False
    return keep[labels]


def _ruled_lines(mask: np.ndarray) -> np.ndarray:
    """The ruled lines of lined paper: at least three long, nearly horizontal straight lines
    (three quarters of the width or more). A drawing's own strokes are seldom that long and
    straight, and never three times."""
    height, width = mask.shape
    # only thin things can be ruled lines: a filled shape holds long straight runs too
    tall = cv2.getStructuringElement(cv2.MORPH_RECT, (1, max(5, height // 60)))
    thin = mask & ~cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_OPEN, tall).astype(bool)
    segments = cv2.HoughLinesP(thin.astype(np.uint8), 1, np.pi / 360, threshold=width // 3,
                               minLineLength=int(0.75 * width), maxLineGap=max(3, width // 100))
    lines = np.zeros(mask.shape, np.uint8)
    if segments is None:
        return lines.astype(bool)
    flat = [s for s in segments.reshape(-1, 4) if abs(s[3] - s[1]) <= 0.12 * abs(s[2] - s[0])]
    rows = {round((s[1] + s[3]) / 2 / max(2, height // 100)) for s in flat}
    if len(rows) < 3:
        return lines.astype(bool)
    thickness = max(3, round(max(height, width) / 200))
    for x1, y1, x2, y2 in flat:
        cv2.line(lines, (int(x1), int(y1)), (int(x2), int(y2)), 1, thickness)
    return lines.astype(bool) & thin


def _redraw_strokes(square: np.ndarray) -> tuple[np.ndarray, float, tuple[float, float]]:
    """Give the strokes the dataset's pen width, then fit the drawing in 28x28. Returns the
    28x28 image, the input pixels per square pixel, and where the square's corner lands in the
    input (row, column; it may lie outside)."""
    shrink = square.shape[0] > _WORK_SIDE
    work = cv2.resize(square, (_WORK_SIDE, _WORK_SIDE),
                      interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    level = min(_WORK_LEVEL, 0.5 * float(np.percentile(work[work > 0], 90))) if work.any() else 1
    pad = _WORK_SIDE // 8
    mask = np.pad(work >= level, pad)  # the pad leaves room to grow
    inside = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    outside = cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    centre = mask & (inside >= cv2.dilate(inside, np.ones((3, 3), np.uint8)))
    width = 2 * float(np.median(inside[centre]))
    top, bottom, left, right = bounding_box(mask)
    extent = max(bottom - top, right - left)
    # Move every edge out (or in) by `grow` pixels so that the strokes end up STROKE_WIDTH wide
    # once the drawing spans DOODLE_FIT pixels: (width + 2 grow) / (extent + 2 grow).
    grow = (STROKE_WIDTH * extent - DOODLE_FIT * width) / (2 * (DOODLE_FIT - STROKE_WIDTH))
    signed = np.where(mask, 0.5 - inside, outside - 0.5)  # distance to the edge, < 0 inside
    strokes = np.clip(0.5 + grow - signed, 0, 1)
    # A stroke thinner than the others vanishes when edges move in: redraw its centre line.
    to_centre = cv2.distanceTransform((~centre).astype(np.uint8), cv2.DIST_L2, 5)
    strokes = np.maximum(strokes, np.clip(width / 2 + grow + 0.5 - to_centre, 0, 1))
    strokes = strokes.astype(np.float32)
    top, bottom, left, right = bounding_box(strokes >= 0.5)
    side = round(max(bottom - top, right - left) * SIDE / DOODLE_FIT)
    centre_xy = ((left + right - 1) / 2, (top + bottom - 1) / 2)
    centred = cv2.getRectSubPix(strokes, (side, side), centre_xy)
    small = cv2.resize(centred, (SIDE, SIDE), interpolation=cv2.INTER_AREA)
    # getRectSubPix puts the work image's pixel edge c - (side - 1) / 2 at the patch's edge 0;
    # the square's edge 0 is at `pad` in the work image, which is `work_per_square` times larger.
    to_input = SIDE / side
    work_per_square = _WORK_SIDE / square.shape[0]
    offset = tuple((pad - (c - (side - 1) / 2)) * to_input for c in centre_xy[::-1])
    return np.rint(np.clip(small, 0, 1) * 255).astype(np.uint8), work_per_square * to_input, offset


# ---------------------------------------------------------------- photos (MobileNetV2)
def photo_for_mobilenet(rgb: np.ndarray, size: int = 224) -> Preprocessed:
    """A photo as a (size, size, 3) input: shorter side resized to `size`, centre cropped."""
    image = _flatten_alpha(rgb)
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    square, crop_box, scale = _square_and_box(image, size)
    return Preprocessed(square.astype(np.float32), (
        Step("original", _for_display(image)),
        Step("resized and centre-cropped", square),
    ), crop_box=crop_box, scale=scale)


def dataset_image_input(image: np.ndarray) -> Preprocessed:
    """An image taken from a dataset (28x28 grey, or a 224x224 RGB test photo, uint8) is already
    what the model expects."""
    image = np.asarray(image, dtype=np.uint8)
    height, width = image.shape[:2]
    model_input = image.astype(np.float32) if image.ndim == 3 else _as_input(image)
    return Preprocessed(model_input, (Step(f"{height}x{width} input", image),),
                        crop_box=(0.0, float(height), 0.0, float(width)), scale=(1.0, 1.0))


PREPROCESSORS: dict[str, Callable[[np.ndarray], Preprocessed]] = {
    "fashion": fashion_from_photo,
    "doodle": doodle_from_canvas,
    "photo": photo_for_mobilenet,
}


def preprocess(kind: str, image: np.ndarray) -> Preprocessed:
    """Run the preprocessing a model names by `kind`: "fashion", "doodle" or "photo"."""
    if kind not in PREPROCESSORS:
        raise ValueError(f"unknown preprocessing {kind!r}; expected one of {sorted(PREPROCESSORS)}")
    return PREPROCESSORS[kind](image)


# ---------------------------------------------------------------- small helpers
def _flatten_alpha(image: np.ndarray) -> np.ndarray:
    """RGBA laid on white as RGB; (H, W, 1) as (H, W); anything else unchanged."""
    image = np.asarray(image, dtype=np.uint8)
    if image.ndim == 3 and image.shape[2] == 1:
        return image[..., 0]
    if image.ndim == 3 and image.shape[2] == 4:
        if image[..., 3].min() == 255:  # opaque (the canvas): nothing to lay on white
            return cv2.cvtColor(image, cv2.COLOR_RGBA2RGB)
        *rgb, alpha = cv2.split(image)
        return 255 - cv2.multiply(255 - cv2.merge(rgb), cv2.merge([alpha] * 3), scale=1 / 255)
    return image


def _border(image: np.ndarray) -> np.ndarray:
    """The pixels of the outer frame, 2% of the size thick (at least one pixel)."""
    return border_pixels(image, max(1, round(0.02 * min(image.shape[:2])))).ravel()


def _drop_specks(mask: np.ndarray, min_area: float) -> np.ndarray:
    """The mask without its connected pieces smaller than `min_area` pixels."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), 8)
    keep = stats[:, cv2.CC_STAT_AREA] >= min_area
    keep[0] = False  # label 0 is the background
    return keep[labels]


def _pad_to_square(image: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
    """Centre the image on a black square as large as its longest side; also the padding added
    above and to the left."""
    height, width = image.shape[:2]
    side = max(height, width)
    top, left = (side - height) // 2, (side - width) // 2
    return cv2.copyMakeBorder(image, top, side - height - top, left, side - width - left,
                              cv2.BORDER_CONSTANT, value=0), (top, left)


def _fit_in_square(image: np.ndarray, fit: int, side: int):
    """Scale the longest side to `fit` pixels, keeping the shape, and centre on a black square.
    Returns the square, the (height, width) the image was resized to, and its (top, left)."""
    height, width = image.shape[:2]
    scale = fit / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    resized = cv2.resize(image, size, interpolation=interpolation)
    out = np.zeros((side, side), np.uint8)
    # An odd spare pixel goes above and to the left, as in Fashion-MNIST.
    top, left = (side - size[1] + 1) // 2, (side - size[0] + 1) // 2
    out[top:top + size[1], left:left + size[0]] = resized
    return out, (size[1], size[0]), (float(top), float(left))


def _for_display(image: np.ndarray) -> np.ndarray:
    return _shrink(image, DISPLAY_SIDE)


def _shrink(image: np.ndarray, longest_side: int) -> np.ndarray:
    """The image with its longest side at most `longest_side` pixels."""
    longest = max(image.shape[:2])
    if longest <= longest_side:
        return np.ascontiguousarray(image)
    scale = longest_side / longest
    size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def _as_input(image28: np.ndarray) -> np.ndarray:
    return image28.astype(np.float32)[..., np.newaxis]
