"""End to end on "Your model": upload a .keras and a label file in Debian's headless Chromium,
see the top-1 and the heat map, download the PNG; a second browser never sees the model."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from PIL import Image, ImageDraw

import user_model_files as files
from browser_support import SCREENSHOTS, running_app, wait_until_idle
from vision import data, registry
from vision.images import decode_image
from vision.user_models import keras_bytes, prepare_picture

pytestmark = pytest.mark.browser
SLOW = 60_000
TOP1 = re.compile(r"^(?P<label>.+) - (?P<percent>\d{1,3}\.\d)%$")


@pytest.fixture(scope="module")
def app_url(browser):
    with running_app(browser, preload=False, slow_ms=SLOW) as url:  # this page loads only the user's model
        yield url


@pytest.fixture
def new_page(browser):
    contexts = []

    def make():
        context = browser.new_context(viewport={"width": 1280, "height": 1700}, accept_downloads=True)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def open_your_model(page, app_url):
    page.goto(f"{app_url}/your_model", wait_until="domcontentloaded", timeout=SLOW)
    page.locator("[data-testid='stApp']").wait_for(timeout=SLOW)
    page.get_by_text("Models taught on the Doodle page", exact=False).first.wait_for(timeout=SLOW)
    wait_until_idle(page)


def upload(page, index: int, name: str, payload: bytes, mime: str) -> None:
    page.locator("[data-testid='stFileUploader'] input[type='file']").nth(index).set_input_files(
        {"name": name, "mimeType": mime, "buffer": payload})
    wait_until_idle(page)


def top1(page) -> tuple[str, float]:
    heading = page.locator(".st-key-top1 h3").first
    heading.wait_for(timeout=SLOW)
    match = TOP1.match(heading.inner_text().strip())
    assert match, heading.inner_text()
    return match["label"], float(match["percent"])


def wait_for_heatmap(page) -> None:
    page.wait_for_function(
        "() => [...document.querySelectorAll('.st-key-your_model_heatmap img')]"
        ".some(img => img.complete && img.naturalWidth > 0)", timeout=SLOW)


def download_png(page) -> bytes:
    button = page.locator("[data-testid='stDownloadButton'] button").filter(has_text="Heat map (PNG)")
    with page.expect_download(timeout=SLOW) as info:
        button.first.click()
    return open(info.value.path(), "rb").read()


def square_photo() -> bytes:
    image = Image.new("RGB", (240, 240), "white")
    ImageDraw.Draw(image).rectangle((70, 50, 170, 190), fill=(20, 20, 40))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_upload_a_model_and_labels_see_top1_and_heat_map_download_png(new_page, app_url):
    model = files.small_cnn()
    page = new_page()
    open_your_model(page, app_url)
    upload(page, 0, "tiny.keras", keras_bytes(model), "application/octet-stream")
    upload(page, 1, "labels.txt", b"cat\ndog\nbird\n", "text/plain")
    page.get_by_text("28x28x1").first.wait_for(timeout=SLOW)
    upload(page, 2, "box.png", square_photo(), "image/png")

    prepared = prepare_picture("fashion", decode_image(square_photo()), (28, 28, 1))
    probabilities = model.predict(prepared.model_input[None], verbose=0)[0]
    label, percent = top1(page)
    assert label == ("cat", "dog", "bird")[int(np.argmax(probabilities))]
    assert percent == pytest.approx(100 * float(probabilities.max()), abs=0.06)
    wait_for_heatmap(page)

    png = download_png(page)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    picture = Image.open(io.BytesIO(png))
    picture.load()  # decodes every pixel
    assert picture.format == "PNG" and picture.size == (280, 280) and picture.mode == "RGB"

    # another browser (its own session) does not see this model
    other = new_page()
    open_your_model(other, app_url)
    assert other.locator("[data-testid='stMetric']").count() == 0
    assert other.locator(".st-key-top1").count() == 0


@pytest.mark.data  # a Fashion-MNIST test item, photographed
def test_bring_the_shipped_fashion_cnn_as_your_model(new_page, app_url):
    """A real model brought as a file: the shipped Fashion CNN with its class names, on a photo."""
    page = new_page()
    open_your_model(page, app_url)
    weights = registry.get_spec("fashion_cnn").weights_path
    upload(page, 0, "fashion_cnn.keras", weights.read_bytes(), "application/octet-stream")
    labels = "\n".join(registry.get_spec("fashion_cnn").labels).encode()
    upload(page, 1, "fashion_labels.txt", labels, "text/plain")
    _, _, x_test, y_test = data.load_fashion_mnist_arrays()
    item = x_test[np.flatnonzero(y_test == 1)[0]]  # a trouser, photographed dark on white
    big = np.asarray(Image.fromarray(255 - item).resize((336, 336), Image.BICUBIC))
    buffer = io.BytesIO()
    Image.fromarray(np.pad(big, 80, constant_values=255)).save(buffer, format="JPEG", quality=90)
    upload(page, 2, "trousers.jpg", buffer.getvalue(), "image/jpeg")
    assert top1(page)[0] == "Trouser"
    wait_for_heatmap(page)
    page.get_by_text("conv4_relu").first.wait_for(timeout=SLOW)  # the Layers view
    wait_until_idle(page)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    height = page.evaluate("() => document.querySelector('[data-testid=stMain]').scrollHeight")
    page.set_viewport_size({"width": 1280, "height": min(max(int(height), 900), 4000)})
    page.wait_for_timeout(1000)
    page.screenshot(path=SCREENSHOTS / "your_model.png", full_page=True)


def house_strokes(rng, side: int = 240):
    """A house drawn with the mouse: a square body, then a roof, every corner a little off."""
    size = rng.uniform(0.4, 0.6) * side
    cx, cy = rng.uniform(0.45, 0.55) * side, rng.uniform(0.55, 0.62) * side
    left, right, top, bottom = cx - size / 2, cx + size / 2, cy - size / 2, cy + size / 2
    jitter = lambda: rng.normal(0, 0.03 * size, 2)  # noqa: E731
    body = [(left, top), (right, top), (right, bottom), (left, bottom), (left, top)]
    roof = [(left, top), (cx, top - 0.5 * size), (right, top)]
    return [[tuple(np.add(p, jitter())) for p in stroke] for stroke in (body, roof)]


def draw(page, canvas, strokes) -> None:
    from browser_support import draw_stroke

    box = canvas.bounding_box()
    for points in strokes:
        dense = []  # straight lines as many small mouse moves, as a hand would
        for (x0, y0), (x1, y1) in zip(points, points[1:]):
            dense += [(x0 + (x1 - x0) * t, y0 + (y1 - y0) * t) for t in np.linspace(0, 1, 8)]
        draw_stroke(page, box, dense)
        wait_until_idle(page)
        page.wait_for_timeout(500)  # the canvas sends its strokes after the stroke ends
    wait_until_idle(page)


def test_teach_the_doodle_model_a_house_with_the_mouse(new_page, app_url):
    page = new_page()
    page.goto(f"{app_url}/doodle", wait_until="domcontentloaded", timeout=SLOW)
    page.get_by_text("Add a class").first.wait_for(timeout=SLOW)
    wait_until_idle(page)
    name = page.get_by_label("The new thing")
    name.fill("house")
    name.press("Enter")
    wait_until_idle(page)
    rng = np.random.default_rng(21)
    add = page.get_by_role("button", name="Add this drawing of house")
    for count in range(1, 9):
        for attempt in range(3):  # a stroke made while the new blank canvas mounts is lost
            page.wait_for_timeout(1000)
            pad = page.locator("canvas.drawing-canvas").nth(1)  # 0: the Doodle page's own canvas
            pad.wait_for(timeout=SLOW)
            draw(page, pad, house_strokes(rng))
            if add.is_enabled():
                break
        add.click()
        wait_until_idle(page)
        page.get_by_text(f"{count} drawing").first.wait_for(timeout=SLOW)
    page.get_by_role("button", name="Teach").click()
    page.get_by_text("Taught in").first.wait_for(timeout=SLOW)
    wait_until_idle(page)
    page.get_by_text("your drawings recognised").first.wait_for(timeout=SLOW)
    try_pad = page.locator("canvas.drawing-canvas").nth(2)
    try_pad.wait_for(timeout=SLOW)
    draw(page, try_pad, house_strokes(np.random.default_rng(99)))
    heading = page.locator(".st-key-teach_top1 h3").first
    heading.wait_for(timeout=SLOW)
    match = TOP1.match(heading.inner_text().strip())
    assert match and match["label"] == "house", heading.inner_text()
    page.get_by_text("CAM for house").first.wait_for(timeout=SLOW)
    with page.expect_download(timeout=SLOW) as info:
        page.get_by_role("button", name="Download the model (.keras)").click()
    data = open(info.value.path(), "rb").read()
    from vision.user_models import check_archive

    assert check_archive(data)["class_name"] == "Functional"  # passes the Your model checks
    height = page.evaluate("() => document.querySelector('[data-testid=stMain]').scrollHeight")
    page.set_viewport_size({"width": 1280, "height": min(max(int(height), 900), 4000)})
    page.wait_for_timeout(1000)
    page.screenshot(path=SCREENSHOTS / "doodle_teach.png", full_page=True)


def test_model_report_figure_downloads_as_a_png_made_by_kaleido(new_page, app_url):
    page = new_page()
    page.goto(f"{app_url}/model_report", wait_until="domcontentloaded", timeout=SLOW)
    button = page.locator("[data-testid='stDownloadButton'] button").filter(has_text="Figure (PNG)")
    button.first.wait_for(timeout=SLOW)
    wait_until_idle(page)
    page.get_by_text("Confusion matrix").first.wait_for(timeout=SLOW)  # the page has settled
    wait_until_idle(page)
    # kaleido starts a headless Chromium for the PNG: slow on a busy 2-core machine
    with page.expect_download(timeout=2 * SLOW) as info:
        button.first.click()
    png = open(info.value.path(), "rb").read()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    picture = Image.open(io.BytesIO(png))
    picture.load()
    assert picture.width >= 600 and picture.height >= 400  # a chart at scale 2, not an icon
    assert len(set(np.asarray(picture.convert("L")).ravel().tolist())) > 10  # lines, text
