"""How long a user waits for the first prediction on each page, in Debian's headless Chromium
against a fresh `streamlit run` server: with the models preloaded in the background (the app's
default) and without (VISION_LAB_PRELOAD=0, every model loads when its page first needs it).

    python tests/page_timing.py [--pause SECONDS]

The visit goes as a class would: the home page (the time to its title and to every model's card
drawn), a pause to read it, then Fashion, Flowers and
Any photo, picking a sample on each. Three figures per page: "open", from following the link to
the page being ready (no script run, no spinner: a model loading on demand shows a spinner);
"predict", from the click on "Pick a sample" to the top-1 text on screen; and their total (where
a slow page ends is not always clear to the browser, so the total is the steadier figure). Then
the Doodle page: the time from the end of a stroke to the new guess on screen, for each of a few
strokes (the canvas itself waits about 0.2 s before it sends a stroke). Prints a table; asserts nothing (machines here are noisy).
"""

from __future__ import annotations

import argparse
import math
import sys
import time

from browser_support import (CHROMIUM, CHROMIUM_ARGS, ROOT, draw_stroke, free_port, start_server,
                             wait_until_idle)

sys.path.insert(0, str(ROOT))  # run from tests/: the project's modules
from vision.registry import MODELS  # noqa: E402

PAGES = [("fashion", "Fashion"), ("flowers", "Flowers"), ("any_photo", "Any photo")]
TIMEOUT = 120_000  # ms


def visit(browser, url: str, pause: float) -> dict[str, float]:
    """Seconds to open each page and to its first prediction, for one visit of a fresh server."""
    page = browser.new_page()
    start = time.perf_counter()
    page.goto(url)
    page.get_by_text("See what a convolutional network sees").wait_for(timeout=TIMEOUT)
    waits = {"Home: title": time.perf_counter() - start}
    page.wait_for_function(  # every model's card drawn, down to its "Try it" link
        f"() => [...document.querySelectorAll('[data-testid=stMain] a')]"
        f".filter(a => a.innerText.includes('Try it')).length === {len(MODELS)}", timeout=TIMEOUT)
    waits["Home: every card"] = time.perf_counter() - start
    time.sleep(pause)
    for path, title in PAGES:
        start = time.perf_counter()
        page.goto(f"{url}/{path}")
        page.get_by_text("Pick a sample", exact=True).first.wait_for(timeout=TIMEOUT)
        wait_until_idle(page, TIMEOUT)
        waits[f"{title}: open"] = time.perf_counter() - start
        start = time.perf_counter()
        page.get_by_text("Pick a sample", exact=True).first.click()
        page.locator(".st-key-top1 h3").first.wait_for(timeout=TIMEOUT)
        waits[f"{title}: predict"] = time.perf_counter() - start
        waits[f"{title}: total"] = waits[f"{title}: open"] + waits[f"{title}: predict"]
    waits.update(doodle_strokes(page, url))
    page.close()
    return waits


def doodle_strokes(page, url: str) -> dict[str, float]:
    """Seconds from the end of each stroke to a new top-1 text: a circle, then lines across it."""
    page.goto(f"{url}/doodle")
    canvas = page.locator("canvas.drawing-canvas").first
    canvas.wait_for(timeout=TIMEOUT)
    wait_until_idle(page, TIMEOUT)
    box = canvas.bounding_box()
    circle = [(160 + 110 * math.cos(2 * math.pi * i / 40), 160 + 110 * math.sin(2 * math.pi * i / 40))
              for i in range(41)]
    strokes = [circle, [(60, 160), (260, 160)], [(160, 60), (160, 260)], [(80, 80), (240, 240)]]
    waits = {}
    for number, points in enumerate(strokes, start=1):
        before = page.locator(".st-key-top1 h3").first.inner_text()
        draw_stroke(page, box, points)
        start = time.perf_counter()
        page.wait_for_function(
            "(before) => { const h = document.querySelector('.st-key-top1 h3');"
            " return h && h.innerText !== before; }", arg=before, timeout=TIMEOUT)
        waits[f"Stroke {number}"] = time.perf_counter() - start
        wait_until_idle(page, TIMEOUT)
    return waits


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pause", type=float, default=5.0,
                        help="seconds spent on the home page before the first model page")
    args = parser.parse_args()
    results = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for label, preload in (("preloaded", True), ("loaded on demand", False)):
            port = free_port()
            server = start_server(port, preload=preload)
            try:
                results[label] = visit(browser, f"http://127.0.0.1:{port}", args.pause)
            finally:
                server.kill()
                server.wait(timeout=20)
                server.log_path.unlink()
        browser.close()
    print(f"seconds a user waits ({args.pause:g} s on the home page first)")
    print(f"{'wait':<20}{'preloaded':>12}{'on demand':>12}{'ratio':>8}")
    for title in results["preloaded"]:
        fast, slow = results["preloaded"][title], results["loaded on demand"][title]
        print(f"{title:<20}{fast:>12.2f}{slow:>12.2f}{slow / fast:>7.1f}x")


if __name__ == "__main__":
    main()
