"""The load test's `--browsers` mode: Doodle strokes drawn with the mouse in real Chromium pages
(Playwright), measured the way the protocol client measures them (tests/load.py), to check that
client against browsers and for the "1 user in a real browser" figure.

A stroke's time runs from the mouse button going up (the end of the stroke) to its new guess on
screen: the guess must first arrive in a websocket frame the page receives after that moment (a
`ForwardMsg` heading read with the same rule as the protocol client, so it cannot be stale text)
and then be the text of the page's top-1 slot (`.st-key-top1 h3`). The browsers run on the cores
the server is not pinned to (this process's affinity, which Chromium inherits).
"""

from __future__ import annotations

import asyncio
import os
import random
import time

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from tests.browser_support import CANVAS as OUR_CANVAS
from tests.browser_support import CHROMIUM, CHROMIUM_ARGS
from tests.load import (GUESS, SIDE, Level, Outcome, cpu_seconds, rss_bytes, server_at_rest,
                        stroke_points)

# The drawing surface of either canvas: ours, or streamlit-drawable-canvas's (a server of an
# older commit, driven with --url, for a before/after comparison).
CANVAS = f"{OUR_CANVAS}, canvas.upper-canvas"
TOP1 = ".st-key-top1 h3"


def _keep_off_server_cores(server_cpus: set[int]) -> None:
    """Run this process (and the browsers it starts) on the cores the server does not use."""
    others = set(os.sched_getaffinity(0)) - server_cpus
    if others:
        os.sched_setaffinity(0, others)


def _server_cpus(pids: list[int]) -> set[int]:
    return {cpu for pid in pids for cpu in os.sched_getaffinity(pid)} if pids else set()


async def _open(browser, url: str, timeout: float):
    """A Doodle page with its canvas shown, and the list its websocket's guesses go to."""
    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    guesses: list[tuple[float, str]] = []

    def frame(payload) -> None:
        if isinstance(payload, str):
            return
        message = ForwardMsg()
        message.ParseFromString(payload)
        if message.WhichOneof("type") == "delta" and \
                message.delta.WhichOneof("type") == "new_element":
            element = message.delta.new_element
            if element.WhichOneof("type") == "heading" and GUESS.search(element.heading.body):
                guesses.append((time.perf_counter(), element.heading.body))

    def sent(payload) -> None:
        if not isinstance(payload, str):
            message = BackMsg()
            message.ParseFromString(payload)
            if message.WhichOneof("type") == "rerun_script":
                page.reruns_sent += 1

    page.reruns_sent = 0  # to compare with the protocol client's one rerun per stroke

    def listen(ws) -> None:
        ws.on("framereceived", frame)
        ws.on("framesent", sent)

    page.on("websocket", listen)
    await page.goto(url + "/doodle")
    await page.locator(CANVAS).first.wait_for(timeout=max(timeout, 60) * 1000)
    return page, guesses


async def _session(page, guesses, seed: int, until: float, pause: tuple[float, float],
                   timeout: float, record) -> None:
    canvas = page.locator(CANVAS).first
    try:
        rng = random.Random(seed)
        await asyncio.sleep(rng.uniform(0, pause[1]))
        while time.perf_counter() < until:
            box = await canvas.bounding_box()
            scale = box["width"] / SIDE
            points = [(x * scale, y * scale) for x, y in stroke_points(rng)]
            await page.mouse.move(box["x"] + points[0][0], box["y"] + points[0][1])
            await page.mouse.down()
            for x, y in points[1:]:
                await page.mouse.move(box["x"] + x, box["y"] + y, steps=2)
            seen = len(guesses)
            start = time.perf_counter()
            await page.mouse.up()
            deadline = start + timeout
            while len(guesses) == seen and time.perf_counter() < deadline:
                await asyncio.sleep(0.005)
            if len(guesses) == seen:
                record(Outcome(None, "timeout"))
            else:
                text = guesses[seen][1]
                try:
                    await page.wait_for_function(
                        "([css, text]) => [...document.querySelectorAll(css)]"
                        ".some(h => h.innerText.trim() === text)", arg=[TOP1, text],
                        timeout=max(deadline - time.perf_counter(), 0.1) * 1000, polling=10)
                    record(Outcome(time.perf_counter() - start, "ok"))
                except Exception:  # the guess arrived but never showed
                    record(Outcome(None, "lost", f"not on screen: {text}"))
            await asyncio.sleep(rng.uniform(*pause))
    finally:
        await page.close()


async def _level(url: str, sessions: int, seconds: float, pause, timeout: float,
                 server_pids: list[int]) -> Level:
    from playwright.async_api import async_playwright

    level = Level(sessions)
    async with async_playwright() as playwright:
        browsers = [await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                    for _ in range(sessions)]  # one browser per user, as in a classroom
        opened = await asyncio.gather(*(_open(b, url, timeout) for b in browsers))
        level.idle_rate = await server_at_rest(server_pids)
        server_before = cpu_seconds(server_pids) if server_pids else None
        client_before = cpu_seconds([os.getpid()], leave_out=server_pids)
        reruns_before = sum(page.reruns_sent for page, _ in opened)
        start = time.perf_counter()
        results = await asyncio.gather(
            *(_session(page, guesses, i, start + seconds, pause, timeout, level.outcomes.append)
              for i, (page, guesses) in enumerate(opened)), return_exceptions=True)
        level.seconds = time.perf_counter() - start
        if server_pids:
            level.server_cpu = (cpu_seconds(server_pids) - server_before
                                - level.idle_rate * level.seconds)
            level.rss = rss_bytes(server_pids)
        level.client_cpu = cpu_seconds([os.getpid()], leave_out=server_pids) - client_before
        for result in results:
            if isinstance(result, BaseException):
                level.outcomes.append(Outcome(None, "error", repr(result)[:200]))
        reruns = sum(page.reruns_sent for page, _ in opened) - reruns_before
        for browser in browsers:
            await browser.close()
    level.details = sorted({f"{o.result}: {o.detail}" for o in level.outcomes
                            if o.result != "ok" and o.detail})
    level.details.append(f"the browsers sent {reruns} rerun requests for "
                         f"{len(level.outcomes)} strokes")
    return level


def warm_up_browser(url: str, timeout: float) -> None:
    """A first browser opens the home page (deep links work once app.py has run), then Doodle:
    its model is loaded before measuring."""
    async def visit():
        from playwright.async_api import async_playwright

        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM,
                                                       args=CHROMIUM_ARGS)
            page = await browser.new_page()
            await page.goto(url)
            await page.get_by_text("Vision Lab").first.wait_for(timeout=120_000)
            await page.goto(url + "/doodle")
            await page.locator(CANVAS).first.wait_for(timeout=120_000)
            await browser.close()
    asyncio.run(visit())


def run_browser_level(url: str, sessions: int, seconds: float, pause, timeout: float,
                      server_pids: list[int]) -> Level:
    """One level of `sessions` Chromium users drawing on Doodle for `seconds`; the time before
    the first stroke (browser start, page load) is not measured."""
    _keep_off_server_cores(_server_cpus(server_pids))
    return asyncio.run(_level(url, sessions, seconds, pause, timeout, server_pids))
