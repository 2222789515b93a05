"""End to end, as a user meets the app: a real `streamlit run` server on localhost, driven by
Playwright in Debian's headless Chromium. Each test saves a screenshot to docs/screenshots/."""

from __future__ import annotations

import io
import math
import re

import numpy as np
import pytest
from PIL import Image

from browser_support import SCREENSHOTS, draw_stroke, running_app, wait_until_idle
from vision import data
from vision.registry import MODELS

pytestmark = pytest.mark.browser
TOP1 = re.compile(r"^(?P<label>.+) - (?P<percent>\d{1,3}\.\d)%$")
SLOW = 60_000  # ms: the first use of a model loads it on a 2-core machine


@pytest.fixture(scope="module")
def app_url(browser):
    with running_app(browser, slow_ms=SLOW) as url:
        yield url


@pytest.fixture
def page(browser):
    # tall, so that a full-page screenshot shows the whole page (Streamlit scrolls inside it)
    context = browser.new_context(viewport={"width": 1280, "height": 1700})
    page = context.new_page()
    yield page
    context.close()


def open_page(page, app_url: str, path: str = "") -> None:
    page.goto(f"{app_url}/{path}", wait_until="domcontentloaded", timeout=SLOW)
    page.locator("[data-testid='stApp']").wait_for(timeout=SLOW)
    wait_until_idle(page)


def top1_text(page) -> str:
    heading = page.locator(".st-key-top1 h3").first
    heading.wait_for(timeout=SLOW)
    return heading.inner_text().strip()


def top1(page) -> tuple[str, float]:
    match = TOP1.match(top1_text(page))
    assert match, f"top-1 text not in the 'Class - 97.3%' form: {top1_text(page)!r}"
    return match["label"], float(match["percent"])


def screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    wait_until_idle(page)
    # Streamlit scrolls inside its main block: grow the window to the content to capture it all
    height = page.evaluate("() => document.querySelector('[data-testid=stMain]').scrollHeight")
    page.set_viewport_size({"width": 1280, "height": min(max(int(height), 900), 4000)})
    page.wait_for_function("() => !document.querySelector('[data-testid=stSkeleton]')", timeout=SLOW)
    charts = page.locator(".js-plotly-plot")
    for index in range(charts.count()):
        charts.nth(index).locator(".main-svg").first.wait_for(state="attached", timeout=SLOW)
    page.wait_for_timeout(1000)
    page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)


def upload(page, file_name: str, payload: bytes, mime: str = "image/jpeg") -> None:
    page.locator("[data-testid='stFileUploader'] input[type='file']").first.set_input_files(
        {"name": file_name, "mimeType": mime, "buffer": payload})
    wait_until_idle(page)


def choose_upload(page) -> None:
    page.get_by_text("Upload a photo", exact=True).first.click()
    wait_until_idle(page)


