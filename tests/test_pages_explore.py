"""App tests of the Explore pages (Fashion, Doodle, Flowers, Any photo, Layers) with AppTest.

Each page file is run on its own, as `streamlit run` would run it from the router. The trained
models are stand-ins: the registered architectures with untrained weights, saved to a temporary
weights folder (`registry.WEIGHTS_DIR` is pointed there), so the tests need no training and
check the pages, not the models' accuracy. The expected top-1 text is computed independently from
the same files, so a page that shows another model's guess, or a mangled one, fails.

What AppTest can and cannot drive:
- `st.file_uploader`: it can (`at.file_uploader(key=...).set_value((name, bytes, mime))`), so the
  upload and bad-upload paths run for real.
- The drawing canvas (our components v2 component, ui/canvas.py) mounts, but AppTest has no
  browser to draw on it: it always returns "nothing drawn yet". The doodle tests replace `ui.widgets._canvas_component` (the one
  line that calls the browser component) by a fake returning what the browser would send: the
  drawing's strokes (tests/drawn_shapes.py). Everything after it (drawing the strokes, session
  state, restore, preprocessing, prediction, heat maps) is the real code.
- The flower gallery reads the flowers dataset: `ui.loaders.samples` gives a few synthetic photos
  for the photo datasets instead, so the tests do not depend on the dataset being on this machine.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import keras
import numpy as np
import pytest
import streamlit as st
from PIL import Image, ImageDraw
from streamlit.testing.v1 import AppTest

import drawn_shapes
from bars import bar_blocks, bar_labels
import fixture_models as fm
from ui import loaders, widgets
from vision import registry
from vision.architectures import flowers_mobilenet
from vision.data import DOODLE_CLASSES, FASHION_CLASSES, FLOWER_CLASSES
from vision.models import Predictor
from vision.preprocess import preprocess

ROOT = Path(__file__).resolve().parent.parent
SHIPPED_WEIGHTS = registry.WEIGHTS_DIR
TOP1 = re.compile(r"^(?P<label>[A-Za-z/ '-]+) - (?P<percent>\d+\.\d)%$")
TIMEOUT = 120  # seconds per script run: the first run of a page loads TensorFlow and a model
STAND_INS = ("fashion_mlp", "fashion_cnn", "fashion_deep", "doodle_cnn", "flowers_scratch")


# ---------------------------------------------------------------- fixtures and helpers
@pytest.fixture(scope="module")
def stand_in_weights(tmp_path_factory) -> Path:
    """A weights folder holding every trained model (untrained stand-ins) and 10 gallery samples."""
    folder = tmp_path_factory.mktemp("weights")
    for name in STAND_INS:
        registry.get_spec(name).build().save(folder / f"{name}.keras")
    flowers_mobilenet(pretrained=False).save(folder / "flowers_mobilenet.keras")
    images = fm.random_images(10, (28, 28, 1))[..., 0].astype(np.uint8)
    np.savez(folder / "fashion_samples.npz", images=images, labels=np.arange(10))
    return folder


@pytest.fixture(scope="module", autouse=True)
def fresh_caches():
    """Models cached by other test modules may come from another weights folder: start and end
    with empty caches."""
    st.cache_resource.clear()
    st.cache_data.clear()
    yield
    st.cache_resource.clear()
    st.cache_data.clear()


@pytest.fixture(autouse=True)
def weights_dir(stand_in_weights, monkeypatch) -> Path:
    monkeypatch.setattr(registry, "WEIGHTS_DIR", stand_in_weights)
    return stand_in_weights


@pytest.fixture
def no_weights(tmp_path, monkeypatch) -> Path:
    """An empty weights folder, and no model of it left in the cache."""
    trained_here = [spec.name for spec in registry.MODELS.values() if spec.trained_here]
    monkeypatch.setattr(registry, "WEIGHTS_DIR", tmp_path)
    for name in trained_here:
        loaders.predictor.clear(name)
    yield tmp_path
    for name in trained_here:  # the stand-ins load again in the next test
        loaders.predictor.clear(name)


@pytest.fixture
def flower_gallery(monkeypatch):
    """Six synthetic 224x224 "flower photos" in place of the dataset's test photos."""
    pictures = (fm.random_images(6, (224, 224, 3), seed=3)).astype(np.uint8)
    samples = [(picture, f"photo_{i}.jpg", FLOWER_CLASSES[i % 5])
               for i, picture in enumerate(pictures)]
    real = loaders.samples
    monkeypatch.setattr(loaders, "samples",
                        lambda dataset: samples if dataset in ("flowers", "imagenet") else real(dataset))
    return samples


