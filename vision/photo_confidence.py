"""When a Fashion model is out of its depth on a photo, and what the page should say about it.

The threshold is calibrated on `clothing_photos/train/` (never on `validation/`): below it, the
default model's top guess on training photos was right less than half of the time.
"""

from __future__ import annotations

import numpy as np

# Calibrated with `python -m vision.photo_confidence fashion_cnn` on clothing_photos/train/: the
# top guess was right on 0.477 of the 132 photos below 0.50, on 0.512 of the 213 below 0.55. Those
# photos were also trained on, so the model is, if anything, more sure there than on new photos.
LOW_CONFIDENCE = 0.5


def out_of_depth(probabilities: np.ndarray, labels: tuple[str, ...],
                 threshold: float = LOW_CONFIDENCE) -> str | None:
    """A plain sentence when the top probability is below `threshold`, else None."""
    order = np.argsort(probabilities)[::-1]
    top, second = int(order[0]), int(order[1])
    if float(probabilities[top]) >= threshold:
        return None
    return (f"The model is out of its depth here: its best guess, {labels[top]}, has only "
            f"{probabilities[top]:.0%}, and {labels[second]} is close behind "
            f"({probabilities[second]:.0%}). Treat it as a guess, not an answer.")


def calibrate(name: str, split: str = "train") -> list[tuple[float, float, int]]:
    """(threshold, accuracy of the guesses below it, how many) on a split of the clothing photos."""
    from vision.evaluate_photos import photo_list, prepare_photos
    from vision.models import Predictor

    photos = prepare_photos(photo_list(split))
    probabilities = Predictor.load(name).probabilities(photos.inputs)
    top = probabilities.max(axis=1)
    right = (probabilities.argmax(axis=1) == photos.labels) & ~photos.refused
    rows = []
    for threshold in np.arange(0.3, 0.95, 0.05):
        below = top < threshold
        rows.append((float(threshold), float(right[below].mean()) if below.any() else float("nan"),
                     int(below.sum())))
    return rows


if __name__ == "__main__":
    import sys

    model = sys.argv[1] if len(sys.argv) > 1 else "fashion_cnn"
    print(f"{model} on clothing_photos/train: accuracy of the top guess below each threshold")
    for threshold, accuracy, count in calibrate(model):
        print(f"  top probability < {threshold:.2f}: right {accuracy:.3f} of {count}")