def jpeg(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def clothing_photo(class_index: int) -> bytes:
    """A Fashion-MNIST test item as a phone photo would show it: big, dark on a white background."""
    _, _, x_test, y_test = data.load_fashion_mnist_arrays()
    item = x_test[np.flatnonzero(y_test == class_index)[0]]
    big = np.asarray(Image.fromarray(255 - item).resize((336, 336), Image.BICUBIC))
    return jpeg(np.pad(big, 80, constant_values=255))


def test_home_lists_every_model_with_its_figures(page, app_url):
    open_page(page, app_url)
    page.get_by_text("See what a convolutional network sees").wait_for(timeout=SLOW)
    page.get_by_text("Test accuracy").first.wait_for(timeout=SLOW)
    trained = [spec for spec in MODELS.values() if spec.metrics_path.is_file()]
    page.wait_for_function(
        f"() => [...document.querySelectorAll('[data-testid=stMetricLabel]')]"
        f".filter(e => e.innerText.includes('Test accuracy')).length === {len(trained)}", timeout=SLOW)
    assert page.get_by_text("Fashion CNN (CAM)").count() >= 1
    screenshot(page, "home")


def test_fashion_upload_a_photo_and_switch_models(page, app_url):
    open_page(page, app_url, "fashion")
    choose_upload(page)
    upload(page, "trousers.jpg", clothing_photo(1))
    label, percent = top1(page)
    assert label == "Trouser" and percent > 50
    screenshot(page, "fashion")

    page.get_by_text("Fashion MLP", exact=True).click()
    page.get_by_text("has no convolutional layers").wait_for(timeout=SLOW)
    wait_until_idle(page)
    page.get_by_text("Guessed by Fashion MLP").first.wait_for(timeout=SLOW)
    assert page.get_by_text("Guessed by Fashion MLP").count() == 1
    assert top1(page)[0] == "Trouser"


# A real photo from clothing_photos/validation/: a T-shirt on a strongly coloured background (the
# most saturated frame of the folder), where the grey-threshold path read an empty frame.
COLOURED_PHOTO = ("validation/t-shirt/d90835e2-e433-4c1b-a43f-4a6ba0f9617a.jpg", "T-shirt/top")


@pytest.mark.data
def test_fashion_real_photo_on_a_coloured_background(page, app_url):
    photo, label = COLOURED_PHOTO
    payload = (data.shared_data_dir() / "clothing_photos" / photo).read_bytes()
    open_page(page, app_url, "fashion")
    choose_upload(page)
    upload(page, "tshirt.jpg", payload)
    assert top1(page)[0] == label
    page.get_by_text("mask", exact=True).first.wait_for(timeout=SLOW)  # the mask is a step
    assert page.locator("[data-testid='stException']").count() == 0
    screenshot(page, "fashion_real_photo")


def test_fashion_refuses_a_file_that_is_not_an_image(page, app_url):
    open_page(page, app_url, "fashion")
    choose_upload(page)
    upload(page, "notes.png", b"these are my notes, not a picture", mime="image/png")
    alert = page.locator("[data-testid='stAlert']").filter(has_text="not an image")
    alert.first.wait_for(timeout=SLOW)
    assert page.locator("[data-testid='stException']").count() == 0


def stroke(page, box, points) -> None:
    draw_stroke(page, box, points)
    wait_until_idle(page)
    page.wait_for_timeout(700)  # the canvas sends its strokes after the stroke ends
    wait_until_idle(page)


def test_doodle_guesses_after_every_stroke(page, app_url):
    open_page(page, app_url, "doodle")
    assert top1_text(page) == "Draw something"
    canvas = page.locator("canvas.drawing-canvas").first
    canvas.wait_for(timeout=SLOW)
    box = canvas.bounding_box()

    circle = [(160 + 110 * math.cos(t), 160 + 110 * math.sin(t)) for t in np.linspace(0, 2 * math.pi, 40)]
    stroke(page, box, circle)
    page.wait_for_function(
        "() => { const h = document.querySelector('.st-key-top1 h3'); "
        "return h && !h.innerText.includes('Draw something'); }", timeout=SLOW)
    first = top1_text(page)
    assert TOP1.match(first)

    stroke(page, box, [(60, 160), (260, 160)])  # a line through the middle
    page.wait_for_function(
        f"() => document.querySelector('.st-key-top1 h3').innerText !== {first!r}", timeout=SLOW)
    second = top1_text(page)
    assert TOP1.match(second) and second != first
    screenshot(page, "doodle")


def flower_photo(kind: str) -> bytes:
    split = data.flower_file_splits()["test"]
    name = next(f for f in split.files if f.startswith(kind + "/"))
    return (data.flowers_dir() / name).read_bytes()


def test_flowers_upload_a_daisy(page, app_url):
    open_page(page, app_url, "flowers")
    choose_upload(page)
    upload(page, "daisy.jpg", flower_photo("daisy"))
    assert top1(page)[0] == "daisy"
    screenshot(page, "flowers")


def test_any_photo_names_a_daisy_among_1000_classes(page, app_url):
    open_page(page, app_url, "any_photo")
    choose_upload(page)
    upload(page, "daisy.jpg", flower_photo("daisy"))
    assert top1(page)[0] == "daisy"
    screenshot(page, "any_photo")


def test_layers_shows_feature_maps(page, app_url):
    open_page(page, app_url, "layers")
    page.get_by_text("Pick a sample", exact=True).first.click()
    wait_until_idle(page)
    page.get_by_text("conv1_relu", exact=False).first.wait_for(timeout=SLOW)
    page.get_by_text("conv4_relu", exact=False).first.wait_for(timeout=SLOW)
    # Streamlit loads its image component lazily, so on a busy machine the layer names arrive
    # before the pictures: wait for the pictures themselves, decoded, not just for the text.
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=stImage] img')]"
        ".filter(img => img.complete && img.naturalWidth > 0).length >= 4", timeout=SLOW)
    assert page.get_by_text("Maps numbered row by row").count() >= 4
    screenshot(page, "layers")


