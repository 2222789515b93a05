"""App tests of the Doodle page's issue-9 features with AppTest: pen widths and the eraser, an
upload on the page itself, "I'm not sure yet" below the calibrated threshold (top-k still shown),
and "too small to read" for a dot.

As in test_pages_explore.py, the model is a stand-in (the registered architecture, untrained) in a
temporary weights folder, and the browser canvas is replaced by a fake returning what the browser
sends; the expected guess is computed independently, from the model file read by Keras.
"""

from __future__ import annotations

import io
import json
import re
import types
from pathlib import Path

import keras
import numpy as np
import pytest
import streamlit as st
from PIL import Image, ImageDraw
from streamlit.testing.v1 import AppTest

import drawn_shapes
from bars import bar_blocks
from ui import widgets
from vision import registry
from vision.data import DOODLE_CLASSES
from vision.images import decode_image
from vision.models import Predictor
from vision.preprocess import preprocess

ROOT = Path(__file__).resolve().parent.parent
TOP1 = re.compile(r"^(?P<label>[a-z]+) - (?P<percent>\d+\.\d)%$")
TIMEOUT = 120


@pytest.fixture(scope="module")
def stand_in(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("weights")
    registry.get_spec("doodle_cnn").build().save(folder / "doodle_cnn.keras")
    return folder


@pytest.fixture(autouse=True)
def weights_dir(stand_in, monkeypatch) -> Path:
    st.cache_resource.clear()
    st.cache_data.clear()
    monkeypatch.setattr(registry, "WEIGHTS_DIR", stand_in)
    (stand_in / "doodle_cnn.json").unlink(missing_ok=True)
    yield stand_in
    st.cache_resource.clear()
    st.cache_data.clear()


def with_calibration(folder: Path, unsure_below: float) -> None:
    (folder / "doodle_cnn.json").write_text(json.dumps(
        {"model": "doodle_cnn", "calibration": {"temperature": 1.0, "unsure_below": unsure_below}}))


class FakeCanvas:
    """The Doodle page's own canvas returns the strokes `value` as the browser would, and its
    calls are recorded; the canvases of "Add a class" send nothing."""

    def __init__(self, value):
        self.value, self.calls = value, []

    def __call__(self, **kwargs):
        if kwargs.get("key") != "doodle_pad":  # the canvases of "Add a class" (issue 13)
            return None
        self.calls.append(kwargs)
        return self.value


def circle_drawing(width: int = 12) -> dict:
    return drawn_shapes.drawing(drawn_shapes.circle(width=width))


def thin_sketch_png() -> bytes:
    """A fish in one-pixel grey lines on a 150x150 white PNG, as from a paint program."""
    image = Image.new("RGB", (150, 150), "white")
    draw = ImageDraw.Draw(image)
    draw.ellipse((20, 50, 100, 100), outline=(90, 90, 90), width=1)
    draw.line([(100, 75), (135, 50), (135, 100), (100, 75)], fill=(90, 90, 90), width=1)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def page() -> AppTest:
    return AppTest.from_file(str(ROOT / "pages" / "doodle.py"), default_timeout=TIMEOUT)


def expected_top1(model_input: np.ndarray) -> str:
    spec = registry.get_spec("doodle_cnn")
    model = keras.saving.load_model(spec.weights_path, compile=False)
    probabilities = Predictor(model, spec).probabilities(model_input)
    top = int(np.argmax(probabilities))
    return widgets.prediction_text(spec.labels[top], float(probabilities[top]))


def headers(at: AppTest) -> list[str]:
    return [h.value for h in at.subheader]


def test_the_pens_and_the_eraser_draw_what_the_canvas_shows(monkeypatch):
    """The pens are in the canvas's own toolbar: the page gets each stroke's width and whether it
    erases, and draws the strokes as the browser does (a thick stroke inks more, the eraser
    gives paper back)."""
    thin, thick = drawn_shapes.circle(width=3), drawn_shapes.circle(width=28)
    erased = drawn_shapes.stroke([(60, 160), (260, 160)], width=30, erase=True)
    ink = {}
    fake = FakeCanvas(None)
    monkeypatch.setattr(widgets, "_canvas_component", fake)
    at = page().run()
    for name, strokes in [("thin", [thin]), ("thick", [thick]), ("erased", [thick, erased])]:
        fake.value = drawn_shapes.drawing(*strokes)
        at.run()
        assert not at.exception
        ink[name] = int((at.session_state[widgets.DRAWING_KEY][..., 0] < 128).sum())
    assert 0 < ink["thin"] < ink["thick"]
    assert ink["erased"] < ink["thick"]
    picture = at.session_state[widgets.DRAWING_KEY]
    assert (picture[160, 60:260, :3] == 255).all()  # under the eraser: paper again
    assert fake.calls[-1]["key"] == fake.calls[0]["key"]  # the same canvas: the drawing stays
    assert fake.calls[0]["pen"] == "medium"


def test_upload_a_drawing_on_the_doodle_page():
    at = page().run()
    at.radio(key="doodle_source").set_value("Upload a drawing").run()
    payload = thin_sketch_png()
    at.file_uploader(key="doodle_upload").set_value(("fish.png", payload, "image/png")).run()
    assert not at.exception
    matches = [m for m in (TOP1.match(h) for h in headers(at)) if m]
    assert len(matches) == 1, headers(at)
    assert matches[0].group("label") in DOODLE_CLASSES
    assert matches[0].group(0) == expected_top1(preprocess("doodle", decode_image(payload)).model_input)
    captions = [c for image in at.image for c in image.captions]
    assert "ink mask" in captions and "28x28 input" in captions


def test_on_the_canvas_the_steps_are_drawn_only_once_opened(monkeypatch):
    # Five pictures fewer on every stroke while "step by step" is closed; opened, it shows them
    # all, and stays open for the next strokes.
    fake = FakeCanvas(circle_drawing())
    monkeypatch.setattr(widgets, "_canvas_component", fake)
    at = page().run()
    assert not at.exception
    captions = [c for image in at.image for c in image.captions]
    assert any(c.startswith("Where it looked") for c in captions)
    assert "ink mask" not in captions and "28x28 input" not in captions
    assert [e.label for e in at.expander] == ["What the model sees, step by step"]
    at.session_state["doodle_steps_draw"] = True  # what clicking the expander sets
    at.run()
    captions = [c for image in at.image for c in image.captions]
    assert "ink mask" in captions and "28x28 input" in captions
    fake.value = drawn_shapes.drawing(drawn_shapes.circle(), drawn_shapes.stroke([(60, 60), (120, 90)]))
    at.run()
    assert "ink mask" in [c for image in at.image for c in image.captions]


def test_a_bad_upload_on_the_doodle_page_is_a_plain_message():
    at = page().run()
    at.radio(key="doodle_source").set_value("Upload a drawing").run()
    noise = np.random.default_rng(0).integers(0, 256, (200, 200, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(noise).save(buffer, format="PNG")
    at.file_uploader(key="doodle_upload").set_value(("noise.png", buffer.getvalue(), "image/png")).run()
    assert not at.exception
    assert any("too busy" in e.value for e in at.error), [e.value for e in at.error]


def test_below_the_calibrated_threshold_it_says_not_sure_and_keeps_the_bars(weights_dir, monkeypatch):
    with_calibration(weights_dir, unsure_below=1.01)  # nothing is sure enough
    monkeypatch.setattr(widgets, "_canvas_component", FakeCanvas(circle_drawing()))
    at = page().run()
    assert not at.exception
    assert headers(at) == ["I'm not sure yet"]
    assert any("best guess so far" in c.value for c in at.caption)
    assert bar_blocks(at), "the top-k bars must stay visible"


def test_above_the_calibrated_threshold_it_answers(weights_dir, monkeypatch):
    with_calibration(weights_dir, unsure_below=0.0)
    monkeypatch.setattr(widgets, "_canvas_component", FakeCanvas(circle_drawing()))
    at = page().run()
    assert not at.exception
    assert headers(at) == [expected_top1(preprocess("doodle", drawn_shapes.picture(circle_drawing())).model_input)]


def test_a_dot_is_too_small_to_read(monkeypatch):
    dot = drawn_shapes.stroke([(160, 160)], width=10)
    monkeypatch.setattr(widgets, "_canvas_component", FakeCanvas(drawn_shapes.drawing(dot)))
    at = page().run()
    assert not at.exception
    assert headers(at) == ["Too small to read"]
    assert any("too small to read" in i.value for i in at.info)
    assert not any("empty" in i.value for i in at.info)
