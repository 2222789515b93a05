"""Take it home: download buttons for what a page shows (heat maps, top-k tables, figures).

Pages call one function, one line each: `heatmap_downloads` wherever a heat map is shown,
`figure_download` under a Plotly figure. Files are made in memory, never on disk.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import re
import shutil
from typing import Sequence

import numpy as np
import streamlit as st
from PIL import Image

log = logging.getLogger("vision_lab")
CHROMIUM_PATHS = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")


def png_bytes(image: np.ndarray) -> bytes:
    """A uint8 (H, W) or (H, W, 3) picture as PNG bytes."""
    pixels = np.asarray(image)
    if pixels.dtype != np.uint8:
        pixels = np.clip(np.rint(pixels), 0, 255).astype(np.uint8)
    if pixels.ndim == 3 and pixels.shape[-1] == 1:
        pixels = pixels[..., 0]
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def top_k_csv(labels: Sequence[str], probabilities: np.ndarray, k: int = 5) -> bytes:
    """The k most probable classes as CSV: rank, class, probability (most probable first)."""
    probabilities = np.asarray(probabilities, dtype=float)
    order = np.argsort(-probabilities, kind="stable")[:max(1, min(k, len(probabilities)))]
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["rank", "class", "probability"])
    for rank, index in enumerate(order, start=1):
        writer.writerow([rank, labels[index], f"{probabilities[index]:.6f}"])
    return text.getvalue().encode("utf-8")


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower() or "image"


def heatmap_downloads(overlay: np.ndarray, labels: Sequence[str], probabilities: np.ndarray,
                      key: str, name: str = "heatmap", k: int = 5) -> None:
    """Two buttons side by side: the picture with its heat map (PNG) and the top-k (CSV).

    The files are made when a button is clicked (Streamlit's deferred downloads), not on every
    run: a doodle's every stroke used to encode a PNG nobody downloaded."""
    picture, table = st.columns(2)
    labels, probabilities = list(labels), np.array(probabilities)  # as they are now
    picture.download_button("Heat map (PNG)", lambda: png_bytes(overlay), f"{_slug(name)}.png",
                            "image/png", key=f"{key}_png", on_click="ignore",
                            icon=":material/download:")
    table.download_button(f"Top {min(k, len(labels))} (CSV)",
                          lambda: top_k_csv(labels, probabilities, k),
                          f"{_slug(name)}_top{min(k, len(labels))}.csv", "text/csv",
                          key=f"{key}_csv", on_click="ignore", icon=":material/download:")


def chromium_path() -> str | None:
    """A Chromium kaleido can drive: $BROWSER_PATH, else Debian's, else one on the PATH."""
    given = os.environ.get("BROWSER_PATH")
    if given and os.path.isfile(given):
        return given
    found = next((path for path in CHROMIUM_PATHS if os.path.isfile(path)), None)
    return found or shutil.which("chromium") or shutil.which("google-chrome")


def can_export_png() -> bool:
    """Whether Plotly can write PNGs here: kaleido (v1) is installed and a Chromium is found."""
    try:
        import kaleido  # noqa: F401
    except ImportError:
        return False
    return chromium_path() is not None


def figure_png(figure) -> bytes:
    """A Plotly figure as PNG, through kaleido and the Chromium it is pointed at (BROWSER_PATH)."""
    path = chromium_path()
    if path:
        os.environ.setdefault("BROWSER_PATH", path)  # kaleido's browser finder reads it
    return figure.to_image(format="png", scale=2)


def figure_download(figure, name: str, key: str, container=None) -> None:
    """A button under a figure: PNG via kaleido when it can run here, else a standalone HTML file
    (the figure, still interactive; plotly.js inlined, so it works offline). The PNG is made only
    when the button is clicked (a few seconds: kaleido starts a headless Chromium)."""
    if can_export_png():
        def make_png() -> bytes:
            try:
                return figure_png(figure)
            except Exception:  # the browser failed after all: an empty file, and the log says why
                log.exception("kaleido could not export %s", name)
                return b""

        (container or st).download_button("Figure (PNG)", make_png, f"{_slug(name)}.png", "image/png",
                           key=key, on_click="ignore", icon=":material/download:")
    else:
        html = figure.to_html(include_plotlyjs=True, full_html=True).encode("utf-8")
        (container or st).download_button("Figure (HTML)", html, f"{_slug(name)}.html", "text/html",
                           key=key, on_click="ignore", icon=":material/download:",
                           help="PNG export needs kaleido and a Chromium; this HTML file opens "
                                "in any browser.")
