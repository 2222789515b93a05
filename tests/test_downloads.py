"""Take it home: the files behind the download buttons (PNG heat maps, top-k CSV, figure PNGs)."""

from __future__ import annotations

import csv
import io

import numpy as np
import plotly.graph_objects as go
from PIL import Image

from ui import downloads


def test_heat_map_png_decodes_to_the_same_pixels():
    rng = np.random.default_rng(0)
    overlay = rng.integers(0, 256, (40, 30, 3), dtype=np.uint8)
    data = downloads.png_bytes(overlay)
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(data))), overlay)
    grey = downloads.png_bytes(overlay[..., :1])
    assert Image.open(io.BytesIO(grey)).mode == "L"


def test_top_k_csv_lists_the_most_probable_classes_first():
    labels = ("cat", "dog, big", "bird", "fish")
    rows = list(csv.reader(io.StringIO(
        downloads.top_k_csv(labels, np.array([0.1, 0.6, 0.05, 0.25]), k=3).decode())))
    assert rows == [["rank", "class", "probability"], ["1", "dog, big", "0.600000"],
                    ["2", "fish", "0.250000"], ["3", "cat", "0.100000"]]
    assert len(downloads.top_k_csv(labels, np.ones(4) / 4, k=10).decode().splitlines()) == 5


def test_plotly_figure_exports_as_png_through_kaleido_and_chromium():
    assert downloads.can_export_png()  # kaleido is a requirement; test.sh installs Chromium
    figure = go.Figure(go.Bar(x=["a", "b"], y=[1, 2]))
    figure.update_layout(width=300, height=200)
    data = downloads.figure_png(figure)
    image = Image.open(io.BytesIO(data))
    image.load()
    assert image.format == "PNG" and image.size == (600, 400)  # scale 2

