"""What the model sees: turn a decoded image into exactly the input a model expects."""

from __future__ import annotations

import cv2
import numpy as np


def photo_to_square(rgb: np.ndarray, size: int = 224) -> np.ndarray:
    """Resize so the shorter side is `size`, then crop the centre square: (size, size, 3) uint8."""
    height, width = rgb.shape[:2]
    scale = size / min(height, width)
    new_w, new_h = max(size, round(width * scale)), max(size, round(height * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    resized = cv2.resize(rgb, (new_w, new_h), interpolation=interpolation)
    top, left = (new_h - size) // 2, (new_w - size) // 2
    return np.ascontiguousarray(resized[top:top + size, left:left + size])
