"""The drawing canvas (ui/canvas.py) in headless Chromium against a real server: what the
browser shows is what the server draws from the strokes (vision/strokes.py), a stroke anywhere on
the visible canvas gets its guess at a phone's width and at 1000x800 with the sidebar open, the
toolbar is there without hovering and works, touch draws, and the value on the websocket has the
shape ui/canvas.py documents for the load test."""

from __future__ import annotations

import base64
import io
import json
import math

import numpy as np
import pytest
from PIL import Image
from streamlit.proto.BackMsg_pb2 import BackMsg

from bars import BROWSER_SHOWN
from browser_support import CANVAS, draw_stroke, running_app, touch_stroke, wait_until_idle
from vision.strokes import render_strokes

pytestmark = pytest.mark.browser
SLOW = 60_000
SIDE = 320


@pytest.fixture(scope="module")
def app_url(browser):
    with running_app(browser, slow_ms=SLOW) as url:
        yield url


def doodle(browser, app_url, sent: list | None = None, **context):
    """A new browser window (its `context` options) on the Doodle page, its canvas shown;
    `sent` collects the frames the page sends on its websocket."""
    window = browser.new_context(**context)
    page = window.new_page()
    if sent is not None:
        page.on("websocket", lambda ws: ws.on("framesent", lambda payload: sent.append(payload)))
    page.goto(f"{app_url}/doodle", wait_until="domcontentloaded", timeout=SLOW)
    canvas = page.locator(CANVAS).first
    canvas.wait_for(timeout=SLOW)
    wait_until_idle(page)
    canvas.scroll_into_view_if_needed()
    return window, page, canvas


def tool(page, name: str):
    """A button of the Doodle canvas's toolbar (the first canvas on the page)."""
    return page.locator(".drawing-wrap").first.get_by_role("button", name=name, exact=True)


RESULTS = "() => " + BROWSER_SHOWN


def results(page) -> str:
    """The guess as the page shows it now: the top-1 heading and the bars' probabilities. Every
    new drawing changes the probabilities, so a change means a fresh result."""
    return page.evaluate(RESULTS)


def wait_for_new_results(page, before: str) -> str:
    page.wait_for_function(
        f"""before => {{ const now = {BROWSER_SHOWN};
             return now !== before && !now.startsWith('Draw something') && !now.endsWith('|'); }}""",
        arg=before, timeout=SLOW)
    wait_until_idle(page)
    return results(page)


def browser_strokes(canvas) -> dict:
    """The canvas's own record of its strokes (what it sends)."""
    return canvas.evaluate("c => ({side: c.width, strokes: c.getRootNode().__drawing.strokes})")


def browser_pixels(canvas) -> np.ndarray:
    url = canvas.evaluate("c => c.toDataURL('image/png')")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("L"))


def circle(cx=160, cy=160, r=90, n=48):
    return [(cx + r * math.cos(t), cy + r * math.sin(t)) for t in np.linspace(0, 2 * math.pi, n)]


