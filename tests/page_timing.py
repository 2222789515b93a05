"""How long a user waits for the first prediction on each page, in Debian's headless Chromium
against a fresh `streamlit run` server: with the models preloaded in the background (the app's
default) and without (VISION_LAB_PRELOAD=0, every model loads when its page first needs it).

    python tests/page_timing.py [--pause SECONDS]

The visit goes as a class would: the home page, a pause to read it, then Fashion, Flowers and
Any photo, picking a sample on each. Each figure runs from the click on "Pick a sample" (the page
is ready) to the top-1 text on screen. Then the Doodle page: the time from the end of a stroke
to the new guess on screen, for each of a few strokes (the canvas itself waits about 0.2 s
before it sends a stroke). Prints a table; asserts nothing (machines here are noisy).
"""

from __future__ import annotations

import argparse
import math
import time

from browser_support import CHROMIUM, CHROMIUM_ARGS, free_port, start_server

PAGES = [("fashion", "Fashion"), ("flowers", "Flowers"), ("any_photo", "Any photo")]
TIMEOUT = 120_000  # ms


def wait_until_idle(page) -> None:
    page.wait_for_timeout(300)
    page.locator("[data-testid='stStatusWidget']").wait_for(state="hidden", timeout=TIMEOUT)


def visit(browser, url: str, pause: float) -> dict[str, float]:
    """Seconds from "Pick a sample" to the top-1 text, per page, for one visit of a fresh server."""
    page = browser.new_page()
    page.goto(url)
    page.get_by_text("See what a convolutional network sees").wait_for(timeout=TIMEOUT)
    time.sleep(pause)
    waits = {}
    for path, title in PAGES:
        page.goto(f"{url}/{path}")
        page.get_by_text("Pick a sample", exact=True).first.wait_for(timeout=TIMEOUT)
        wait_until_idle(page)
        start = time.perf_counter()
        page.get_by_text("Pick a sample", exact=True).first.click()
        page.locator(".st-key-top1 h3").first.wait_for(timeout=TIMEOUT)
        waits[title] = time.perf_counter() - start
    waits.update(doodle_strokes(page, url))
    page.close()
    return waits


def doodle_strokes(page, url: str) -> dict[str, float]:
    """Seconds from the end of each stroke to a new top-1 text: a circle, then lines across it."""
    page.goto(f"{url}/doodle")
    canvas = page.locator("canvas.upper-canvas").first
    canvas.wait_for(timeout=TIMEOUT)
    wait_until_idle(page)
    box = canvas.bounding_box()
    circle = [(160 + 110 * math.cos(2 * math.pi * i / 40), 160 + 110 * math.sin(2 * math.pi * i / 40))
              for i in range(41)]
    strokes = [circle, [(60, 160), (260, 160)], [(160, 60), (160, 260)], [(80, 80), (240, 240)]]
    waits = {}
    for number, points in enumerate(strokes, start=1):
        before = page.locator(".st-key-top1 h3").first.inner_text()
        page.mouse.move(box["x"] + points[0][0], box["y"] + points[0][1])
        page.mouse.down()
        for x, y in points[1:]:
            page.mouse.move(box["x"] + x, box["y"] + y, steps=2)
        start = time.perf_counter()
        page.mouse.up()
        page.wait_for_function(
            "(before) => { const h = document.querySelector('.st-key-top1 h3');"
            " return h && h.innerText !== before; }", arg=before, timeout=TIMEOUT)
        waits[f"Stroke {number}"] = time.perf_counter() - start
        wait_until_idle(page)
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
    print(f"first prediction per page, seconds after 'Pick a sample' ({args.pause:g} s on the home page first)")
    print(f"{'page':<12}{'preloaded':>12}{'on demand':>12}{'ratio':>8}")
    for title in results["preloaded"]:
        fast, slow = results["preloaded"][title], results["loaded on demand"][title]
        print(f"{title:<12}{fast:>12.2f}{slow:>12.2f}{slow / fast:>7.1f}x")


if __name__ == "__main__":
    main()
