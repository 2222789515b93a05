"""App test of "Add a class" on the Doodle page: name a thing, add 8 drawings, teach, try it.

The doodle model is the registered architecture with untrained weights, saved to a temporary
weights folder with a feature bank made from it, so the test checks the page and the session,
not accuracy (tests/test_teach.py measures that on the shipped model). The browser canvas is
replaced, as in tests/test_pages_explore.py, by a fake returning generated house drawings."""

from __future__ import annotations

import re
from pathlib import Path

import keras
import numpy as np
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

import drawn_shapes
from ui import teach as teach_ui
from ui import widgets
from vision import registry, teach
from vision.data import DOODLE_CLASSES

ROOT = Path(__file__).resolve().parent.parent
TOP1 = re.compile(r"^(?P<label>.+) - (?P<percent>\d+\.\d)%$")


class HouseCanvas:
    """Each example canvas (`teach_pad_N`) holds the N-th house; the try-it canvas another one;
    the Doodle page's own canvas stays empty. Each house is drawn at the canvas's own side, as
    the browser sends it."""

    def __call__(self, key, side, **kwargs):
        houses = drawn_shapes.houses_strokes(12, seed=4, side=side)
        if key.startswith("teach_pad_"):
            return houses[int(key.rsplit("_", 1)[1]) % 10]
        if key == "teach_try_pad":
            return houses[11]
        return None


@pytest.fixture
def stand_in(tmp_path, monkeypatch):
    keras.utils.set_random_seed(5)
    base = registry.get_spec("doodle_cnn").build()
    base.save(tmp_path / "doodle_cnn.keras")
    images = np.random.default_rng(0).uniform(0, 255, (45, 28, 28)).astype(np.float32)
    bank = teach.features(teach.feature_model(base), images)
    np.savez(tmp_path / teach.BANK_NAME, features=bank, labels=np.arange(45) % 9)
    monkeypatch.setattr(registry, "WEIGHTS_DIR", tmp_path)
    monkeypatch.setattr(widgets, "_canvas_component", HouseCanvas())
    monkeypatch.setattr(teach_ui, "_test_features", lambda: None)  # no dataset needed here
    st.cache_resource.clear()
    st.cache_data.clear()
    yield tmp_path
    st.cache_resource.clear()
    st.cache_data.clear()


def test_add_a_class_teaches_a_tenth_class_in_this_session(stand_in):
    at = AppTest.from_file(str(ROOT / "pages" / "doodle.py"), default_timeout=120).run()
    assert not at.exception
    assert at.button(key="teach_go").disabled  # no name, no drawings
    at.text_input(key="teach_name").set_value("house").run()
    for count in range(1, 9):
        at.button(key="teach_add").click().run()
        assert not at.exception
        assert len(at.session_state[teach_ui.EXAMPLES_KEY]) == count
        if count < 8:
            assert at.button(key="teach_go").disabled
    examples = at.session_state[teach_ui.EXAMPLES_KEY]
    assert len({e.tobytes() for e in examples}) == 8  # eight different drawings, 28x28
    assert all(e.shape == (28, 28) for e in examples)

    at.button(key="teach_go").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    taught = at.session_state[teach_ui.TAUGHT_KEY]
    assert taught.labels == (*DOODLE_CLASSES, "house")
    report = at.session_state[teach_ui.REPORT_KEY]
    assert report["total"] == 8 and 0 <= report["recognised"] <= 8
    assert any(m.value == f"{report['recognised']} of 8" for m in at.metric)
    # try it: the 10-class guess on the try-it canvas, computed here independently
    guesses = [h.value for h in at.subheader if TOP1.match(h.value)]
    from vision.preprocess import doodle_from_canvas

    try_side = 280  # ui/teach.py's try-it canvas
    house = drawn_shapes.houses_strokes(12, seed=4, side=try_side)[11]
    image = doodle_from_canvas(drawn_shapes.picture(house, try_side)).model_input
    probabilities = taught.model.predict(image[None], verbose=0)[0]
    top = int(np.argmax(probabilities))
    # the last guess on the page is the try-it canvas's (the Doodle canvas above has its own)
    assert guesses[-1] == widgets.prediction_text(taught.labels[top], float(probabilities[top]))
    captions = [c for image in at.image for c in image.captions]
    assert f"CAM for {taught.labels[top]}" in captions

    other = AppTest.from_file(str(ROOT / "pages" / "doodle.py"), default_timeout=120).run()
    assert teach_ui.TAUGHT_KEY not in other.session_state  # another session has its own
