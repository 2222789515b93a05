"""Stroke end to new guess in one real browser, timed inside the page: `python -m tests.stroke_latency`.

Headless Chromium (Debian's) draws strokes on the Doodle canvas with the mouse; a script in the
page records, on the page's own clock, when the mouse button went up, when the canvas's rerun
request left on the websocket, when the server's first and last messages came back, and when the
top-1 heading changed. Nothing is pinned: the browser and the server share the machine's cores, as
on a teacher's laptop. Prints each stroke and p50 / p95 / max; asserts nothing (the load test,
`python -m tests.load --browsers`, measures the same with the server on its own core)."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from browser_support import CANVAS, CHROMIUM, CHROMIUM_ARGS, draw_stroke, running_app, wait_until_idle  # noqa: E402

RECORDER = """
window.__t = {send: [], recv: [], head: []};
const send = WebSocket.prototype.send;
WebSocket.prototype.send = function (d) { window.__t.send.push(performance.now()); return send.call(this, d); };
const Original = window.WebSocket;
window.WebSocket = function (...a) {
  const ws = new Original(...a);
  ws.addEventListener('message', () => window.__t.recv.push(performance.now()));
  return ws;
};
window.WebSocket.prototype = Original.prototype;
Object.assign(window.WebSocket, Original);
new MutationObserver(() => {
  const h = document.querySelector('.st-key-top1 h3');
  const bars = document.querySelector('.vl-topk');
  const now = (h ? h.innerText : '') + (bars ? bars.innerHTML : '');
  if (now !== window.__last) { window.__last = now; window.__t.head.push(performance.now()); }
}).observe(document, {subtree: true, childList: true, characterData: true, attributes: true});
"""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--strokes", type=int, default=20)
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        with running_app(browser, slow_ms=60_000) as url:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.add_init_script(RECORDER)
            page.goto(f"{url}/doodle")
            canvas = page.locator(CANVAS).first
            canvas.wait_for(timeout=60_000)
            wait_until_idle(page)
            box = canvas.bounding_box()
            guesses, sends = [], []
            for i in range(args.strokes):
                page.evaluate("() => { window.__t = {send: [], recv: [], head: []}; }")
                angle = 2 * math.pi * i / args.strokes  # every stroke different: a fresh result
                points = [(160 + 100 * math.cos(angle + t), 160 + 100 * math.sin(angle + t))
                          for t in np.linspace(0, 1.5, 10)]
                draw_stroke(page, box, points, side=320)
                up = page.evaluate("() => performance.now()")
                page.wait_for_timeout(2000)  # a user's pause; everything has arrived by then
                t = page.evaluate("() => window.__t")
                sent = [s - up for s in t["send"] if s >= up - 50]
                shown = [h - up for h in t["head"] if h >= up - 50]
                recv = [r - up for r in t["recv"] if r >= up - 50]
                line = (f"stroke {i + 1:>2}: request sent {sent[0]:6.0f} ms, " if sent else
                        f"stroke {i + 1:>2}: no request, ")
                if recv:
                    line += f"answer {recv[0]:5.0f}-{recv[-1]:5.0f} ms, "
                line += f"new guess on screen {shown[-1]:6.0f} ms" if shown else "no new guess"
                print(line, flush=True)
                if sent:
                    sends.append(sent[0])
                if shown:
                    guesses.append(shown[-1])
            if guesses:
                g = np.array(guesses)
                print(f"stroke end -> new guess on screen: p50 {np.percentile(g, 50):.0f} ms, "
                      f"p95 {np.percentile(g, 95):.0f} ms, max {g.max():.0f} ms "
                      f"({len(g)} of {args.strokes} strokes); request sent p50 "
                      f"{np.percentile(sends, 50):.0f} ms after the mouse button went up")
            browser.close()


if __name__ == "__main__":
    main()
