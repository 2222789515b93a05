"""How well the Doodle model reads drawings in other styles: `python -m vision.benchmark_styles`.

Every drawing of the Quick, Draw! test split is drawn again in six styles (`vision.sketches`:
one-pixel thin lines, thick marker, faint grey pencil, a phone photo of paper at JPEG quality 60,
small in a corner, rotated by +-15 degrees), encoded as an uploaded file (PNG, or JPEG for the
photo) and sent through the upload path: `decode_image` -> doodle preprocessing -> model. Prints
the accuracy per style (a refused drawing counts as wrong), the refusals, the test-split accuracy
on the dataset's own 28x28 images, and how often random scribbles and short dashes get an answer
with at least 0.8 confidence. Prints figures only.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from vision import data as datasets  # noqa: E402
from vision.errors import InvalidImageError  # noqa: E402
from vision.images import decode_image  # noqa: E402
from vision.preprocess import preprocess  # noqa: E402
from vision.sketches import STYLES, centre_lines, scribble, style_image  # noqa: E402

CONFIDENT = 0.8
SCRIBBLE_SEED = 2024  # the augmentation's outliers use other seeds and another generator


def encode(rgb: np.ndarray, style: str) -> bytes:
    """The file a user would upload: the paper photo as a JPEG at quality 60, the rest as PNG."""
    buffer = io.BytesIO()
    if style == "paper_photo":
        Image.fromarray(rgb).save(buffer, format="JPEG", quality=60)
    else:
        Image.fromarray(rgb).save(buffer, format="PNG")
    return buffer.getvalue()


def through_upload_path(payload: bytes) -> np.ndarray | None:
    """The model input the app makes of an uploaded file, or None when the app refuses it."""
    try:
        return preprocess("doodle", decode_image(payload)).model_input
    except InvalidImageError:
        return None


def per_class_limit(y: np.ndarray, limit: int | None) -> np.ndarray:
    """Indices of the first `limit` test drawings of each class (all of them when None)."""
    if limit is None:
        return np.arange(len(y))
    return np.sort(np.concatenate([np.flatnonzero(y == c)[:limit] for c in np.unique(y)]))


def run(model_name: str = "doodle_cnn", limit: int | None = None, scribbles: int = 500,
        out=sys.stdout) -> dict:
    """Measure and print the table; returns the figures as a dict."""
    from vision.models import Predictor

    predictor = Predictor.load(model_name)
    labels = predictor.labels
    test = datasets.load_doodles().test
    keep = per_class_limit(test.y, limit)
    x, y = test.x[keep], test.y[keep].astype(int)
    print(f"{model_name}: {len(keep)} Quick, Draw! test drawings, {len(STYLES)} styles, "
          "each as an uploaded file through decode_image -> doodle preprocessing -> model", file=out)

    clean = predictor.probabilities(x[..., None].astype(np.float32)).argmax(1)
    figures = {"test_accuracy": float(np.mean(clean == y)), "styles": {}}
    per_class_clean = [float(np.mean(clean[y == c] == c)) for c in range(len(labels))]

    start = time.time()
    lines = [centre_lines(image) for image in x]
    print(f"| style | accuracy | refused | worst class |", file=out)
    print(f"|---|---:|---:|---|", file=out)
    for style in STYLES:
        inputs, ok = [], []
        for index, drawing in enumerate(lines):
            model_input = through_upload_path(encode(style_image(drawing, style, index), style))
            ok.append(model_input is not None)
            inputs.append(model_input if model_input is not None else np.zeros((28, 28, 1), np.float32))
        ok = np.array(ok)
        predicted = predictor.probabilities(np.stack(inputs)).argmax(1)
        right = (predicted == y) & ok
        per_class = [float(np.mean(right[y == c])) for c in range(len(labels))]
        worst = int(np.argmin(per_class))
        figures["styles"][style] = {"accuracy": float(right.mean()), "refused": int((~ok).sum()),
                                    "per_class": dict(zip(labels, per_class))}
        print(f"| {style} | {right.mean():.3f} | {int((~ok).sum())} | "
              f"{labels[worst]} {per_class[worst]:.3f} |", file=out, flush=True)
    figures["refused"] = sum(s["refused"] for s in figures["styles"].values())

    rng = np.random.default_rng(SCRIBBLE_SEED)
    confident = refused = 0
    for _ in range(scribbles):
        model_input = through_upload_path(encode(scribble(rng), "scribble"))
        if model_input is None:
            refused += 1
        elif predictor.probabilities(model_input).max() >= CONFIDENT:
            confident += 1
    figures["scribbles_confident"] = confident / max(1, scribbles)
    print(f"\ntest split (the dataset's own 28x28 images): accuracy {figures['test_accuracy']:.4f}; "
          "per class " + ", ".join(f"{l} {a:.3f}" for l, a in zip(labels, per_class_clean)), file=out)
    print(f"refusals of non-empty drawings: {figures['refused']} of {len(keep) * len(STYLES)}",
          file=out)
    print(f"random scribbles and dashes: {confident} of {scribbles} ({figures['scribbles_confident']:.1%})"
          f" answered with >= {CONFIDENT} confidence, {refused} refused", file=out)
    print(f"({time.time() - start:.0f} s)", file=out)
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m vision.benchmark_styles",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="doodle_cnn")
    parser.add_argument("--limit", type=int, help="at most this many test drawings per class")
    parser.add_argument("--scribbles", type=int, default=500)
    args = parser.parse_args(argv)
    run(args.model, args.limit, args.scribbles)


if __name__ == "__main__":
    main()
