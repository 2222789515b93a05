"""The Doodle page as a user meets it (issue 9), in headless Chromium against a real server:
upload a thin-line sketch PNG on the page itself and read the right guess; draw the same circle
with the thin and the thick pen and get the same guess."""

from __future__ import annotations

import io
import math
import re

import numpy as np
import pytest
from PIL import Image

from browser_support import draw_stroke, wait_until_idle
from test_browser import SLOW, TOP1, app_url, open_page, page, screenshot, top1_text, upload  # noqa: F401
from vision import data
from vision.images import decode_image
from vision.models import Predictor
from vision.preprocess import preprocess
from vision.sketches import centre_lines, style_image

pytestmark = [pytest.mark.browser, pytest.mark.data]
BEST_GUESS = re.compile(r"My best guess so far is (?P<label>[a-z]+)")


def guess(page) -> str:
    """The page's top-1 class: from the "Class - 97.3%" heading, or from the best-guess line
    under "I'm not sure yet"."""
    text = top1_text(page)
    match = TOP1.match(text)
    if match:
        return match["label"]
    assert text == "I'm not sure yet", text
    line = page.locator("[data-testid='stCaptionContainer']").filter(has_text="My best guess").first
    return BEST_GUESS.search(line.inner_text())["label"]


def thin_sketch() -> tuple[bytes, str]:
    """A Quick, Draw! test fish drawn again in one-pixel lines on a 150x150 PNG, the first whose
    upload the shipped model reads right (so the test checks the page, not the model)."""
    test = data.load_doodles().test
    predictor = Predictor.load("doodle_cnn")
    fish = data.DOODLE_CLASSES.index("fish")
    for row in np.flatnonzero(test.y == fish)[:20]:
        buffer = io.BytesIO()
        Image.fromarray(style_image(centre_lines(test.x[row]), "thin")).save(buffer, format="PNG")
        payload = buffer.getvalue()
        probabilities = predictor.probabilities(preprocess("doodle", decode_image(payload)).model_input)
        if int(np.argmax(probabilities)) == fish and probabilities.max() > 0.9:
            return payload, "fish"
    raise AssertionError("no test fish is read right through the upload path")


def test_doodle_upload_a_thin_line_sketch(page, app_url):
    payload, label = thin_sketch()
    open_page(page, app_url, "doodle")
    page.get_by_text("Upload a drawing", exact=True).first.click()
    wait_until_idle(page)
    upload(page, "fish.png", payload, mime="image/png")
    page.wait_for_function(
        "() => { const h = document.querySelector('.st-key-top1 h3'); "
        "return h && !h.innerText.includes('Draw something'); }", timeout=SLOW)
    assert guess(page) == label
    page.get_by_text("ink mask").first.wait_for(timeout=SLOW)
    screenshot(page, "doodle_upload")


def circle_guess(page, app_url: str, pen: str) -> str:
    open_page(page, app_url, "doodle")
    page.get_by_text(pen, exact=True).first.click()
    wait_until_idle(page)
    canvas = page.locator("canvas.drawing-canvas").first
    canvas.wait_for(timeout=SLOW)
    box = canvas.bounding_box()
    circle = [(160 + 100 * math.cos(t), 160 + 100 * math.sin(t))
              for t in np.linspace(0, 2 * math.pi, 48)]
    draw_stroke(page, box, circle)
    wait_until_idle(page)
    page.wait_for_function(
        "() => { const h = document.querySelector('.st-key-top1 h3'); "
        "return h && !h.innerText.includes('Draw something'); }", timeout=SLOW)
    wait_until_idle(page)
    return guess(page)


def test_doodle_same_circle_with_thin_and_thick_pen(browser, app_url):
    guesses = {}
    for pen in ("Thin", "Thick"):
        context = browser.new_context(viewport={"width": 1280, "height": 1700})
        try:
            guesses[pen] = circle_guess(context.new_page(), app_url, pen)
        finally:
            context.close()
    assert guesses["Thin"] == guesses["Thick"], guesses
