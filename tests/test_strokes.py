"""vision.strokes: the canvas's strokes drawn as pixels (the browser comparison is in
tests/test_browser_canvas.py), and what the page does with a value from the browser."""

from __future__ import annotations

import numpy as np
import pytest

import drawn_shapes
from vision import strokes
from vision.strokes import parse_strokes, render_strokes


def ink(picture: np.ndarray) -> np.ndarray:
    return picture[..., 0] < 128


def test_an_empty_drawing_is_blank_opaque_paper():
    for value in ({"side": 320, "strokes": []}, [], None):
        picture = render_strokes(value, 320)
        assert picture.shape == (320, 320, 4) and picture.dtype == np.uint8
        assert (picture == 255).all()


def test_a_line_is_as_wide_as_its_pen_with_round_caps():
    picture = render_strokes(drawn_shapes.drawing(drawn_shapes.stroke([(100, 160), (220, 160)],
                                                                      width=20)), 320)
    assert picture[..., 0].min() == 0 and (picture[..., 0] == picture[..., 2]).all()  # grey ink
    column = ink(picture)[:, 160]
    assert column.sum() == pytest.approx(20, abs=1)  # the pen's width across the line
    row = ink(picture)[160]
    assert row.sum() == pytest.approx(120 + 20, abs=2)  # a round cap of half the pen at each end
    assert not ink(picture)[151, 91] and ink(picture)[160, 91]


def test_a_dot_is_a_disc_as_wide_as_the_pen():
    picture = render_strokes({"strokes": [{"width": 12, "erase": False, "points": [[50, 60]]}]}, 320)
    mask = ink(picture)
    assert mask.sum() == pytest.approx(np.pi * 6 ** 2, rel=0.15)
    ys, xs = np.nonzero(mask)
    assert xs.mean() == pytest.approx(50 - 0.5, abs=0.6) and ys.mean() == pytest.approx(60 - 0.5, abs=0.6)


def test_the_eraser_gives_the_paper_back():
    line = drawn_shapes.stroke([(60, 160), (260, 160)], width=12)
    rub = drawn_shapes.stroke([(160, 140), (160, 180)], width=30, erase=True)
    picture = render_strokes(drawn_shapes.drawing(line, rub), 320)
    assert (picture[150:171, 146:175, :3] == 255).all()
    assert ink(picture)[160, 100] and ink(picture)[160, 220]


def test_painting_new_strokes_over_the_last_picture_gives_the_whole_drawing():
    strokes = drawn_shapes.houses_strokes(1, seed=2)[0]["strokes"] + [drawn_shapes.circle()]
    whole = render_strokes(strokes, 320)
    step = None
    for stroke in strokes:
        step = render_strokes([stroke], 320, base=step)
    assert np.abs(whole.astype(int) - step).max() <= 1  # rounding between the steps, no more


@pytest.mark.parametrize("value", [
    "strokes", 42, {"strokes": "abc"}, {"strokes": [None, 3, "x"]},
    {"strokes": [{"width": "wide", "points": [[1, 2]]}]},
    {"strokes": [{"width": 12, "points": [[1]]}]},
    {"strokes": [{"width": 12, "points": [["a", "b"]]}]},
    {"strokes": [{"width": -3, "points": [[1, 2]]}]},
    {"strokes": [{"width": float("nan"), "points": [[1, 2]]}]},
    {"strokes": [{"width": 12, "points": [[float("inf"), 2]]}]},
    {"strokes": [{"width": 12, "points": []}]},
], ids=repr)
def test_a_malformed_value_from_the_browser_is_left_out_never_raised(value):
    assert parse_strokes(value) == []
    assert (render_strokes(value, 320) == 255).all()


def test_strokes_off_the_canvas_are_cut_at_its_edge():
    value = {"strokes": [{"width": 12, "erase": False, "points": [[-50, 160], [500, 160]]},
                         {"width": 12, "erase": False, "points": [[900, 900], [950, 950]]}]}
    picture = render_strokes(value, 320)
    assert ink(picture)[160].all()  # the part on the canvas, edge to edge
    assert ink(picture).sum() == pytest.approx(320 * 12, rel=0.05)


def test_the_page_draws_a_value_sent_at_another_side_at_its_own(monkeypatch):
    from streamlit.testing.v1 import AppTest

    from ui import widgets

    circle = drawn_shapes.drawing(drawn_shapes.circle(radius=100, width=12))
    monkeypatch.setattr(widgets, "_canvas_component", lambda key, **kwargs: circle)

    def page():
        import streamlit as st

        from ui import widgets

        picture = widgets.drawing("pad", side=160)
        st.write(f"{picture.shape[0]} {int((picture[..., 0] < 128).sum())}")

    at = AppTest.from_function(page).run()
    assert not at.exception
    side, count = map(int, at.markdown[0].value.split())
    assert side == 160
    # half the side: the circle at half the radius, the pen half as wide
    assert count == pytest.approx((ink(render_strokes(circle, 320))).sum() / 4, rel=0.1)


def test_a_canvas_of_another_size_starts_from_the_last_drawing_at_its_own_scale(monkeypatch):
    from streamlit.testing.v1 import AppTest

    from ui import widgets

    asked = []
    monkeypatch.setattr(widgets, "_canvas_component", lambda **kwargs: asked.append(kwargs))

    def page():
        from ui import widgets

        widgets.drawing("small_pad", side=160)

    at = AppTest.from_function(page)
    at.session_state[widgets.DRAWING_JSON_KEY] = drawn_shapes.drawing(
        drawn_shapes.stroke([(100, 200), (300, 40)], width=12))  # drawn on the 320 px canvas
    at.run()
    assert not at.exception
    start = asked[-1]["initial"]
    assert start["side"] == 160
    assert start["strokes"] == [{"width": 6.0, "erase": False, "points": [[50.0, 100.0], [150.0, 20.0]]}]


@pytest.mark.parametrize("run_segments", [16, 7, 1])  # 1: one segment at a time
def test_each_pixel_s_ink_is_its_distance_to_the_whole_polyline(monkeypatch, run_segments):
    """Against an independent reference: every pixel centre's distance to every segment of the
    stroke (float64, no windows), whatever runs of segments the drawing code computes at once."""
    monkeypatch.setattr(strokes, "_RUN_SEGMENTS", run_segments)
    rng = np.random.default_rng(5)
    steps = rng.normal(0, 6, (60, 2)).cumsum(axis=0)
    points = np.round(160 + steps + [[2.5 * i - 75, 0] for i in range(60)], 1).astype(np.float32)
    points[10] = points[9]  # a repeated point: a segment of length 0
    width = 9.0
    (top, left), cover = strokes._stroke_coverage(points, width, 320)
    ys, xs = np.mgrid[top:top + cover.shape[0], left:left + cover.shape[1]] + 0.5
    pixel = np.stack([xs, ys], axis=-1)[..., None, :].astype(np.float64)  # (H, W, 1, 2)
    a, b = points[:-1].astype(np.float64), points[1:].astype(np.float64)
    ab = b - a
    length2 = (ab ** 2).sum(axis=1)
    t = np.clip(((pixel - a) * ab).sum(axis=-1) / np.where(length2 > 0, length2, 1), 0, 1)
    distance = np.linalg.norm(pixel - (a + t[..., None] * ab), axis=-1).min(axis=-1)
    expected = np.clip(width / 2 + 0.5 - distance, 0, 1)
    assert cover.shape == expected.shape and (expected > 0.99).sum() > 1000
    np.testing.assert_allclose(cover, expected, atol=1e-4)
