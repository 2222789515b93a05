"""Replay Quick, Draw! test drawings on the real canvas with the mouse, in headless Chromium, and
report how often the Doodle page guesses them right (information, not a CI test):

    .venv/bin/python tests/replay_doodles.py [--per-class 6] [--port 8509]

Each drawing's strokes are recovered as its centre lines (vision.sketches.centre_lines) and traced
with the mouse, one stroke per polyline, on a fresh page, with the default (medium) pen. After the
last stroke the page's answer is read: the top-1 heading, or the best guess under "I'm not sure
yet". Also prints how long the page takes to show a new guess after a stroke ends (the latency a
live guess during a stroke would need to beat): the heading or the bars' probabilities change.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bars import BROWSER_SHOWN  # noqa: E402
from browser_support import CHROMIUM, CHROMIUM_ARGS, draw_stroke, start_server, wait_until_idle  # noqa: E402
from vision import data  # noqa: E402
from vision.sketches import centre_lines  # noqa: E402

CANVAS = 320
MARGIN = 32


def read_answer(page) -> tuple[str, bool]:
    """(label, unsure) from the page's top-1 block."""
    text = page.locator(".st-key-top1 h3").first.inner_text().strip()
    if " - " in text and text.endswith("%"):
        return text.split(" - ")[0], False
    line = page.locator("[data-testid='stCaptionContainer']").filter(has_text="My best guess").first
    words = line.inner_text().split("My best guess so far is ")[1]
    return words.split(" ")[0], True


def replay(page, url: str, lines: list[np.ndarray]) -> tuple[str, bool, list[float]]:
    page.goto(f"{url}/doodle", wait_until="domcontentloaded", timeout=60_000)
    canvas = page.locator("canvas.drawing-canvas").first
    canvas.wait_for(timeout=60_000)
    wait_until_idle(page)
    box = canvas.bounding_box()
    scale = (CANVAS - 2 * MARGIN) / 28.0
    latencies = []
    # the stubs that thinning leaves at junctions are not strokes anyone would draw
    lines = [l for l in lines if len(l) > 1 and np.linalg.norm(np.diff(l, axis=0), axis=1).sum() >= 1.5]
    for line in lines:
        points = [(float(MARGIN + (x + 0.5) * scale), float(MARGIN + (y + 0.5) * scale)) for x, y in line]
        before = page.evaluate(f"() => {BROWSER_SHOWN}")
        draw_stroke(page, box, points)
        start = time.perf_counter()
        try:  # every stroke changes the probabilities: a change is the stroke's own answer
            page.wait_for_function(f"(before) => {BROWSER_SHOWN} !== before",
                                   arg=before, timeout=15_000)
            latencies.append(time.perf_counter() - start)
        except Exception:  # a stroke too short to change anything: no change to wait for
            pass
        wait_until_idle(page)
    page.wait_for_timeout(700)
    wait_until_idle(page)
    label, unsure = read_answer(page)
    return label, unsure, latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=6)
    parser.add_argument("--port", type=int, default=8509)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    test = data.load_doodles().test
    rng = np.random.default_rng(9)
    rows = np.concatenate([rng.choice(np.flatnonzero(test.y == c), args.per_class, replace=False)
                           for c in range(len(data.DOODLE_CLASSES))])
    server = start_server(args.port)
    url = f"http://127.0.0.1:{args.port}"
    right = unsure = 0
    latencies: list[float] = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            first = browser.new_page()
            first.goto(url)
            first.get_by_text("Vision Lab").first.wait_for(timeout=60_000)
            first.close()
            for count, row in enumerate(rows, start=1):
                truth = data.DOODLE_CLASSES[test.y[row]]
                for attempt in range(2):  # a page that never loads (a busy machine) is tried again
                    context = browser.new_context(viewport={"width": 1280, "height": 1400})
                    try:
                        label, was_unsure, times = replay(context.new_page(), url,
                                                          centre_lines(test.x[row]))
                        break
                    except Exception:
                        if attempt:
                            raise
                    finally:
                        context.close()
                right += label == truth
                unsure += was_unsure
                latencies += times
                print(f"{count:3d} {truth:8s} -> {label:8s}{' (not sure)' if was_unsure else ''}",
                      flush=True)
            browser.close()
    finally:
        server.kill()
    print(f"\nmouse replay on the real canvas: {right} of {len(rows)} right "
          f"({right / len(rows):.1%}); {unsure} answered 'not sure yet' (best guess counted)")
    if latencies:
        print(f"stroke end -> new guess on the page: median {statistics.median(latencies) * 1e3:.0f} ms, "
              f"max {max(latencies) * 1e3:.0f} ms over {len(latencies)} strokes")


if __name__ == "__main__":
    main()
