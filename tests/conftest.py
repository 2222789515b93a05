import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
# AppTest runs app.py in this process: no background loading of every model behind the tests
# (the browser tests' server preloads, as the app does for its users).
os.environ.setdefault("VISION_LAB_PRELOAD", "0")


@pytest.fixture(scope="module")
def browser():
    """Debian's headless Chromium, one per test module (the browser tests' shared fixture)."""
    from playwright.sync_api import sync_playwright

    from browser_support import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
