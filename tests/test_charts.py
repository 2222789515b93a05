"""The pictures and bars the pages draw (ui.charts), checked against an independent decoder."""

from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image

from ui.charts import inline_picture


def test_an_inline_picture_decodes_to_the_same_pixels():
    rng = np.random.default_rng(0)
    smooth = np.kron(rng.integers(0, 256, (7, 7, 3)), np.ones((40, 40, 1))).astype(np.uint8)
    url = inline_picture(smooth)
    assert url.startswith("data:image/jpeg;base64,")
    decoded = np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))))
    assert decoded.shape == smooth.shape
    # colours in the right channels (OpenCV writes BGR), within JPEG's loss
    assert np.abs(decoded.astype(int) - smooth).mean() < 3
    grey = inline_picture(smooth[..., 0])
    assert np.asarray(Image.open(io.BytesIO(base64.b64decode(grey.split(",", 1)[1])))).ndim == 2