def page(name: str) -> AppTest:
    return AppTest.from_file(str(ROOT / "pages" / f"{name}.py"), default_timeout=TIMEOUT)


def assert_no_exception(at: AppTest) -> None:
    assert not at.exception, [e.message for e in at.exception]


def top1_match(at: AppTest) -> re.Match:
    """The one subheader in the "Class - 97.3%" form."""
    matches = [TOP1.match(header.value) for header in at.subheader]
    matches = [m for m in matches if m]
    assert len(matches) == 1, [header.value for header in at.subheader]
    return matches[0]


def expected_top1(name: str, model_input: np.ndarray) -> str:
    """The top-1 text computed without the app: the model file read by Keras directly."""
    spec = registry.get_spec(name)
    model = keras.saving.load_model(spec.weights_path, compile=False)
    probabilities = Predictor(model, spec).probabilities(model_input)
    top = int(np.argmax(probabilities))
    return widgets.prediction_text(spec.labels[top], float(probabilities[top]))


def image_urls(at: AppTest) -> list[str]:
    """The pictures shown, in order (a URL names its content)."""
    return [url for image in at.image for url in image.value]


def image_captions(at: AppTest) -> list[str]:
    return [caption for image in at.image for caption in image.captions]


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def clothing_photo() -> bytes:
    """A dark T-shirt shape on a white background, as a phone photo of one item would be."""
    image = Image.new("RGB", (300, 360), "white")
    ImageDraw.Draw(image).polygon(
        [(60, 60), (120, 40), (180, 40), (240, 60), (280, 130), (235, 150), (225, 120),
         (225, 320), (75, 320), (75, 120), (65, 150), (20, 130)], fill=(40, 50, 90))
    return png(image)


def drawn(strokes: bool = True) -> dict:
    """The canvas's value as the browser sends it: a circle (a moon, an apple or an eye to a
    trained model), or no strokes (the canvas cleared)."""
    return drawn_shapes.drawing(drawn_shapes.circle()) if strokes else drawn_shapes.drawing()


def canvas(strokes: bool = True, side: int = 320) -> np.ndarray:
    """The picture the server draws from `drawn(strokes)`: RGBA, white with black strokes."""
    return drawn_shapes.picture(drawn(strokes), side)


class FakeCanvas:
    """Stands in for the browser canvas whose key starts with `key` (the Doodle page's, by
    default): returns `value`, the strokes it would have sent (None: nothing sent yet), and
    records what the page asked of it. Other canvases on the page (Add a class) send nothing."""

    def __init__(self, value: dict | None, key: str = "doodle_pad"):
        self.value, self.key, self.calls = value, key, []

    def __call__(self, **kwargs):
        if not kwargs["key"].startswith(self.key):
            return None
        self.calls.append(kwargs)
        return self.value


# ---------------------------------------------------------------- the router
def test_router_opens_every_explore_page():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()
    assert_no_exception(at)
    for name, title in [("fashion", "Fashion"), ("doodle", "Doodle"), ("flowers", "Flowers"),
                        ("any_photo", "Any photo"), ("layers", "Layers")]:
        at.switch_page(f"pages/{name}.py").run()
        assert_no_exception(at)
        assert not at.error, [e.value for e in at.error]
        assert [t.value for t in at.title] == [title]


# ---------------------------------------------------------------- Fashion
def test_fashion_sample_shows_the_chosen_models_prediction(weights_dir):
    at = page("fashion").run()
    assert_no_exception(at)
    # the model right most often on real photos by default (tests/test_photo_weights.py)
    assert at.radio(key="fashion_model").value == "fashion_deep"
    at.radio(key="fashion_source").set_value("Pick a sample").run()
    at.selectbox(key="fashion_sample").set_value(3).run()
    assert_no_exception(at)
    sample = np.load(weights_dir / "fashion_samples.npz")["images"][3].astype(np.float32)[..., None]
    match = top1_match(at)
    assert match.group("label") in FASHION_CLASSES
    assert match.group(0) == expected_top1("fashion_deep", sample)
    assert bar_labels(at)[0] == match.group("label"), "the probability bars are missing"
    assert any(c.startswith("Grad-CAM for ") for c in image_captions(at))  # the heat map
    assert any(f"True class: **{FASHION_CLASSES[3]}**" in c.value for c in at.caption)

    at.radio(key="fashion_model").set_value("fashion_cnn").run()
    assert_no_exception(at)
    assert top1_match(at).group(0) == expected_top1("fashion_cnn", sample)
    assert any(c.startswith("CAM for ") for c in image_captions(at))  # the CAM model


