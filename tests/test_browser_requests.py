"""The page fetches nothing from outside the server: a classroom offline gets the whole app.

Every request the browser makes while a user goes through every page (a sample picked where
there is one) is recorded, and any that would leave the app's host is blocked and reported."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from browser_support import ROOT, running_app, wait_until_idle

pytestmark = pytest.mark.browser
SLOW = 90_000  # ms: the first use of each model loads it on a 2-core machine
PAGES = ["", "fashion", "doodle", "play", "flowers", "any_photo", "layers", "your_model",
         "model_report", "mistakes", "compare", "playground", "how_cnn_works", "class_board"]
PICK_A_SAMPLE = {"fashion", "flowers", "any_photo", "layers", "compare", "playground"}


@pytest.fixture(scope="module")
def app_url(browser):
    with running_app(browser, slow_ms=SLOW) as url:
        yield url


def test_every_request_of_every_page_goes_to_the_app_s_own_host(browser, app_url):
    host = urlsplit(app_url).netloc
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    requests: list[str] = []
    context.on("request", lambda request: requests.append(request.url))
    # anything bound elsewhere is stopped here, so the test never waits on a network timeout
    context.route(lambda url: urlsplit(url).netloc != host, lambda route: route.abort())
    page = context.new_page()
    try:
        for path in PAGES:
            page.goto(f"{app_url}/{path}", timeout=SLOW)
            page.locator("[data-testid='stMain'] h1").first.wait_for(timeout=SLOW)
            wait_until_idle(page, SLOW)
            if path in PICK_A_SAMPLE:
                page.get_by_text("Pick a sample", exact=True).first.click()
                wait_until_idle(page, SLOW)
            assert page.locator("[data-testid='stException']").count() == 0, path
        icon = page.locator("link[rel~='icon']").first.evaluate("link => link.href")
        reply = page.request.get(icon) if urlsplit(icon).netloc == host else None
        icon_type = reply.headers["content-type"] if reply else None
        icon_bytes = reply.body() if reply and reply.ok else b""
    finally:
        context.close()

    elsewhere = sorted({url for url in requests
                        if urlsplit(url).scheme in ("http", "https", "ws", "wss")
                        and urlsplit(url).netloc != host})
    assert elsewhere == []
    assert len(requests) > 50  # the recording saw the app's own files, scripts and media
    # the tab's icon is the image shipped in ui/, served by the app
    assert reply is not None, icon
    assert icon_type == "image/png"
    assert icon_bytes == (ROOT / "ui" / "page_icon.png").read_bytes()
