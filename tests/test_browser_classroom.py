"""Classroom mode end to end: a student plays a round by drawing with the mouse and sends it; the
teacher's Class board, in a second browser context, shows it within its refresh interval, opens
its confusion cell and is cleared with the passcode. A phone plays with touch on a 390 px screen,
and the presenter view is checked at 1920x1080. Screenshots go to docs/screenshots/.

The server is a real `streamlit run` with the shipped doodle model, a SQLite board in a temporary
folder (prefilled with a few Quick, Draw! test doodles, so the screenshots show a class's board)
and a passcode.
"""

from __future__ import annotations

import io
import math
import re
import time

import numpy as np
import pytest
from PIL import Image

from browser_support import (SCREENSHOTS, draw_stroke, free_port, touch_stroke,
                             start_server, wait_until_idle)
from vision import data
from vision.board import Board, NewDrawing
from vision.data import DOODLE_CLASSES

pytestmark = [pytest.mark.browser, pytest.mark.data]  # the board is prefilled with Quick, Draw! doodles
SLOW = 60_000
PASSCODE = "owl-42"
REFRESH_SECONDS = 3  # pages/class_board.py
NICKNAME = "Browser Ada"


def prefill(board: Board) -> int:
    """Two Quick, Draw! test doodles of each of a few classes, guessed by the shipped model."""
    from vision.models import Predictor

    predictor = Predictor.load("doodle_cnn")
    images, labels = data.load_doodle_arrays()
    rows = data.doodle_test_indices()
    count = 0
    for name in ("apple", "cat", "fish", "moon", "rainbow"):
        index = DOODLE_CLASSES.index(name)
        for row in [r for r in rows if labels[r] == index][:2]:
            image = images[row]
            p = predictor.probabilities(image.astype(np.float32)[..., None])
            top = int(np.argmax(p))
            buffer = io.BytesIO()
            Image.fromarray(255 - image).resize((160, 160), Image.BILINEAR).save(buffer, "PNG")
            board.save(NewDrawing(name, DOODLE_CLASSES[top], float(p[top]), image,
                                  buffer.getvalue()))
            count += 1
    return count


@pytest.fixture(scope="module")
def classroom(browser, tmp_path_factory):
    """(app URL, board, number of prefilled drawings)."""
    url_db = f"sqlite:///{tmp_path_factory.mktemp('board') / 'board.sqlite3'}"
    board = Board(url_db)
    prefilled = prefill(board)
    port = free_port()
    server = start_server(port, env={"VISION_LAB_DATABASE_URL": url_db,
                                     "VISION_LAB_BOARD_PASSCODE": PASSCODE,
                                     "VISION_LAB_PUBLIC_URL": "http://192.168.1.20:8501"})
    url = f"http://127.0.0.1:{port}"
    first = browser.new_page()
    first.goto(url)
    first.get_by_text("Vision Lab").first.wait_for(timeout=SLOW)
    first.close()
    yield url, board, prefilled
    server.kill()
    server.wait(timeout=20)
    print("server log, last lines:\n" + server.log_path.read_text()[-3000:])
    server.log_path.unlink()


def open_page(page, url: str) -> None:
    page.goto(url, wait_until="domcontentloaded", timeout=SLOW)
    page.locator("[data-testid='stApp']").wait_for(timeout=SLOW)
    wait_until_idle(page)


def screenshot(page, name: str, width: int = 1280) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    wait_until_idle(page)
    height = page.evaluate("() => document.querySelector('[data-testid=stMain]').scrollHeight")
    page.set_viewport_size({"width": width, "height": min(max(int(height), 900), 4000)})
    charts = page.locator(".js-plotly-plot")
    for index in range(charts.count()):
        charts.nth(index).locator(".main-svg").first.wait_for(state="attached", timeout=SLOW)
    page.wait_for_timeout(800)
    page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)


def circle(cx=160, cy=160, r=100, n=40):
    return [(cx + r * math.cos(t), cy + r * math.sin(t)) for t in np.linspace(0, 2 * math.pi, n)]