def test_fashion_top_k_slider_shows_all_ten_classes():
    at = page("fashion").run()
    at.radio(key="fashion_source").set_value("Pick a sample").run()
    assert at.slider(key="fashion_k").max == 10
    at.slider(key="fashion_k").set_value(10).run()
    assert_no_exception(at)
    assert sorted(bar_labels(at)) == sorted(FASHION_CLASSES)
    assert bar_labels(at)[0] == top1_match(at).group("label")


def test_fashion_class_picker_defaults_to_the_prediction_and_explains_another_class():
    at = page("fashion").run()
    at.radio(key="fashion_model").set_value("fashion_cnn").run()  # the CAM model
    at.radio(key="fashion_source").set_value("Pick a sample").run()
    predicted = top1_match(at).group("label")
    picker = at.selectbox(key="fashion_class")
    assert FASHION_CLASSES[picker.value] == predicted
    shirt = FASHION_CLASSES.index("Shirt") if predicted != "Shirt" else 0
    picker.set_value(shirt).run()
    assert_no_exception(at)
    assert any(c.startswith(f"CAM for {FASHION_CLASSES[shirt]} ") for c in image_captions(at))
    assert top1_match(at).group("label") == predicted  # the prediction itself does not change
    before = image_urls(at)[0]
    at.slider(key="fashion_opacity").set_value(1.0).run()
    assert_no_exception(at)
    assert image_urls(at)[0] != before  # the heat map is drawn at the new opacity


def test_fashion_heat_map_of_another_class_states_its_score_beside_the_top_guess():
    at = page("fashion").run()
    at.radio(key="fashion_source").set_value("Pick a sample").run()
    predicted = top1_match(at).group("label")
    notes = [c.value for c in at.caption if c.value.startswith("Score (logit)")]
    assert len(notes) == 1 and "against" not in notes[0]  # the top guess explains itself
    # every other class: its map is scaled to its own peak, so the page states its score beside
    # the top guess's (and says "weak evidence" under 1%), or says the map is blank
    picker = at.selectbox(key="fashion_class")
    scored = 0
    for option in list(picker.options)[1:]:
        label, percent = option.rsplit(" (", 1)
        at.selectbox(key="fashion_class").set_value(FASHION_CLASSES.index(label)).run()
        assert_no_exception(at)
        notes = [c.value for c in at.caption if "Score (logit)" in c.value]
        blank = [c.value for c in at.caption if c.value.startswith("The map is blank")]
        assert len(notes) + len(blank) == 1, (option, notes, blank)
        if notes:
            scored += 1
            assert f"for the top guess, {predicted}" in notes[0]
            shown = float(percent.rstrip("%)"))  # rounded to 0.1%: 1.0% may be either side
            if shown != 1.0:
                assert notes[0].startswith("**Weak evidence:**") == (shown < 1.0), (option, notes)
    assert scored >= 1  # at least one other class has a map to read


def test_fashion_why_not_shirt_shows_the_contrast_map():
    at = page("fashion").run()
    at.radio(key="fashion_model").set_value("fashion_cnn").run()  # the CAM model
    at.radio(key="fashion_source").set_value("Pick a sample").run()
    shirt = FASHION_CLASSES.index("Shirt")
    picker = at.selectbox(key="fashion_class")
    other = picker.value if picker.value != shirt else 0
    picker.set_value(other).run()
    assert not at.toggle(key="fashion_contrast").value  # off: the plain map, as before
    at.toggle(key="fashion_contrast").set_value(True).run()
    assert_no_exception(at)
    assert any(c.startswith(f"CAM for {FASHION_CLASSES[other]} against Shirt ") for c in image_captions(at))
    picker.set_value(shirt).run()
    assert_no_exception(at)
    assert not any(t.key == "fashion_contrast" for t in at.toggle)  # "Shirt and not Shirt?" makes no sense