def test_model_report_click_a_confusion_cell_shows_that_pair(page, app_url):
    open_page(page, app_url, "model_report")
    labels = MODELS["fashion_mlp"].labels
    actual, predicted = labels.index("Shirt"), labels.index("T-shirt/top")
    cells = page.locator(".st-key-report_matrix_fashion_mlp .js-plotly-plot "
                         "g.scatterlayer g.trace g.points path")
    cells.first.wait_for(state="attached", timeout=SLOW)
    assert cells.count() == len(labels) ** 2
    cell = cells.nth(actual * len(labels) + predicted)
    cell.hover(force=True)  # plotly's drag layer sits on top of the markers
    cell.click(force=True)
    wait_until_idle(page)
    heading = page.get_by_role("heading", name="Actual Shirt, predicted as T-shirt/top")
    heading.wait_for(timeout=SLOW)
    screenshot(page, "model_report")


def prediction_line(page) -> str:
    line = page.locator("p").filter(has_text="Prediction:").first
    line.wait_for(timeout=SLOW)
    return line.inner_text()


def test_playground_rotating_changes_the_prediction(page, app_url):
    open_page(page, app_url, "playground")
    before = prediction_line(page)
    slider = page.get_by_role("slider", name="Rotate (degrees)")
    for _ in range(40):  # 5 degrees a key press, up to a quarter turn; a rerun may take the focus
        if float(slider.input_value()) >= 90:
            break
        slider.focus()
        slider.press("ArrowRight")
    assert float(slider.input_value()) >= 90
    wait_until_idle(page)
    page.wait_for_function(
        "(before) => [...document.querySelectorAll('p')].some("
        "p => p.innerText.includes('Prediction:') && p.innerText !== before)",
        arg=before, timeout=SLOW)
    assert prediction_line(page) != before
    screenshot(page, "playground")


def test_compare_says_whether_the_models_agree(page, app_url):
    # What the page must say, from the same shipped models run here on the sample it opens with.
    from vision.models import Predictor
    from vision.registry import get_dataset

    fashion = get_dataset("fashion_mnist")
    pixels, _, _ = fashion.source.samples()[0]
    x = pixels.astype(np.float32)[..., None]
    answers = [Predictor.load(spec.name).top_k(x, 1).label for spec in fashion.models
               if spec.weights_available]
    assert len(answers) >= 2, "the Fashion models are not trained: nothing to compare"
    expected, wrong = ((f"All {len(answers)} models agree", "The models disagree")
                       if len(set(answers)) == 1 else ("The models disagree", "models agree"))
    open_page(page, app_url, "compare")
    page.get_by_text(expected).first.wait_for(timeout=SLOW)
    assert page.get_by_text(wrong).count() == 0
    for label in set(answers):  # one column per model, each with its own answer
        shown = page.locator("p").filter(has_text=re.compile(rf"^Top answer: {re.escape(label)} \d+%"))
        assert shown.count() == answers.count(label)
    assert page.locator("[data-testid='stException']").count() == 0
    screenshot(page, "compare")


@pytest.mark.parametrize("path, expected", [
    ("mistakes", "Silhouette"),
    ("how_cnn_works", "0.77"),
])
def test_study_pages_open(page, app_url, path, expected):
    open_page(page, app_url, path)
    page.get_by_text(expected).first.wait_for(timeout=SLOW)
    assert page.locator("[data-testid='stException']").count() == 0
    screenshot(page, path)
