"""App tests of the "Your model" page (AppTest): upload, prediction, heat map, bad files, and
two sessions that never see each other's model.

The expected top-1 is computed without the app: the fixture model itself, through Keras, on the
picture prepared as the page prepares it."""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw
from streamlit.testing.v1 import AppTest

import user_model_files as files
from vision.user_models import keras_bytes
from ui import user_model, widgets
from vision.images import decode_image
from vision.user_models import prepare_picture

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 120
TOP1 = re.compile(r"^(?P<label>.+) - (?P<percent>\d+\.\d)%$")


def page() -> AppTest:
    return AppTest.from_file(str(ROOT / "pages" / "your_model.py"), default_timeout=TIMEOUT)


def photo() -> bytes:
    image = Image.new("RGB", (200, 240), "white")
    ImageDraw.Draw(image).rectangle((50, 40, 150, 200), fill=(30, 30, 60))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def image_captions(at: AppTest) -> list[str]:
    return [caption for image in at.image for caption in image.captions]


def top1(at: AppTest) -> str:
    found = [h.value for h in at.subheader if TOP1.match(h.value)]
    assert len(found) == 1, [h.value for h in at.subheader]
    return found[0]


def upload_model(at: AppTest, data: bytes, labels: bytes | None = None,
                 name: str = "mine.keras") -> AppTest:
    if labels is not None:
        at.file_uploader(key="your_model_labels").set_value(("labels.txt", labels, "text/plain"))
    at.file_uploader(key="your_model_file").set_value((name, data, "application/octet-stream"))
    return at.run()


def expected_top1(model, picture: bytes, kind: str = "fashion", labels=("cat", "dog", "bird")) -> str:
    prepared = prepare_picture(kind, decode_image(picture), tuple(model.input_shape[1:]))
    probabilities = model.predict(prepared.model_input[None], verbose=0)[0]
    top = int(np.argmax(probabilities))
    return widgets.prediction_text(labels[top], float(probabilities[top]))


def test_upload_a_model_and_a_photo_shows_its_guess_and_heat_map():
    model = files.small_cnn()
    at = upload_model(page().run(), keras_bytes(model), b"cat\ndog\nbird\n")
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any(m.value == "28x28x1" for m in at.metric)
    assert at.radio(key="your_model_kind").value == "fashion"  # one grey channel
    at.file_uploader(key="your_model_fashion_upload").set_value(("shirt.png", photo(), "image/png"))
    at.run()
    assert not at.exception
    assert top1(at) == expected_top1(model, photo())
    assert at.selectbox(key="your_model_layer").options == ["c1", "p1", "c2"]
    # no Dense named "logits" after the pooling: Grad-CAM, on the last layer by default
    assert any(c.startswith("Grad-CAM for ") and c.endswith(" on layer c2") for c in image_captions(at))
    # any layer, any class
    at.selectbox(key="your_model_layer").set_value("c1")
    at.selectbox(key="your_model_class").set_value(2).run()
    assert not at.exception
    assert "Grad-CAM for bird on layer c1" in image_captions(at)
    layers = [m.value for m in at.markdown if m.value.startswith("**") and "output" in m.value]
    assert [line.split("**")[1] for line in layers] == ["c1", "p1", "c2"]  # the Layers view


def test_a_model_uploaded_in_one_session_is_invisible_to_another():
    first = upload_model(page().run(), files.valid(), b"cat\ndog\nbird\n")
    assert user_model.MODEL_KEY in first.session_state
    second = page().run()  # another browser tab: its own session
    assert not second.exception
    assert user_model.MODEL_KEY not in second.session_state
    assert any("Upload a `.keras` model" in i.value for i in second.info)
    assert not second.metric

    other = files.valid(size=32, channels=3, classes=2)
    second = upload_model(second, other, b"left\nright\n")
    first.run()
    assert first.session_state[user_model.MODEL_KEY].labels == ("cat", "dog", "bird")
    assert second.session_state[user_model.MODEL_KEY].labels == ("left", "right")
    assert first.session_state[user_model.MODEL_KEY] is not second.session_state[user_model.MODEL_KEY]


def test_a_new_upload_replaces_and_frees_the_old_model():
    at = upload_model(page().run(), files.valid(), b"cat\ndog\nbird\n")
    old = at.session_state[user_model.MODEL_KEY]
    old.probabilities(np.zeros((28, 28, 1), np.float32))
    assert old._calls  # compiled calls held
    at = upload_model(at, files.valid(classes=2), b"yes\nno\n", name="second.keras")
    assert at.session_state[user_model.MODEL_KEY].labels == ("yes", "no")
    assert old._calls == {}  # released


@pytest.mark.parametrize("name, build, message", [
    ("photo.keras", files.renamed_jpeg, "JPEG image, not a Keras model"),
    ("model.keras", files.with_lambda, "layers that run Python code: Lambda (double)"),
    ("model.keras", files.zip_bomb, "zip bomb"),
    ("model.keras", files.two_inputs, "takes 2 inputs"),
])
def test_bad_model_files_show_a_plain_error_and_the_page_keeps_working(name, build, message):
    at = upload_model(page().run(), files.valid(), b"cat\ndog\nbird\n")
    at = upload_model(at, build(), name=name)
    assert not at.exception
    assert any(message in e.value for e in at.error), [e.value for e in at.error]
    assert user_model.MODEL_KEY not in at.session_state  # the bad upload replaced the old model
    at = upload_model(at, files.valid(), name="good.keras")
    assert not at.error and user_model.MODEL_KEY in at.session_state


def test_labels_that_do_not_match_say_so():
    at = upload_model(page().run(), files.valid(), b"cat\ndog\n")
    assert any("2 names but the model has 3 classes" in e.value for e in at.error)


def test_a_drawing_made_on_the_page_goes_to_a_doodle_model(monkeypatch):
    import drawn_shapes

    house = drawn_shapes.houses_strokes(1, seed=3, side=240)[0]  # pages/your_model.py: side 240
    rgba = drawn_shapes.picture(house, 240)
    monkeypatch.setattr(widgets, "_canvas_component", lambda **kwargs: house)
    model = files.small_cnn(size=32, classes=4)  # a doodle model at another input size
    at = upload_model(page().run(), keras_bytes(model), b"a\nb\nc\nd\n")
    at.radio(key="your_model_kind").set_value("doodle").run()
    assert not at.exception
    assert at.radio(key="your_model_doodle_source").value == widgets.CURRENT_DRAWING
    prepared = prepare_picture("doodle", rgba, (32, 32, 1))
    assert prepared.steps[-1].name == "32x32 input"
    probabilities = model.predict(prepared.model_input[None], verbose=0)[0]
    top = int(np.argmax(probabilities))
    assert top1(at) == widgets.prediction_text("abcd"[top], float(probabilities[top]))


def test_a_fashion_sample_is_given_as_it_is():
    at = upload_model(page().run(), files.valid(), b"cat\ndog\nbird\n")
    at.radio(key="your_model_fashion_source").set_value(widgets.SAMPLE).run()
    assert not at.exception and not at.error
    assert TOP1.match(top1(at))
    assert any("labelled" in c.value for c in at.caption)


def test_a_file_over_50_mb_is_refused_from_its_size():
    at = upload_model(page().run(), bytes(51 * 2**20), name="big.keras")
    assert not at.exception
    assert any("too big (51 MB); the limit is 50 MB" in e.value for e in at.error)