def test_fashion_mlp_says_it_has_no_heat_map():
    at = page("fashion").run()
    at.radio(key="fashion_model").set_value("fashion_mlp").run()
    at.radio(key="fashion_source").set_value("Surprise me").run()
    assert_no_exception(at)
    assert top1_match(at).group("label") in FASHION_CLASSES
    assert any("no convolutional layers" in info.value for info in at.info)
    assert not any("CAM for" in c for c in image_captions(at))


def test_fashion_upload_shows_the_steps_down_to_28x28():
    at = page("fashion").run()
    at.file_uploader(key="fashion_upload").set_value(("shirt.png", clothing_photo(), "image/png"))
    at.run()
    assert_no_exception(at)
    assert not at.error, [e.value for e in at.error]
    assert top1_match(at).group("label") in FASHION_CLASSES
    captions = image_captions(at)
    for step in ("original", "mask", "grey, light on black", "cropped", "28x28 input"):
        assert step in captions, captions
    assert "The same heat map over the cropped photo" in captions


def shoes_photo() -> bytes:
    """Two shoe shapes side by side, seen from above, the left one larger."""
    image = Image.new("RGB", (480, 300), (235, 225, 205))
    draw = ImageDraw.Draw(image)
    draw.ellipse((30, 40, 170, 270), fill=(30, 30, 40))
    draw.ellipse((280, 70, 400, 250), fill=(30, 30, 40))
    return png(image)


def test_fashion_pair_of_shoes_says_it_kept_the_larger_one():
    at = page("fashion").run()
    at.file_uploader(key="fashion_upload").set_value(("shoes.png", shoes_photo(), "image/png"))
    at.run()
    assert_no_exception(at)
    assert any("pair of shoes" in info.value and "larger one" in info.value for info in at.info)
    assert "mask" in image_captions(at)


def test_fashion_says_when_the_model_is_out_of_its_depth(weights_dir):
    """Untrained stand-ins spread their probability: the page must not present their guess as an
    answer. The top probability is computed without the app."""
    at = page("fashion").run()
    at.file_uploader(key="fashion_upload").set_value(("shirt.png", clothing_photo(), "image/png"))
    at.run()
    assert_no_exception(at)
    name = at.radio(key="fashion_model").value
    spec = registry.get_spec(name)
    model_input = preprocess(spec.preprocessing, np.asarray(Image.open(io.BytesIO(clothing_photo()))))
    top = float(Predictor(keras.saving.load_model(spec.weights_path, compile=False), spec)
                .probabilities(model_input.model_input).max())
    warnings = [w.value for w in at.warning if "out of its depth" in w.value]
    assert (top < 0.5) == bool(warnings), (top, warnings)
    assert top < 0.5  # an untrained model is unsure: the case this test is for


@pytest.mark.parametrize("name, data, message", [
    ("notes.png", b"these are my notes, not a picture", "not an image we can read"),
    ("broken.png", clothing_photo()[:200], "damaged or incomplete"),
])
def test_fashion_bad_upload_says_why_and_the_page_keeps_working(name, data, message):
    at = page("fashion").run()
    at.file_uploader(key="fashion_upload").set_value((name, data, "image/png")).run()
    assert_no_exception(at)
    assert any(message in error.value for error in at.error), [e.value for e in at.error]
    assert not [h for h in at.subheader if TOP1.match(h.value)]
    at.radio(key="fashion_source").set_value("Pick a sample").run()  # and it still works
    assert_no_exception(at)
    assert top1_match(at).group("label") in FASHION_CLASSES


def test_fashion_blank_upload_says_nothing_here_and_guesses_nothing():
    at = page("fashion").run()
    blank = png(Image.new("RGB", (200, 200), "white"))
    at.file_uploader(key="fashion_upload").set_value(("blank.png", blank, "image/png")).run()
    assert_no_exception(at)
    assert any("blank.png" in i.value and "nothing" in i.value for i in at.info)
    assert not [h for h in at.subheader if TOP1.match(h.value)]


