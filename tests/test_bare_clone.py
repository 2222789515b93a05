"""A fresh clone on a machine with no dataset, no pretrained-weights cache and no network: every
page still shows its main result (a prediction, a gallery, a matrix) from what the project ships
(weights/ and samples/), and no "data missing" message except where a full dataset is needed.

The datasets are hidden by pointing VISION_LAB_DATA, KERAS_HOME and FASHION_MNIST_DIR at empty
folders (`.ci/run` runs this module in a process started that way; run alone, the module does it
itself). The models are the shipped ones, not stand-ins: this is what a newcomer meets.
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import numpy as np
import pytest
import streamlit as st
from PIL import Image
from streamlit.testing.v1 import AppTest

from vision import data, registry, samples

pytestmark = pytest.mark.bare
ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 180  # the first run of a page loads TensorFlow and a shipped model on a shared CPU
TOP1 = re.compile(r"^(?P<label>.+) - (?P<percent>\d{1,3}\.\d)%$")
# what pages say when they would need a dataset: none of it may show on a bare clone
DATA_MISSING = re.compile(r"not on this machine|not shipped|are missing|not installed|"
                          r"not available here|VISION_LAB_DATA", re.IGNORECASE)
CAT_CLASSES = {"tabby", "tiger cat", "Egyptian cat", "Persian cat", "Siamese cat"}


@pytest.fixture(scope="module", autouse=True)
def bare_machine(tmp_path_factory):
    """No dataset and no Keras cache anywhere this process looks; fresh Streamlit caches."""
    with pytest.MonkeyPatch.context() as patch:
        for variable in ("VISION_LAB_DATA", "KERAS_HOME", "FASHION_MNIST_DIR"):
            patch.setenv(variable, str(tmp_path_factory.mktemp(variable.lower())))
        st.cache_data.clear()
        st.cache_resource.clear()
        yield
    st.cache_data.clear()
    st.cache_resource.clear()


def test_the_machine_really_is_bare():
    assert data.fashion_mnist_dir() is None
    assert data.quickdraw_dir() is None and data.flowers_dir() is None
    assert data.pretrained_weights_path(registry.get_spec("imagenet_mobilenet").pretrained_file) is None
    for spec in registry.MODELS.values():  # every model loads from weights/ alone
        assert spec.weights_path.is_file() and spec.weights_available, spec.name


# ---------------------------------------------------------------- helpers
def page(name: str) -> AppTest:
    return AppTest.from_file(str(ROOT / "pages" / f"{name}.py"), default_timeout=TIMEOUT)


def texts(at: AppTest) -> list[str]:
    """Every message, caption and markdown the page shows."""
    return [e.value for group in (at.info, at.warning, at.error, at.caption, at.markdown)
            for e in group]


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    missing = [t for t in texts(at) if DATA_MISSING.search(t)]
    assert not missing, missing


def top1(at: AppTest) -> tuple[str, float]:
    found = [TOP1.match(h.value) for h in at.subheader]
    found = [m for m in found if m]
    assert len(found) == 1, [h.value for h in at.subheader]
    return found[0]["label"], float(found[0]["percent"])


def images_shown(at: AppTest) -> int:
    return sum(len(image.captions) or 1 for image in at.image)


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


# ---------------------------------------------------------------- Explore pages
def test_home_every_card_has_its_thumbnail_and_figures():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()  # the router: Home
    assert_clean(at)
    assert len(at.image) == len(registry.MODELS)  # one thumbnail per card, datasets or not
    parameters = [m.value for m in at.metric if m.label == "Parameters"]
    assert len(parameters) == len(registry.trained_models())
    assert all(len(value) <= 6 for value in parameters), parameters  # "109k", "2.26M": not cut off


def test_fashion_sample_is_predicted():
    at = page("fashion").run()
    at.radio(key="fashion_source").set_value("Pick a sample").run()
    assert_clean(at)
    label, _ = top1(at)
    assert label in registry.get_spec("fashion_cnn").labels


def test_doodle_page_lists_the_classes_and_invites_a_drawing():
    at = page("doodle").run()
    assert_clean(at)
    assert any("Draw something" == h.value for h in at.subheader)


def test_the_shipped_doodles_are_the_gallery_and_the_model_knows_them():
    shipped = samples.read_samples("quickdraw/doodles.npz")
    assert shipped and {label for _, _, label in shipped} == set(data.DOODLE_CLASSES)
    at = page("layers").run()
    at.selectbox(key="layers_model").set_value("doodle_cnn").run()
    assert at.radio(key="layers_quickdraw_source").value == "Pick a sample"
    assert_clean(at)
    assert at.multiselect(key="layers_pick_doodle_cnn").value  # feature maps are drawn

    right = 0
    at = page("compare").run()
    at.radio(key="compare_dataset").set_value("quickdraw").run()
    for index in range(0, len(shipped), 4):  # one doodle of each class
        at.selectbox(key="compare_quickdraw_sample").set_value(index).run()
        assert_clean(at)
        right += any(f"**{shipped[index][2]}**" in m.value and "Top answer" in m.value
                     for m in at.markdown)
    assert right >= 7  # of 9: the doodle CNN gets most test doodles right (95.9% on the test set)


def test_flowers_page_starts_from_an_upload_and_predicts_it():
    at = page("flowers").run()
    assert not at.exception
    assert any("Upload a photo of a daisy" in i.value for i in at.info)
    flower = (samples.SAMPLES_DIR / "photos" / "flower.jpg").read_bytes()
    at.file_uploader(key="flowers_upload").set_value(("flower.jpg", flower, "image/jpeg")).run()
    assert not at.exception and not at.error
    assert top1(at)[0] in data.FLOWER_CLASSES


def test_any_photo_works_offline_on_the_shipped_photos():
    at = page("any_photo").run()
    at.radio(key="photo_source").set_value("Pick a sample").run()
    assert_clean(at)
    credits = samples.photo_credits()
    assert [c.file for c in credits] == ["chelsea.jpg", "coffee.jpg", "rocket.jpg", "china.jpg",
                                         "flower.jpg"]
    assert all(c.author and c.licence and c.source for c in credits)
    assert top1(at)[0] in CAT_CLASSES  # the first sample is Chelsea the cat
    assert any("Score (logit)" in c.value for c in at.caption)


def test_any_photo_says_nothing_here_for_a_transparent_png():
    at = page("any_photo").run()
    clear = png_bytes(Image.new("RGBA", (300, 200), (0, 0, 0, 0)))
    at.file_uploader(key="photo_upload").set_value(("clear.png", clear, "image/png")).run()
    assert not at.exception
    assert any(h.value == "Nothing here" for h in at.subheader)
    assert any("clear.png" in i.value and "nothing here" in i.value for i in at.info)
    assert not [h for h in at.subheader if TOP1.match(h.value)]  # no made-up guess


def test_a_rejected_upload_is_dropped_and_named():
    at = page("any_photo").run()
    at.file_uploader(key="photo_upload").set_value(("notes.png", b"not a picture", "image/png")).run()
    assert not at.exception
    assert any("notes.png" in e.value and "not an image" in e.value for e in at.error)
    assert [u.key for u in at.file_uploader] == ["photo_upload__1"]  # a fresh one: no chip left
    fresh = at.file_uploader(key="photo_upload__1")
    assert fresh.value is None
    chelsea = (samples.SAMPLES_DIR / "photos" / "chelsea.jpg").read_bytes()
    fresh.set_value(("chelsea.jpg", chelsea, "image/jpeg")).run()
    assert not at.error, [e.value for e in at.error]  # the old file's error is gone
    assert top1(at)[0] in CAT_CLASSES


# ---------------------------------------------------------------- Study pages
# the models whose test images may ship as thumbnails (not the flower photos: licences unknown)
SHIPPED_THUMBNAILS = [name for name in registry.trained_models()
                      if registry.get_dataset(registry.get_spec(name).dataset)
                      .source.thumbnails_licensed]


def test_only_the_flower_models_ship_no_thumbnails():
    assert set(registry.trained_models()) - set(SHIPPED_THUMBNAILS) == {
        "flowers_mobilenet", "flowers_scratch"}


@pytest.mark.parametrize("name", SHIPPED_THUMBNAILS)
def test_model_report_shows_the_images_of_a_mistake_cell_and_a_correct_cell(name):
    at = page("model_report").run()
    at.selectbox(key="report_model").set_value(name).run()
    assert_clean(at)
    cells = at.selectbox(key=f"report_cell_{name}")
    mistake = cells.value  # the most frequent mistake comes first
    assert mistake[0] != mistake[1]
    assert images_shown(at) >= 1
    correct = next(i for i, c in enumerate(cells.options) if "(correct)" in c)
    cells.select_index(correct).run()
    assert not at.exception and not at.error
    assert images_shown(at) >= 1
    assert not [t for t in texts(at) if DATA_MISSING.search(t)]


@pytest.mark.parametrize("name", ["doodle_cnn", "fashion_cnn"])
def test_mistakes_map_galleries_show_pictures(name):
    at = page("mistakes").run()
    at.selectbox(key="mistakes_model").set_value(name).run()
    assert_clean(at)
    assert images_shown(at) >= 1


def test_flower_mistakes_say_the_photos_are_not_shipped():
    # the flower photos' licences are unknown, so their thumbnails are not shipped: the map and
    # its clusters still show, and the galleries say where the photos would come from
    at = page("mistakes").run()
    at.selectbox(key="mistakes_model").set_value("flowers_mobilenet").run()
    assert not at.exception
    assert any(m.label == "Silhouette score" for m in at.metric)
    assert any(DATA_MISSING.search(t) for t in texts(at))


def test_playground_and_the_walkthrough_start_from_shipped_samples():
    at = page("playground").run()
    at.selectbox(key="playground_model").set_value("doodle_cnn").run()
    assert_clean(at)
    assert any(m.value.startswith("**Prediction:**") for m in at.markdown)
    at = page("how_cnn_works").run()
    assert_clean(at)


# ---------------------------------------------------------------- a short browser tour
@pytest.fixture(scope="module")
def tour(bare_machine):
    """A real server started on the bare machine (the environment above), and a browser tab."""
    from playwright.sync_api import sync_playwright

    from browser_support import CHROMIUM, CHROMIUM_ARGS, free_port, start_server

    port = free_port()
    server = start_server(port)  # preloading on, as users get it
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            tab = browser.new_context(viewport={"width": 1280, "height": 1400}).new_page()
            yield tab, f"http://127.0.0.1:{port}"
            browser.close()
    finally:
        server.kill()
        server.wait(timeout=20)
        print("server log, last lines:\n" + server.log_path.read_text()[-3000:])
        server.log_path.unlink()


SLOW = 90_000  # ms


def visit(tab, url: str) -> None:
    from browser_support import wait_until_idle

    tab.goto(url, wait_until="domcontentloaded", timeout=SLOW)
    tab.locator("[data-testid='stApp']").wait_for(timeout=SLOW)
    wait_until_idle(tab, SLOW)


def snap(tab, name: str) -> None:
    from browser_support import SCREENSHOTS

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    tab.wait_for_timeout(800)
    tab.screenshot(path=SCREENSHOTS / f"bare_{name}.png", full_page=True)


def no_data_missing(tab) -> None:
    assert tab.locator("[data-testid='stException']").count() == 0
    body = tab.locator("[data-testid='stMain']").inner_text()
    assert not DATA_MISSING.search(body), DATA_MISSING.search(body)


@pytest.mark.browser
def test_browser_tour_of_a_bare_clone(tour):
    tab, url = tour
    visit(tab, url)  # Home: a card per model, each with its picture, while the models load
    tab.get_by_text("See what a convolutional network sees").wait_for(timeout=SLOW)
    tab.get_by_text("Getting the models ready").first.wait_for(timeout=SLOW)  # progress shown
    tab.wait_for_function(
        f"() => [...document.querySelectorAll('[data-testid=stMain] a')]"
        f".filter(a => a.innerText.includes('Try it')).length === {len(registry.MODELS)}",
        timeout=SLOW)
    tab.wait_for_function(  # a thumbnail on every card
        f"() => document.querySelectorAll('[data-testid=stMain] img').length >= {len(registry.MODELS)}",
        timeout=SLOW)
    no_data_missing(tab)
    snap(tab, "home")

    visit(tab, f"{url}/any_photo")  # ImageNet offline, on a shipped photo
    tab.get_by_text("Pick a sample", exact=True).first.click()
    heading = tab.locator(".st-key-top1 h3").first
    heading.wait_for(timeout=SLOW)
    assert TOP1.match(heading.inner_text().strip())["label"] in CAT_CLASSES
    no_data_missing(tab)
    snap(tab, "any_photo")

    visit(tab, f"{url}/model_report")  # the doodle model's mistakes, from the eval file's thumbnails
    tab.locator(".st-key-report_model").click()
    tab.get_by_role("option", name=registry.get_spec("doodle_cnn").title).click()
    tab.get_by_text("Actual ").first.wait_for(timeout=SLOW)
    tab.wait_for_function("() => document.querySelectorAll('[data-testid=stMain] img').length >= 2",
                          timeout=SLOW)
    no_data_missing(tab)
    snap(tab, "model_report")

    visit(tab, f"{url}/mistakes")  # the doodle mistakes, clustered, with their pictures
    tab.locator(".st-key-mistakes_model").click()
    tab.get_by_role("option", name=registry.get_spec("doodle_cnn").title).click()
    tab.get_by_text("Cluster 1:").first.wait_for(timeout=SLOW)  # the first gallery, open
    tab.get_by_text("Silhouette").first.wait_for(timeout=SLOW)
    tab.wait_for_function("() => document.querySelectorAll('[data-testid=stMain] img').length >= 2",
                          timeout=SLOW)
    no_data_missing(tab)
    snap(tab, "mistakes")


# ---------------------------------------------------------------- Classroom pages
def test_play_starts_a_game_and_the_class_board_opens(tmp_path, monkeypatch):
    monkeypatch.setenv("VISION_LAB_DATABASE_URL", f"sqlite:///{tmp_path / 'board.sqlite3'}")
    at = page("play").run()
    assert_clean(at)
    at.button(key="play_start").click().run()
    assert_clean(at)
    game = at.session_state["play_game"]
    assert game.playing and game.prompt in data.DOODLE_CLASSES
    at = page("class_board").run()
    assert_clean(at)
    assert any("No drawings yet" in i.value for i in at.info)  # an empty board, not an error


def test_your_model_page_takes_a_shipped_model_file_and_a_photo():
    at = page("your_model").run()
    assert_clean(at)
    shipped = registry.get_spec("fashion_cnn").weights_path.read_bytes()
    at.file_uploader(key="your_model_file").set_value(
        ("fashion_cnn.keras", shipped, "application/octet-stream")).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    chelsea = (samples.SAMPLES_DIR / "photos" / "chelsea.jpg").read_bytes()
    at.file_uploader(key="your_model_fashion_upload").set_value(("chelsea.jpg", chelsea, "image/jpeg"))
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert [h for h in at.subheader if TOP1.match(h.value)]  # its guess, offline
