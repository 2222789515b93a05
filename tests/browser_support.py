"""A real `streamlit run` server and Debian's headless Chromium, for the end-to-end tests."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
# Chromium's background services try to reach Google; on a closed network they only add noise.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]


def wait_until_idle(page, timeout_ms: int = 60_000) -> None:
    """Wait for the script run to finish (Streamlit shows a status widget while running) and for
    any spinner to go."""
    page.wait_for_timeout(300)
    page.locator("[data-testid='stStatusWidget']").wait_for(state="hidden", timeout=timeout_ms)
    page.wait_for_function("() => !document.querySelector('[data-testid=stSpinner]')",
                           timeout=timeout_ms)


CANVAS = "canvas.drawing-canvas"  # ui/canvas.py's canvas (Playwright's CSS pierces its shadow root)


def draw_stroke(page, box, points, side: float | None = None) -> None:
    """Draw one stroke with the mouse through `points`: pixels from the top left of `box`, or,
    with `side`, the canvas's logical coordinates (0..side) scaled to the size it is shown at."""
    scale = 1.0 if side is None else box["width"] / side
    page.mouse.move(box["x"] + points[0][0] * scale, box["y"] + points[0][1] * scale)
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(box["x"] + x * scale, box["y"] + y * scale, steps=2)
    page.mouse.up()


def touch_stroke(page, box, points, side: float | None = None) -> None:
    """One finger stroke, as a phone's touch screen sends it (Chrome DevTools touch events, which
    the page receives as pointer events of type "touch"); `points` as in `draw_stroke`."""
    scale = 1.0 if side is None else box["width"] / side
    session = page.context.new_cdp_session(page)
    at = [{"x": box["x"] + x * scale, "y": box["y"] + y * scale} for x, y in points]
    session.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [at[0]]})
    for point in at[1:]:
        session.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [point]})
    session.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    session.detach()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int, preload: bool = True, timeout: float = 90,
                 env: dict[str, str] | None = None, cpus: str | None = None,
                 root: Path = ROOT) -> subprocess.Popen:
    """Start the app on localhost and wait until its health check answers. `preload` False
    turns the background loading of the models off (VISION_LAB_PRELOAD=0); `env` adds
    environment variables (e.g. the class board's database); `cpus` pins the server to these
    cores (`taskset -c`, which then runs as the server's own process: same pid); `root` is the
    folder whose app.py runs (a copy of the project, e.g. the Docker image's files).

    The server's output goes to a log file (its path is `process.log_path`), never to a pipe:
    a pipe nobody reads fills up, and the server then hangs in its next log call."""
    env = dict(os.environ, STREAMLIT_BROWSER_GATHER_USAGE_STATS="false", TF_CPP_MIN_LOG_LEVEL="3",
               VISION_LAB_PRELOAD="1" if preload else "0", **(env or {}))
    log = tempfile.NamedTemporaryFile(prefix="vision-lab-server-", suffix=".log", delete=False)
    with log:
        process = subprocess.Popen(
            (["taskset", "-c", cpus] if cpus else [])
            + [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
             "--server.address", "127.0.0.1", "--server.headless", "true"],
            cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    process.log_path = Path(log.name)
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError("streamlit exited: " + process.log_path.read_text()[-2000:])
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return process
        except OSError:
            time.sleep(0.5)
    process.kill()
    raise RuntimeError(f"streamlit did not start in time; its log: {process.log_path}")


@contextlib.contextmanager
def running_app(browser, preload: bool = True, slow_ms: int = 60_000):
    """A real server for one test module, its URL yielded once a first session has run app.py:
    until then Streamlit would serve a deep link such as /doodle as a plain pages/ script (users
    arrive at the home page first). The server's last log lines are printed (shown on failure)."""
    port = free_port()
    server = start_server(port, preload=preload)
    url = f"http://127.0.0.1:{port}"
    try:
        first = browser.new_page()
        first.goto(url)
        first.get_by_text("Vision Lab").first.wait_for(timeout=slow_ms)
        first.close()
        yield url
    finally:
        server.kill()
        server.wait(timeout=20)
        print("server log, last lines:\n" + server.log_path.read_text()[-3000:])
        server.log_path.unlink()