def test_fashion_rejected_upload_leaves_no_chip_and_no_stale_error():
    at = page("fashion").run()
    at.file_uploader(key="fashion_upload").set_value(("notes.png", b"no picture", "image/png")).run()
    assert [u.key for u in at.file_uploader] == ["fashion_upload__1"]  # a fresh, empty uploader
    assert any(e.value.startswith("**notes.png** was not used") for e in at.error)
    at.file_uploader(key="fashion_upload__1").set_value(("shirt.png", clothing_photo(), "image/png"))
    at.run()
    assert_no_exception(at)
    assert not at.error, [e.value for e in at.error]  # notes.png's error is not shown for shirt.png
    assert top1_match(at).group("label") in FASHION_CLASSES


def test_fashion_missing_weights_warns_and_keeps_working(no_weights):
    at = page("fashion").run()
    assert_no_exception(at)
    assert any("missing" in w.value and "python -m vision.train fashion_mlp" in w.value
               for w in at.warning), [w.value for w in at.warning]
    at.radio(key="fashion_model").set_value("fashion_cnn").run()
    assert_no_exception(at)
    assert any("fashion_cnn" in w.value for w in at.warning)


@pytest.mark.weights
def test_fashion_with_the_shipped_weights_gets_most_samples_right(monkeypatch):
    """What users see: the page's default model, trained, on the shipped Fashion-MNIST test images."""
    monkeypatch.setattr(registry, "WEIGHTS_DIR", SHIPPED_WEIGHTS)
    loaders.predictor.clear("fashion_deep")
    try:
        at = page("fashion").run()
        at.radio(key="fashion_source").set_value("Pick a sample").run()
        right = 0
        count = min(10, len(at.selectbox(key="fashion_sample").options))
        for index in range(count):
            at.selectbox(key="fashion_sample").set_value(index).run()
            assert_no_exception(at)
            right += any("(the model is right)" in c.value for c in at.caption)
        assert right >= 0.7 * count
    finally:
        loaders.predictor.clear("fashion_deep")


# ---------------------------------------------------------------- Doodle
def test_doodle_first_visit_lists_the_classes_and_says_draw_something():
    at = page("doodle").run()  # the real canvas component: nothing drawn yet
    assert_no_exception(at)
    assert [h.value for h in at.subheader] == ["Draw something"]
    assert any(all(label in m.value for label in DOODLE_CLASSES) for m in at.markdown)


def test_doodle_predicts_a_drawing_and_shares_it(monkeypatch):
    fake = FakeCanvas(drawn())
    monkeypatch.setattr(widgets, "_canvas_component", fake)
    at = page("doodle").run()
    assert_no_exception(at)
    match = top1_match(at)
    assert match.group("label") in DOODLE_CLASSES
    expected_input = preprocess("doodle", canvas()).model_input
    assert match.group(0) == expected_top1("doodle_cnn", expected_input)
    assert np.array_equal(at.session_state["doodle_canvas"], canvas())  # for Layers and Compare
    assert at.session_state["doodle_canvas_json"] == drawn()  # to draw it again on coming back
    call = fake.calls[-1]
    assert call["key"] == "doodle_pad" and call["side"] == widgets.CANVAS_SIDE
    captions = image_captions(at)
    assert "The same map over your drawing" in captions
    assert "28x28 input" not in captions  # the steps are drawn once their section is opened
    at.session_state["doodle_steps_draw"] = True  # what clicking "step by step" sets
    at.run()
    assert "28x28 input" in image_captions(at)


@pytest.mark.parametrize("value", [drawn(strokes=False), None], ids=["cleared", "untouched"])
def test_doodle_empty_canvas_says_draw_something(monkeypatch, value):
    monkeypatch.setattr(widgets, "_canvas_component", FakeCanvas(value))
    at = page("doodle").run()
    assert_no_exception(at)
    assert [h.value for h in at.subheader] == ["Draw something"]
    assert not bar_blocks(at)
    if value is not None:
        assert any("draw something first" in info.value for info in at.info)


def test_doodle_shows_the_last_drawing_again_when_the_user_comes_back(monkeypatch):
    at = page("doodle")
    at.session_state["doodle_canvas"] = canvas()
    at.session_state["doodle_canvas_json"] = drawn()
    fake = FakeCanvas(None)  # a freshly mounted canvas sends nothing until the next stroke
    monkeypatch.setattr(widgets, "_canvas_component", fake)
    at.run()
    assert_no_exception(at)
    assert fake.calls[-1]["initial"] == drawn()  # the canvas starts from the last strokes
    assert top1_match(at).group("label") in DOODLE_CLASSES