def test_the_server_draws_the_strokes_as_the_browser_shows_them(browser, app_url):
    sent = []
    window, page, canvas = doodle(browser, app_url, sent, viewport={"width": 1280, "height": 1400})
    try:
        box = canvas.bounding_box()
        assert box["width"] == pytest.approx(SIDE, abs=1)  # shown at its own size here
        tool(page, "Thin").click()
        draw_stroke(page, box, circle(), side=SIDE)
        tool(page, "Thick").click()
        draw_stroke(page, box, [(40, 40), (120, 70), (200, 40), (280, 90)], side=SIDE)
        tool(page, "Medium").click()
        draw_stroke(page, box, [(250, 250)], side=SIDE)  # a dot
        tool(page, "Eraser").click()
        draw_stroke(page, box, [(60, 160), (260, 160)], side=SIDE)
        before = results(page)
        wait_for_new_results(page, before)
        value = browser_strokes(canvas)
        assert [s["width"] for s in value["strokes"]] == [3, 28, 12, 30]
        assert [s["erase"] for s in value["strokes"]] == [False, False, False, True]
        assert len(value["strokes"][2]["points"]) == 1
        shown = browser_pixels(canvas).astype(int)
        drawn = render_strokes(value, SIDE)[..., 0].astype(int)
        # anti-aliasing differs in the last grey level or two along the edges, nowhere else
        assert np.abs(shown - drawn).mean() < 1.5, np.abs(shown - drawn).mean()
        ink_shown, ink_drawn = shown < 128, drawn < 128
        assert ink_shown.sum() > 2000
        assert (ink_shown != ink_drawn).sum() < 0.02 * ink_shown.sum()
        assert (shown[160, 70:250] == 255).all() and (drawn[160, 70:250] == 255).all()  # erased

        # on the websocket: a rerun whose widget states carry the strokes as ui/canvas.py says
        states = []
        for payload in sent:
            if isinstance(payload, (bytes, bytearray)):
                message = BackMsg()
                message.ParseFromString(bytes(payload))
                if message.WhichOneof("type") == "rerun_script":
                    states += [w for w in message.rerun_script.widget_states.widgets
                               if w.id.endswith("-doodle_pad")]
        assert states and states[-1].id.startswith("$$ID-")
        assert states[-1].WhichOneof("value") == "json_value"
        last = json.loads(states[-1].json_value)
        assert set(last) == {"strokes"} and last["strokes"]["side"] == SIDE
        assert last["strokes"]["strokes"] == value["strokes"]
    finally:
        window.close()


EDGES = {  # short strokes hugging each edge and corner of the canvas, in logical pixels
    "top": [(120, 2), (200, 2)], "bottom": [(120, 318), (200, 318)],
    "left": [(2, 120), (2, 200)], "right": [(318, 120), (318, 200)],
    "top left": [(2, 2), (30, 2)], "bottom right": [(318, 318), (290, 318)],
}


@pytest.mark.parametrize("viewport", [{"width": 360, "height": 780}, {"width": 1000, "height": 800}],
                         ids=["360px", "1000x800-sidebar"])
def test_a_stroke_near_any_edge_of_the_visible_canvas_gets_a_guess(browser, app_url, viewport):
    window, page, canvas = doodle(browser, app_url, viewport=viewport)
    try:
        if viewport["width"] >= 1000:  # the sidebar is open, the column narrower than the canvas
            assert page.locator("[data-testid='stSidebar']").first.is_visible()
        box = canvas.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"]  # fits its column
        assert box["width"] == pytest.approx(box["height"], abs=1)  # square
        column = canvas.evaluate("c => c.getRootNode().host.getBoundingClientRect().width")
        assert box["width"] <= column + 1
        assert page.evaluate("() => document.documentElement.scrollWidth") <= viewport["width"]
        before = results(page)
        draw_stroke(page, box, circle(), side=SIDE)
        before = wait_for_new_results(page, before)
        for name, points in EDGES.items():
            canvas.scroll_into_view_if_needed()
            box = canvas.bounding_box()
            draw_stroke(page, box, points, side=SIDE)
            before = wait_for_new_results(page, before)  # every stroke: a new guess
        assert len(browser_strokes(canvas)["strokes"]) == 1 + len(EDGES)
        assert page.locator("[data-testid='stException']").count() == 0
    finally:
        window.close()