def start_game(page, url: str) -> None:
    open_page(page, f"{url}/play")
    page.locator(".st-key-play_start button").click()
    page.locator(".st-key-play_prompt h2").wait_for(timeout=SLOW)
    wait_until_idle(page)


def draw_and_wait_for_a_guess(page, strokes) -> str:
    canvas = page.locator("canvas.drawing-canvas").first
    canvas.wait_for(timeout=SLOW)
    box = canvas.bounding_box()
    for points in strokes:
        draw_stroke(page, box, points)
        page.wait_for_timeout(600)
    # read in the same check that finds it: the round may end right after (the network knew, or
    # the 20 s ran out on a busy machine), and the guess goes with it. It may even have ended
    # already, on the last stroke, while the strokes above were drawn (sure twice of the prompt,
    # on a fast server well within the 600 ms): then the verdict says what it guessed.
    said = page.wait_for_function(
        "() => { const h = document.querySelector('.st-key-play_guess h3'); "
        "if (h && !h.innerText.includes('Start drawing')) return h.innerText; "
        "const v = document.querySelector('.st-key-play_verdict h3'); "
        "return v ? v.innerText : null; }",
        timeout=SLOW)
    return said.json_value().strip()


def finish_round(page) -> None:
    """Wait for the round to end (recognised, or the 20 s timer), then move on."""
    page.locator(".st-key-play_verdict h3").wait_for(timeout=SLOW)
    wait_until_idle(page)


def skip_rounds_to_the_end(page) -> None:
    while True:
        button = page.locator(".st-key-play_next button")
        button.wait_for(timeout=SLOW)
        if "See the results" in button.inner_text():
            button.click()
            break
        button.click()
        page.locator(".st-key-play_prompt h2").wait_for(timeout=SLOW)
        page.get_by_role("button", name="Skip this one").click()
        page.locator(".st-key-play_verdict h3").wait_for(timeout=SLOW)
    page.locator(".st-key-play_results").wait_for(timeout=SLOW)
    wait_until_idle(page)


def wait_for_count(page, count: int) -> None:
    """The board's "Drawings" figure says `count`."""
    page.wait_for_function(
        "(n) => [...document.querySelectorAll('[data-testid=stMetricValue]')]"
        ".some(e => e.innerText.trim() === n)", arg=f"{count:,}", timeout=SLOW)