def test_doodle_missing_weights_warns(no_weights):
    at = page("doodle").run()
    assert_no_exception(at)
    assert any("doodle_cnn" in w.value for w in at.warning), [w.value for w in at.warning]


# ---------------------------------------------------------------- Flowers
def test_flowers_sample_layer_and_model_pickers(flower_gallery):
    at = page("flowers").run()
    at.radio(key="flowers_source").set_value("Pick a sample").run()
    assert_no_exception(at)
    match = top1_match(at)
    assert match.group("label") in FLOWER_CLASSES
    assert match.group(0) == expected_top1("flowers_mobilenet",
                                           flower_gallery[0][0].astype(np.float32))
    layer = at.selectbox(key="flowers_layer_flowers_mobilenet")
    assert layer.value == "out_relu"
    # grouped for students, the raw name as detail: early / middle / late, input to output
    assert layer.options[0] == f"Early · layer 1 of {len(layer.options)} (Conv1_relu)"
    assert any(o.startswith("Early · ") and o.endswith("(block_1_expand_relu)") for o in layer.options)
    assert layer.options[-1].startswith("Late · ") and layer.options[-1].endswith("(out_relu)")
    assert any(o.startswith("Middle · ") for o in layer.options)
    assert any(c.startswith("CAM for ") and c.endswith("on layer out_relu")
               for c in image_captions(at))
    layer.set_value("block_13_expand_relu").run()
    assert_no_exception(at)
    assert any(c.startswith("Grad-CAM for ") and c.endswith("on layer block_13_expand_relu")
               for c in image_captions(at))

    at.radio(key="flowers_model").set_value("flowers_scratch").run()
    assert_no_exception(at)
    assert at.selectbox(key="flowers_layer_flowers_scratch").value == "block4_conv_relu"
    assert top1_match(at).group(0) == expected_top1("flowers_scratch",
                                                    flower_gallery[0][0].astype(np.float32))


def test_flowers_without_the_dataset_invites_an_upload(monkeypatch):
    real = loaders.samples
    monkeypatch.setattr(loaders, "samples",
                        lambda dataset: None if dataset in ("flowers", "imagenet") else real(dataset))
    at = page("flowers").run()
    assert_no_exception(at)
    assert at.radio(key="flowers_source").options == ["Upload a photo"]
    assert any("Sample photos appear here" in c.value for c in at.caption)


def test_flowers_missing_weights_warns(no_weights, flower_gallery):
    at = page("flowers").run()
    assert_no_exception(at)
    assert any("flowers_mobilenet" in w.value for w in at.warning), [w.value for w in at.warning]


# ---------------------------------------------------------------- Any photo
@pytest.mark.data  # the pretrained ImageNet MobileNet
def test_any_photo_top5_and_the_lion_or_dhole_comparison(flower_gallery):
    at = page("any_photo").run()
    at.radio(key="photo_source").set_value("Pick a sample").run()
    assert_no_exception(at)
    labels = registry.get_spec("imagenet_mobilenet").labels
    probabilities = loaders.predictor("imagenet_mobilenet").probabilities(
        flower_gallery[0][0].astype(np.float32))
    best = [int(i) for i in np.argsort(-probabilities, kind="stable")[:5]]
    assert top1_match(at).group(0) == widgets.prediction_text(labels[best[0]],
                                                              float(probabilities[best[0]]))
    assert bar_labels(at) == [labels[i] for i in best]
    assert at.selectbox(key="photo_class").value == best[0]
    left, right = at.selectbox(key="photo_compare_0"), at.selectbox(key="photo_compare_1")
    assert (left.value, right.value) == (best[0], best[1])  # top-1 vs top-2
    assert len(right.options) == 5
    right.set_value(best[4]).run()
    assert_no_exception(at)
    captions = image_captions(at)
    assert captions[0].startswith("Grad-CAM: where it sees ")
    assert captions[2].startswith(f"{labels[best[4]]} (")


