"""Two app replicas behind Debian's nginx (`deploy.replicas`, serving deploy/nginx.conf): two
browsers, routed to different replicas, each get their guess through nginx, and every request of
a browser (page, scripts, media, upload, websocket) reaches its own replica."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from browser_support import ROOT, wait_until_idle
from deploy import replicas
from vision.processes import alive, descendants

SLOW = 120_000  # ms: two servers loading their models on two cores


def replica_of(context, url: str) -> str:
    """The replica nginx routes this browser context to (it says so in a header)."""
    return context.request.get(f"{url}/_stcore/health").headers["x-vision-lab-replica"]


def test_the_nginx_configuration_passes_nginx_t_with_the_local_upstream(tmp_path):
    tmp_path.chmod(0o755)
    main = replicas.write_config(tmp_path, 18080, [18501, 18502, 18503])
    assert "test is successful" in replicas.check_config(replicas.nginx_binary(), main)
    served = (tmp_path / "vision_lab.conf").read_text()
    assert "app:8501" not in served and "listen 127.0.0.1:18080;" in served
    assert [f"server 127.0.0.1:{port}" in served for port in (18501, 18502, 18503)] == [True] * 3


@pytest.mark.browser
def test_two_browsers_on_two_replicas_get_their_guesses_through_nginx(browser):
    with replicas.running(2) as started:
        first = browser.new_context(viewport={"width": 1280, "height": 1000})
        second = browser.new_context(viewport={"width": 1280, "height": 1000})
        on_first = replica_of(first, started.url)  # nginx gives the context its route cookie
        for attempt in range(64):  # a route that nginx sends to the other replica
            second.clear_cookies()
            second.add_cookies([{"name": "vision_lab_route", "value": f"route-{attempt}",
                                 "url": started.url}])
            if replica_of(second, started.url) != on_first:
                break
        on_second = replica_of(second, started.url)
        assert on_first != on_second
        assert {on_first, on_second} == {u.removeprefix("http://") for u in started.replica_urls}

        fashion, flowers = first.new_page(), second.new_page()
        fashion.goto(f"{started.url}/fashion", timeout=SLOW)
        flowers.goto(f"{started.url}/flowers", timeout=SLOW)
        fashion.get_by_text("Pick a sample", exact=True).first.click(timeout=SLOW)
        flowers.get_by_text("Upload a photo", exact=True).first.click(timeout=SLOW)
        wait_until_idle(flowers, SLOW)
        flowers.locator("[data-testid='stFileUploader'] input[type='file']").first.set_input_files(
            str(ROOT / "samples" / "photos" / "flower.jpg"))
        for page in (fashion, flowers):
            page.locator(".st-key-top1 h3").first.wait_for(timeout=SLOW)
            wait_until_idle(page, SLOW)
            assert page.locator("[data-testid='stException']").count() == 0
        guesses = [page.locator(".st-key-top1 h3").first.inner_text() for page in (fashion, flowers)]
        first.close()
        second.close()  # closes the websockets: nginx logs a websocket when it has ended
        deadline = time.time() + 20
        while time.time() < deadline:
            routes = started.routes()
            if sum("/_stcore/stream" in request for _, _, request in routes) >= 2:
                break
            time.sleep(0.5)
    assert all("%" in guess for guess in guesses), guesses  # "Class - 97.3%" on both pages
    by_replica = {}
    for route, replica, request in routes:
        by_replica.setdefault(route, set()).add(replica)
    assert all(len(answered) == 1 for answered in by_replica.values()), by_replica  # sticky
    streams = {replica for _, replica, request in routes if "/_stcore/stream" in request}
    uploads = {replica for _, replica, request in routes if "/_stcore/upload_file/" in request}
    assert streams == {on_first, on_second}  # each browser's websocket on its own replica
    assert uploads == {on_second}


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_stopping_deploy_replicas_stops_its_replicas_and_nginx(stop):
    """`python -m deploy.replicas` stopped by a plain `kill` (SIGTERM), or interrupted while
    started in the background (a shell ignores SIGINT there), leaves no replica or nginx behind:
    Python's default for SIGTERM would end it without stopping them."""
    port = replicas.free_port()
    parent = subprocess.Popen(
        [sys.executable, "-m", "deploy.replicas", "--replicas", "1", "--port", str(port)],
        cwd=ROOT, env=dict(os.environ, VISION_LAB_PRELOAD="0"), stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))  # as `cmd &` starts it
    try:
        assert "Vision Lab at" in parent.stdout.readline()  # printed once nginx answers
        started = descendants(parent.pid)[1:]
        assert len(started) >= 3  # the replica, nginx and its worker
        parent.send_signal(stop)
        assert parent.wait(timeout=60) == 0
        time.sleep(0.5)
        assert [pid for pid in started if alive(pid)] == []
        with pytest.raises(OSError):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2)
    finally:
        if parent.poll() is None:
            parent.kill()