def test_play_send_and_see_it_on_the_class_board(browser, classroom):
    url, board, prefilled = classroom
    student = browser.new_context(viewport={"width": 1280, "height": 1000})
    teacher = browser.new_context(viewport={"width": 1280, "height": 1400})
    try:
        play, wall = student.new_page(), teacher.new_page()
        open_page(wall, f"{url}/class_board")  # the teacher's board is open before the drawing
        wait_for_count(wall, prefilled)

        start_game(play, url)
        prompt = play.locator(".st-key-play_prompt h2").inner_text().removeprefix("Draw: ").strip()
        assert prompt in DOODLE_CLASSES
        said = draw_and_wait_for_a_guess(play, [circle(), [(70, 160), (250, 160)]])
        assert re.match(r"^(I see\.\.\. .+\?|Oh, I know, it's .+!|I'm not sure what that is\.\.\.)$", said)
        # still playing, with the guess's bars drawn, or the round already over (the network knew,
        # or the clock ran out): one check sees which, as either can follow the other at any time
        state = play.wait_for_function(
            "() => document.querySelector('.st-key-play_verdict') ? 'over'"
            " : document.querySelector('.vl-topk .vl-bar') ? 'bars' : null",
            timeout=SLOW).json_value()
        if state == "bars":
            screenshot(play, "play")
        finish_round(play)  # the timer (a fragment, once a second) ends it, or the network knew
        verdict = play.locator(".st-key-play_verdict h3").inner_text()
        assert verdict == f"Oh, I know, it's {prompt}!" or \
            verdict == f"Time's up! I couldn't guess {prompt}."
        skip_rounds_to_the_end(play)

        first = play.locator(".st-key-play_round_1")
        final = first.get_by_text("Final guess:").inner_text()
        guess = re.match(r"Final guess: (.+) - \d+\.\d%", final)[1]
        assert guess in DOODLE_CLASSES
        assert first.locator("[data-testid=stImage] img").count() >= 2  # the drawing and its CAM
        play.get_by_label("Nickname on the class board (optional)", exact=True).fill(NICKNAME)
        play.keyboard.press("Enter")
        wait_until_idle(play)
        screenshot(play, "play_end")
        first.get_by_role("button", name="Send to the class board").click()
        first.get_by_text("Sent to the class board.").wait_for(timeout=SLOW)
        sent_at = time.monotonic()

        # the teacher's board shows it by itself, within the refresh interval (and some slack
        # for a busy 2-core machine), without reloading the page
        wall.get_by_text(f"{guess} ", exact=False).filter(has_text=NICKNAME).first.wait_for(
            timeout=(REFRESH_SECONDS + 7) * 1000)
        assert time.monotonic() - sent_at < REFRESH_SECONDS + 7
        wait_for_count(wall, prefilled + 1)

        n = len(DOODLE_CLASSES)
        a, g = DOODLE_CLASSES.index(prompt), DOODLE_CLASSES.index(guess)
        # one chart: while a refresh replaces it, the old one can stay on the page a moment
        wall.wait_for_function("() => document.querySelectorAll("
                               "'.st-key-board_matrix .js-plotly-plot').length === 1", timeout=SLOW)
        cells = wall.locator(".st-key-board_matrix .js-plotly-plot g.scatterlayer g.trace g.points path")
        cells.first.wait_for(state="attached", timeout=SLOW)
        assert cells.count() == n * n
        cell = cells.nth(a * n + g)
        cell.hover(force=True)
        cell.click(force=True)
        heading = wall.get_by_role("heading", name=f"Prompt {prompt}, guessed as {guess}")
        heading.wait_for(timeout=SLOW)
        view = wall.locator(".st-key-board_cell_view")
        view.get_by_text(NICKNAME, exact=False).first.wait_for(timeout=SLOW)
        wall.wait_for_timeout((REFRESH_SECONDS + 1) * 1000)  # a refresh later, still open
        assert heading.is_visible()
        screenshot(wall, "class_board")

        wall.get_by_text("Clear the board").first.click()
        wall.get_by_label("Passcode", exact=True).fill("wrong")
        wall.get_by_role("button", name="Clear the board").click()
        wall.get_by_text("Wrong passcode").wait_for(timeout=SLOW)
        assert board.count() == prefilled + 1
        if not wall.get_by_label("Passcode", exact=True).is_visible():  # the expander closed on the rerun
            wall.get_by_text("Clear the board").first.click()
        wall.get_by_label("Passcode", exact=True).fill(PASSCODE)
        wall.get_by_role("button", name="Clear the board").click()
        wall.get_by_text(f"The board is clear ({prefilled + 1} drawings removed)").wait_for(timeout=SLOW)
        wall.get_by_text("No drawings yet").wait_for(timeout=SLOW)
        assert board.count() == 0
        assert wall.locator("[data-testid='stException']").count() == 0
        assert play.locator("[data-testid='stException']").count() == 0
    finally:
        student.close()
        teacher.close()