def test_the_toolbar_is_always_shown_and_undo_and_clear_work(browser, app_url):
    window, page, canvas = doodle(browser, app_url, viewport={"width": 1000, "height": 800})
    try:
        toolbar = page.locator(".drawing-toolbar").first
        assert toolbar.is_visible()  # no hover needed
        classes = page.locator(".st-key-doodle_classes").first.bounding_box()
        bar = toolbar.bounding_box()
        assert bar["y"] >= classes["y"] + classes["height"] or \
            bar["y"] + bar["height"] <= classes["y"]  # it does not cover the class list
        for name in ("Undo", "Clear", "Thin", "Medium", "Thick", "Eraser"):
            assert tool(page, name).is_visible(), name
        box = canvas.bounding_box()
        before = results(page)
        draw_stroke(page, box, circle(), side=SIDE)
        after_circle = wait_for_new_results(page, before)
        draw_stroke(page, box, [(60, 160), (260, 160)], side=SIDE)
        wait_for_new_results(page, after_circle)
        tool(page, "Undo").click()
        page.wait_for_function("() => document.querySelector('.st-key-top1 h3') && "
                               "document.querySelector('.st-key-top1 h3').innerText !== ''")
        wait_until_idle(page)
        page.wait_for_function(f"() => {BROWSER_SHOWN} === {after_circle!r}",
                               timeout=SLOW)  # the circle's guess again
        assert len(browser_strokes(canvas)["strokes"]) == 1
        tool(page, "Clear").click()
        page.wait_for_function("() => document.querySelector('.st-key-top1 h3')"
                               ".innerText.includes('Draw something')", timeout=SLOW)
        assert browser_strokes(canvas)["strokes"] == []
        assert (browser_pixels(canvas) == 255).all()
    finally:
        window.close()


def test_a_finger_draws_and_taps_the_toolbar(browser, app_url):
    window, page, canvas = doodle(browser, app_url, viewport={"width": 390, "height": 844},
                                  device_scale_factor=2, is_mobile=True, has_touch=True)
    try:
        kinds = []
        page.expose_function("recordPointer", lambda kind: kinds.append(kind))
        canvas.evaluate("c => c.addEventListener('pointerdown', e => window.recordPointer(e.pointerType))")
        box = canvas.bounding_box()
        before = results(page)
        touch_stroke(page, box, circle(), side=SIDE)
        before = wait_for_new_results(page, before)
        assert kinds == ["touch"]
        tool(page, "Thick").tap()
        touch_stroke(page, box, [(60, 160), (260, 160)], side=SIDE)
        two = wait_for_new_results(page, before)
        assert [s["width"] for s in browser_strokes(canvas)["strokes"]] == [12, 28]
        tool(page, "Undo").tap()
        assert wait_for_new_results(page, two) == before  # the circle alone, and its guess, again
        assert len(browser_strokes(canvas)["strokes"]) == 1
    finally:
        window.close()


def test_the_guess_follows_the_pen_before_it_is_lifted(browser, app_url):
    """Issue 9: live guessing. Half a circle drawn slowly, the pen still down: a guess arrives
    (the Doodle canvas sends the drawing every ui.canvas.LIVE_MS while the pen moves); the rest
    of the circle and the pen's lifting bring a fresh one."""
    window, page, canvas = doodle(browser, app_url, viewport={"width": 1280, "height": 1400})
    try:
        page.get_by_text("Guess while I draw").click()
        wait_until_idle(page)
        box = canvas.bounding_box()
        scale = box["width"] / SIDE
        at = lambda p: (box["x"] + p[0] * scale, box["y"] + p[1] * scale)  # noqa: E731
        before = results(page)
        points = circle()
        page.mouse.move(*at(points[0]))
        page.mouse.down()
        for point in points[1:24]:  # about 1.5 s of drawing
            page.mouse.move(*at(point), steps=2)
            page.wait_for_timeout(60)
        during = wait_for_new_results(page, before)
        assert canvas.evaluate("c => c.getRootNode().__drawing.current !== null")  # pen still down
        for point in points[24:]:
            page.mouse.move(*at(point), steps=2)
        page.mouse.up()
        after = wait_for_new_results(page, during)
        assert after != during
        assert canvas.evaluate("c => c.getRootNode().__drawing.current === null")
    finally:
        window.close()
