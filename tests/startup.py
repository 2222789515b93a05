"""How long a cold server takes to a usable home page, and how much memory it holds once every
model is loaded: `python -m tests.startup [--runs N] [--tour]`.

Each run starts a fresh `streamlit run app.py` (the app's defaults: models preloaded in the
background) with Debian's headless Chromium already open, and times from the server's spawn:
- "health": `/_stcore/health` answers;
- "home title": the home page's first words are on screen;
- "home drawn": every model's card is drawn, down to its "Try it" link, and the run is over;
- "usable": after that, a click on "Your model" in the sidebar is answered (its title on screen;
  the page needs no model before an upload; "click answered in" is that click alone);
- "models preloaded": the home page's progress bar is gone (every model and heat map ready);
  until then, clicks from "Your model" to Home and back, each timed from the click to the page's
  first words: do they wait for the loading?
Then the server's resident memory (VmRSS, and its peak VmHWM, from /proc) and thread count.
`--tour` then picks a sample on Fashion, Flowers and Any photo, and prints the memory again.
Prints figures only; asserts nothing (figures taken on a busy machine are noisy).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from tests.browser_support import CHROMIUM, CHROMIUM_ARGS, ROOT, free_port, wait_until_idle
from vision.registry import MODELS

TIMEOUT_MS = 120_000


def process_memory(pid: int) -> dict[str, float]:
    """The process's resident memory now and at its peak (MB), and its thread count."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.split()[0] if value.split() else ""
    return {"RSS (MB)": int(fields["VmRSS"]) / 1024, "peak RSS (MB)": int(fields["VmHWM"]) / 1024,
            "threads": int(fields["Threads"])}


def wait_for_health(port: int, start: float, timeout: float = 120) -> float:
    """Seconds from `start` until the server's health check answers."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as reply:
                if reply.status == 200:
                    return time.perf_counter() - start
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("the server's health check never answered")


def cold_start(browser, tour: bool) -> dict[str, float]:
    """One fresh server: the seconds from its spawn to each milestone, then its memory."""
    port = free_port()
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    log = tempfile.NamedTemporaryFile(prefix="vision-lab-startup-", suffix=".log", delete=False)
    start = time.perf_counter()
    # Spawned here rather than by browser_support.start_server, which waits for health itself.
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true"],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        env=dict(os.environ, STREAMLIT_BROWSER_GATHER_USAGE_STATS="false", TF_CPP_MIN_LOG_LEVEL="3"))
    url = f"http://127.0.0.1:{port}"
    figures: dict[str, float] = {}
    try:
        figures["health"] = wait_for_health(port, start)
        page.goto(url)
        page.get_by_text("See what a convolutional network sees").wait_for(timeout=TIMEOUT_MS)
        figures["home title"] = time.perf_counter() - start
        page.wait_for_function(
            "(n) => [...document.querySelectorAll('[data-testid=stMain] a')]"
            ".filter(a => a.innerText.includes('Try it')).length === n", arg=len(MODELS),
            timeout=TIMEOUT_MS)
        page.locator("[data-testid='stStatusWidget']").wait_for(state="hidden", timeout=TIMEOUT_MS)
        figures["home drawn"] = time.perf_counter() - start
        click = time.perf_counter()
        page.locator("[data-testid=stSidebarNav] a[href$='/your_model']").click()
        page.locator("[data-testid=stMain] h1", has_text="Your model").wait_for(timeout=TIMEOUT_MS)
        figures["usable"] = time.perf_counter() - start
        figures["click answered in"] = time.perf_counter() - click
        answers = clicks_while_preloading(page, start)
        figures["models preloaded"] = time.perf_counter() - start
        figures["clicks while preloading"] = len(answers)
        figures["  their median answer"] = statistics.median(answers) if answers else 0.0
        figures["  their slowest answer"] = max(answers, default=0.0)
        time.sleep(1.0)
        figures.update(process_memory(server.pid))
        if tour:
            visit_pages(page, url)
            figures.update({f"{key} after tour": value
                            for key, value in process_memory(server.pid).items()})
    finally:
        page.close()
        server.kill()
        server.wait(timeout=20)
        log.close()
        Path(log.name).unlink()
    return figures


def clicks_while_preloading(page, start: float) -> list[float]:
    """Seconds each click takes to be answered while the models load in the background: from
    "Your model" (a page that needs no model before an upload) to Home and back, until the
    progress bar is gone from the home page."""
    answers = []
    deadline = time.perf_counter() + TIMEOUT_MS / 1000 * 3
    while time.perf_counter() < deadline:
        for link, answered in (("", "text=See what a convolutional network sees"),
                               ("your_model", "[data-testid=stMain] h1:has-text('Your model')")):
            click = time.perf_counter()
            page.locator(f"[data-testid=stSidebarNav] a[href$='/{link}']").click()
            page.locator(answered).first.wait_for(timeout=TIMEOUT_MS)
            answers.append(time.perf_counter() - click)
            if not link:  # on the home page: is its progress bar still there?
                page.wait_for_timeout(1500)  # the bar's fragment runs once a second
                if not page.locator("[data-testid=stProgress]").count():
                    return answers
    raise RuntimeError("the models were still loading after 6 minutes")


def visit_pages(page, url: str) -> None:
    """A sample on each photo page: each page's first prediction and heat map."""
    for path in ("fashion", "flowers", "any_photo"):
        page.goto(f"{url}/{path}")
        page.get_by_text("Pick a sample", exact=True).first.click(timeout=TIMEOUT_MS)
        page.locator(".st-key-top1 h3").first.wait_for(timeout=TIMEOUT_MS)
        wait_until_idle(page, TIMEOUT_MS)


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="fresh servers, one after another")
    parser.add_argument("--tour", action="store_true",
                        help="after the preloading, a prediction on each photo page, then memory again")
    args = parser.parse_args()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        runs = [cold_start(browser, args.tour) for _ in range(args.runs)]
        browser.close()
    print(f"cold start of `streamlit run app.py`, {args.runs} run(s), seconds from the spawn; "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    print(f"{'figure':<26}" + "".join(f"{f'run {n + 1}':>10}" for n in range(args.runs))
          + f"{'median':>10}")
    for key in runs[0]:
        values = [run[key] for run in runs]
        print(f"{key:<26}" + "".join(f"{value:>10.1f}" for value in values)
              + f"{statistics.median(values):>10.1f}")


if __name__ == "__main__":
    main()