@pytest.mark.data  # the pretrained ImageNet MobileNet
def test_any_photo_bad_upload_says_why():
    at = page("any_photo").run()
    svg = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"></svg>'
    at.file_uploader(key="photo_upload").set_value(("drawing.png", svg, "image/png")).run()
    assert_no_exception(at)
    assert any("SVG drawings are not supported" in e.value for e in at.error)


# ---------------------------------------------------------------- Layers
def test_layers_shows_every_conv_and_pooling_layer_with_its_shape():
    at = page("layers").run()
    at.radio(key="layers_fashion_mnist_source").set_value("Pick a sample").run()
    assert_no_exception(at)
    extractor = loaders.activation_extractor("fashion_cnn")
    shown = at.multiselect(key="layers_pick_fashion_cnn").value
    assert shown == extractor.layer_names  # a small model: every layer
    titles = [m.value for m in at.markdown if m.value.startswith("**")]
    assert len(titles) == len(shown)
    first = extractor(np.zeros((28, 28, 1), np.float32))[0]
    assert f"**{first.name}**" in titles[0] and "×".join(map(str, first.shape)) in titles[0]
    grids = {"per_map": image_urls(at)}
    for scale in ("per_layer", "shared"):
        at.radio(key="layers_scale_fashion_cnn").set_value(scale).run()
        assert_no_exception(at)
        grids[scale] = image_urls(at)
    # the input picture stays, the feature-map grids change with the colour scale
    assert len({urls[0] for urls in grids.values()}) == 1
    assert len({tuple(urls[2:]) for urls in grids.values()}) == 3
    enlarge = at.number_input(key=f"layers_map_fashion_cnn_{first.name}")
    enlarge.set_value(first.channels - 1).run()
    assert_no_exception(at)
    assert f"Map {first.channels - 1}: values" in image_captions(at)[3]  # input, bar, grid, map


@pytest.fixture
def doodle_gallery(monkeypatch):
    """Two synthetic test doodles in place of the dataset's."""
    doodles = fm.random_images(2, (28, 28, 1), seed=5)[..., 0].astype(np.uint8)
    samples = [(d, f"test doodle {i}", DOODLE_CLASSES[i]) for i, d in enumerate(doodles)]
    real = loaders.samples
    monkeypatch.setattr(loaders, "samples",
                        lambda dataset: samples if dataset == "quickdraw" else real(dataset))
    return samples


def test_layers_uses_the_current_drawing_for_the_doodle_model(doodle_gallery):
    at = page("layers").run()
    at.selectbox(key="layers_model").set_value("doodle_cnn").run()
    assert_no_exception(at)
    # no drawing yet: a test doodle, and an invitation to draw one
    assert at.radio(key="layers_quickdraw_source").value == "Pick a sample"
    assert any("Draw something on the Doodle page" in c.value for c in at.caption)
    assert at.multiselect(key="layers_pick_doodle_cnn").value  # layers are shown

    at = page("layers")  # back from the Doodle page with a drawing: the page starts from it
    at.session_state["doodle_canvas"] = canvas()
    at.run()
    at.selectbox(key="layers_model").set_value("doodle_cnn").run()
    assert_no_exception(at)
    assert at.radio(key="layers_quickdraw_source").value == "Current drawing"
    assert at.multiselect(key="layers_pick_doodle_cnn").value
    at.session_state["doodle_canvas"] = canvas(strokes=False)  # the drawing was cleared
    at.run()
    assert_no_exception(at)
    assert any("draw something first" in i.value for i in at.info)


def test_layers_picks_a_few_layers_of_a_big_model(flower_gallery):
    at = page("layers").run()
    at.selectbox(key="layers_model").set_value("flowers_mobilenet").run()
    at.radio(key="layers_flowers_source").set_value("Pick a sample").run()
    assert_no_exception(at)
    picker = at.multiselect(key="layers_pick_flowers_mobilenet")
    assert len(picker.value) > 1 and len(picker.value) <= 6 < len(picker.options)
    assert picker.value[-1] == "out_relu"


def test_layers_missing_weights_warns(no_weights):
    at = page("layers").run()
    assert_no_exception(at)
    assert at.selectbox(key="layers_model").value == "imagenet_mobilenet"  # the only model left
    at.selectbox(key="layers_model").set_value("fashion_deep").run()
    assert_no_exception(at)
    assert any("fashion_deep" in w.value for w in at.warning), [w.value for w in at.warning]
