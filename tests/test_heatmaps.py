"""Pure image helpers (vision.heatmaps) and the way a heat map maps back onto the user's picture
(the crop box and scale that vision.preprocess records)."""

import subprocess
import sys

import cv2
import numpy as np
import pytest

from vision import heatmaps
from vision.heatmaps import normalise_maps, tile_maps
from vision.preprocess import (SEGMENT_SIDE, dataset_image_input, doodle_from_canvas, fashion_from_photo,
                               photo_for_mobilenet)


def tshirt(height=420, width=330, dark=(40, 50, 90)) -> tuple[np.ndarray, np.ndarray]:
    """A photo of a dark T-shirt shape on white, and the shape's mask."""
    photo = np.full((height, width, 3), 255, np.uint8)
    shape = np.array([(60, 70), (120, 50), (180, 50), (240, 70), (290, 140), (245, 160), (235, 130),
                      (235, 380), (85, 380), (85, 130), (75, 160), (30, 140)], np.int32)
    cv2.fillPoly(photo, [shape], dark)
    return photo, photo[..., 0] < 128


def mask_precision(photo: np.ndarray) -> float:
    """Two pixels of the shrunk copy the garment's mask is found on, in the photo's pixels."""
    return 2 * max(photo.shape[:2]) / SEGMENT_SIDE


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def test_drawing_a_heat_map_does_not_import_tensorflow():
    code = ("import vision.heatmaps, vision.preprocess, sys; "
            "print(any(m.split('.')[0] in ('tensorflow', 'keras') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_fashion_heat_map_lands_on_the_item_in_the_users_photo():
    photo, item = tshirt()
    prepared = fashion_from_photo(photo)
    top, bottom, left, right = prepared.crop_box
    # the crop is the item's box in the user's own pixels, to within the precision of the mask
    # (found on the photo shrunk to SEGMENT_SIDE: two of its pixels)
    box = heatmaps.bounding_box(item)
    assert np.allclose((top, bottom, left, right), box, atol=mask_precision(photo))
    # a heat map that is hot exactly where the 28x28 input holds the item...
    heat = (prepared.model_input[..., 0] > 127).astype(np.float32)
    region = item[int(round(top)):int(round(bottom)), int(round(left)):int(round(right))]
    mapped = prepared.heatmap_on_crop(heat, region.shape) > 0.5
    # ...covers the item in the photo, at the photo's resolution (15 photo pixels per input pixel)
    assert iou(mapped, region) > 0.85
    shifted = np.roll(heat, 1, axis=1)  # one input pixel off: clearly worse
    assert iou(prepared.heatmap_on_crop(shifted, region.shape) > 0.5, region) < iou(mapped, region) - 0.05


def test_a_big_photo_is_mapped_in_its_own_pixels():
    # shrunk to 1024 pixels before cropping
    photo = cv2.resize(tshirt()[0], (1320, 1680), interpolation=cv2.INTER_NEAREST)
    item = photo[..., 0] < 128
    prepared = fashion_from_photo(photo)
    assert np.allclose(prepared.crop_box, heatmaps.bounding_box(item), atol=mask_precision(photo))
    heat = (prepared.model_input[..., 0] > 127).astype(np.float32)
    top, bottom, left, right = (int(round(v)) for v in prepared.crop_box)
    region = item[top:bottom, left:right]
    assert iou(prepared.heatmap_on_crop(heat, region.shape) > 0.5, region) > 0.85


def test_doodle_heat_map_lands_on_the_drawing():
    canvas = np.full((320, 320, 4), 255, np.uint8)
    cv2.rectangle(canvas, (60, 110), (250, 200), (0, 0, 0, 255), 10)  # a wide box, off centre
    prepared = doodle_from_canvas(canvas)
    crop = next(step.image for step in prepared.steps if step.name == "cropped")
    heat = (prepared.model_input[..., 0] > 64).astype(np.float32)
    mapped = prepared.heatmap_on_crop(heat, crop.shape[:2]) > 0.5
    drawn = crop > 128
    side = crop.shape[0]
    # the map's box is the drawing's box, to within one input pixel (side / 25 crop pixels)
    assert np.allclose(heatmaps.bounding_box(mapped), heatmaps.bounding_box(drawn), atol=side / 25)
    # and the square crop sits where the crop box says on the canvas
    top, bottom, left, right = prepared.crop_box
    assert bottom - top == right - left == side
    assert (top + bottom) / 2 == pytest.approx((110 + 200) / 2, abs=2)
    assert (left + right) / 2 == pytest.approx((60 + 250) / 2, abs=2)


def test_photo_and_dataset_inputs_record_their_box():
    prepared = photo_for_mobilenet(np.zeros((300, 500, 3), np.uint8))
    top, bottom, left, right = prepared.crop_box
    assert (top, bottom) == pytest.approx((0, 300), abs=0.5)
    assert (left, right) == pytest.approx((100, 400), abs=1.0)  # the centre square (whole pixels)
    assert prepared.scale == pytest.approx((224 / 300, 224 / 300), rel=1e-2)
    sample = dataset_image_input(np.zeros((28, 28), np.uint8))
    heat = np.random.default_rng(0).uniform(size=(28, 28)).astype(np.float32)
    # a dataset image is its own crop: the map comes back unchanged
    np.testing.assert_allclose(sample.heatmap_on_crop(heat, (28, 28)), heat, atol=1e-5)


def test_enlarge_uses_whole_factors_and_keeps_the_dtype():
    image = np.arange(12, dtype=np.float32).reshape(3, 4)
    big = heatmaps.enlarge(image, 10)
    assert big.shape == (12, 16) and big.dtype == np.float32  # 3 * 4 >= 10
    np.testing.assert_array_equal(big[::4, ::4], image)
    large = np.zeros((300, 300), np.uint8)
    assert heatmaps.enlarge(large, 280) is large


def test_bounding_box_and_border_pixels():
    mask = np.zeros((6, 7), bool)
    mask[2:4, 1:6] = True
    assert heatmaps.bounding_box(mask) == (2, 4, 1, 6)
    assert heatmaps.bounding_box(np.zeros((3, 3), bool)) == (0, 0, 0, 0)
    image = np.arange(20).reshape(4, 5)
    border = heatmaps.border_pixels(image)
    inside = {6, 7, 8, 11, 12, 13}
    assert sorted(border.tolist()) == sorted(set(range(20)) - inside)  # each frame pixel once
    rgb = np.zeros((5, 5, 3))
    assert heatmaps.border_pixels(rgb, 2).shape == (24, 3)


def test_as_uint8_rounds_clips_and_drops_one_channel():
    picture = heatmaps.as_uint8(np.array([[[-3.0], [254.6]], [[300.0], [0.4]]]))
    assert picture.dtype == np.uint8 and picture.tolist() == [[0, 255], [255, 0]]


def test_normalise_per_map():
    rng = np.random.default_rng(0)
    maps = rng.normal(size=(6, 5, 4)).astype(np.float32) * np.array([1, 10, 100, 0])
    out = normalise_maps(maps)
    assert out.dtype == np.float32 and out.shape == maps.shape
    np.testing.assert_allclose(out[..., :3].min(axis=(0, 1)), 0.0)
    np.testing.assert_allclose(out[..., :3].max(axis=(0, 1)), 1.0)
    assert not out[..., 3].any()  # a constant map becomes zeros, not NaN


def test_normalise_per_layer_and_shared():
    maps = np.stack([np.full((3, 3), 2.0), np.full((3, 3), 4.0)], axis=-1)
    per_layer = normalise_maps(maps, "per_layer")
    assert per_layer[..., 0].max() == 0.0 and per_layer[..., 1].min() == 1.0
    shared = normalise_maps(maps, "shared", value_range=(0.0, 8.0))
    np.testing.assert_allclose(shared[0, 0], [0.25, 0.5])
    np.testing.assert_allclose(normalise_maps(maps, "shared", value_range=(0.0, 3.0))[0, 0], [2 / 3, 1])
    with pytest.raises(ValueError, match="value_range"):
        normalise_maps(maps, "shared")
    with pytest.raises(ValueError, match="scale"):
        normalise_maps(maps, "global")


@pytest.mark.parametrize("channels, columns, pad, expected", [
    (10, None, 1, (17, 19)),  # 4 columns, 3 rows of 5x4 cells
    (10, 5, 1, (11, 24)),
    (1, None, 2, (5, 4)),
    (8, 8, 0, (5, 32)),
])
def test_tile_maps_size(channels, columns, pad, expected):
    maps = np.random.default_rng(0).random((5, 4, channels)).astype(np.float32)
    grid = tile_maps(maps, columns=columns, pad=pad)
    assert grid.shape == expected and grid.dtype == np.float32


def test_tile_maps_places_channels_row_by_row():
    maps = np.stack([np.full((2, 3), k / 10) for k in range(5)], axis=-1)
    grid = tile_maps(maps, columns=2, pad=1, pad_value=-1.0)
    assert grid.shape == (8, 7)
    assert grid[0, 0] == 0.0 and grid[0, 4] == 0.1 and grid[3, 0] == 0.2 and grid[6, 0] == 0.4
    assert grid[2, 0] == -1.0 and grid[6, 4] == -1.0  # padding and the unused last cell


def test_fit_for_display_enlarges_small_keeps_medium_and_shrinks_large():
    from vision.heatmaps import fit_for_display

    small = np.arange(28 * 28, dtype=np.uint8).reshape(28, 28)
    big_small = fit_for_display(small, 112)
    assert big_small.shape == (112, 112) and np.array_equal(big_small[::4, ::4], small)  # crisp
    medium = np.zeros((200, 150, 3), np.uint8)
    assert fit_for_display(medium, 112) is medium  # already about the size it is shown at
    photo = np.zeros((768, 1024, 3), np.uint8)
    photo[:, 512:] = 200  # right half light
    shrunk = fit_for_display(photo, 140)
    assert shrunk.shape == (210, 280, 3)  # longer side twice the display size
    assert shrunk[:, :139].max() == 0 and shrunk[:, 141:].min() == 200