def test_a_phone_plays_with_touch_on_a_390_px_screen(browser, classroom):
    url = classroom[0]
    phone = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2,
                                is_mobile=True, has_touch=True)
    try:
        page = phone.new_page()
        start_game(page, url)
        canvas = page.locator("canvas.drawing-canvas").first
        canvas.wait_for(timeout=SLOW)
        canvas.scroll_into_view_if_needed()
        box = canvas.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390  # the whole canvas on screen
        touch_stroke(page, box, circle(r=90))
        page.wait_for_function(
            "() => { const h = document.querySelector('.st-key-play_guess h3'); "
            "return h && !h.innerText.includes('Start drawing'); }", timeout=SLOW)
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 390  # no sideways scroll
        assert page.locator("[data-testid='stException']").count() == 0

        open_page(page, f"{url}/doodle")  # and the Doodle page's canvas, the same way
        canvas = page.locator("canvas.drawing-canvas").first
        canvas.wait_for(timeout=SLOW)
        canvas.scroll_into_view_if_needed()
        box = canvas.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390
        touch_stroke(page, box, circle(r=90))
        page.wait_for_function(
            "() => { const h = document.querySelector('.st-key-top1 h3'); "
            "return h && / - \\d+\\.\\d%$/.test(h.innerText.trim()); }", timeout=SLOW)
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    finally:
        phone.close()


def test_presenter_view_on_a_projector(browser, classroom):
    url = classroom[0]
    projector = browser.new_context(viewport={"width": 1920, "height": 1080})
    try:
        page = projector.new_page()
        start_game(page, url)
        normal = page.evaluate("() => parseFloat(getComputedStyle(document.documentElement).fontSize)")
        page.get_by_text("Presenter view").click()
        wait_until_idle(page)
        page.locator(".st-key-presenter_qr img").wait_for(timeout=SLOW)
        page.get_by_text("Join: http://192.168.1.20:8501").wait_for(timeout=SLOW)
        large = page.evaluate("() => parseFloat(getComputedStyle(document.documentElement).fontSize)")
        assert large >= 1.5 * normal
        draw_and_wait_for_a_guess(page, [circle()])
        size = page.evaluate("() => parseFloat(getComputedStyle("
                             "document.querySelector('.st-key-play_guess h3')).fontSize)")
        assert size >= 60  # readable from the back of a room
        bar = page.locator(".vl-topk .vl-bar").first
        bar.wait_for(state="attached", timeout=SLOW)
        assert bar.bounding_box()["height"] >= 28  # the bars grow with the page's text
        qr = page.locator(".st-key-presenter_qr img").bounding_box()
        assert qr["y"] + qr["height"] <= 1080  # the QR code on the projected screen
        page.wait_for_timeout(800)
        page.screenshot(path=SCREENSHOTS / "presenter.png")  # the projector's 1920x1080
    finally:
        projector.close()


def test_without_a_passcode_only_the_servers_machine_may_clear(browser, tmp_path):
    """A real server with no passcode: a browser on this machine may clear the board; the same
    browser seen through a proxy (X-Forwarded-For) may not."""
    url_db = f"sqlite:///{tmp_path / 'board.sqlite3'}"
    board = Board(url_db)
    board.save(NewDrawing("moon", "moon", 0.9, np.zeros((28, 28)), _png(), "Ada"))
    port = free_port()
    server = start_server(port, preload=False, env={"VISION_LAB_DATABASE_URL": url_db,
                                                    "VISION_LAB_BOARD_PASSCODE": ""})
    url = f"http://127.0.0.1:{port}"
    try:
        proxied = browser.new_context(extra_http_headers={"X-Forwarded-For": "203.0.113.9"})
        page = proxied.new_page()
        open_page(page, url)  # (the router first, as users arrive)
        open_page(page, f"{url}/class_board")
        page.get_by_text("Clear the board").first.click()
        page.get_by_text("only be cleared from the machine the server runs on").wait_for(timeout=SLOW)
        assert page.get_by_role("button", name="Clear the board").count() == 0
        proxied.close()

        local = browser.new_context()
        page = local.new_page()
        open_page(page, f"{url}/class_board")
        page.get_by_text("Clear the board").first.click()
        page.get_by_text("clearing works from this machine only").wait_for(timeout=SLOW)
        page.get_by_role("button", name="Clear the board").click()
        page.get_by_text("The board is clear (1 drawing removed)").wait_for(timeout=SLOW)
        assert board.count() == 0
        local.close()
    finally:
        server.kill()
        server.wait(timeout=20)
        server.log_path.unlink()


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (160, 160), 255).save(buffer, "PNG")
    return buffer.getvalue()
