"""Teach the doodle model a new class from a few drawings, in a few seconds.

The doodle CNN is kept frozen: its global-average-pooled features (128 numbers a drawing) already
describe strokes, corners and curves. A new dense layer on them, with a tenth column for the new
class, is the new head; the old nine columns are the old head's, unchanged, so the old classes
keep their scores and the new column only has to learn when to win. That column is fitted on
the user's drawings, each augmented into many (jitter, scale, slant, stroke width), against a
bank of old-class features, by softmax cross-entropy (full-batch Adam on 129 numbers: well under a
second). The result is still GAP + one dense layer, so classic CAM works for the new class as
for the old ones, and it saves as a plain `.keras` file.

    taught = teach(load_model("doodle_cnn"), "house", drawings)   # drawings: 28x28 model inputs
    taught.model.predict(...)                                       # 10 classes

The feature bank (`weights/doodle_cnn_features.npz`, training-split features, not images) is
written by `python -m vision.teach` from the Quick, Draw! data.
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402

from vision.errors import DatasetMissingError, VisionLabError  # noqa: E402
from vision.registry import get_spec  # noqa: E402

BASE_MODEL = "doodle_cnn"  # the registered model a new class is taught to
MIN_EXAMPLES = 8
MAX_EXAMPLES = 40
AUGMENTED_PER_EXAMPLE = 40
BANK_PER_CLASS = 200
FEATURE_LAYER = "gap"
BANK_NAME = "doodle_cnn_features.npz"
CAM_LAYER = get_spec(BASE_MODEL).cam_layer  # the new class keeps the base model's CAM layer
SEED = 13


class TeachError(VisionLabError):
    """The new class cannot be taught yet (no name, too few drawings, a name already taken...)."""


@dataclass
class TaughtModel:
    """The doodle model with one more class."""

    model: keras.Model            # pixels -> ... -> gap -> Dense "logits" (10) -> "probabilities"
    labels: tuple[str, ...]
    new_class: str
    examples: int
    seconds: float

    @property
    def new_index(self) -> int:
        return len(self.labels) - 1


# ---------------------------------------------------------------- augmentation
def augment(image28: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """`count` variations of one 28x28 doodle (white on black, 0-255): rotated, scaled (not
    always the same way in x and y), slanted, shifted by a pixel or two, strokes thinner or
    thicker, then centred again as the doodle preprocessing does. uint8 (count, 28, 28)."""
    source = np.asarray(image28, np.float32).reshape(28, 28)
    out = np.empty((count, 28, 28), np.uint8)
    for i in range(count):
        angle = rng.uniform(-12, 12)
        scale = rng.uniform(0.85, 1.1)
        aspect = rng.uniform(0.85, 1.15)
        shear = rng.uniform(-0.15, 0.15)
        matrix = cv2.getRotationMatrix2D((13.5, 13.5), angle, scale)
        matrix[:, :2] = matrix[:, :2] @ np.array([[aspect, shear], [0.0, 1.0 / aspect]])
        centre = np.array([13.5, 13.5])
        matrix[:, 2] = centre - matrix[:, :2] @ centre + rng.uniform(-1.5, 1.5, 2)
        moved = cv2.warpAffine(source, matrix, (28, 28), flags=cv2.INTER_LINEAR, borderValue=0)
        width = rng.uniform()
        if width < 0.25:  # thicker strokes
            moved = cv2.dilate(moved, np.ones((2, 2), np.uint8))
        elif width < 0.4:  # thinner, fainter strokes
            moved = cv2.GaussianBlur(moved, (3, 3), 0.6) * 0.85
        out[i] = _recentre(np.clip(moved, 0, 255))
    return out


def _recentre(image: np.ndarray) -> np.ndarray:
    """Move the ink's bounding box back to the middle, as `doodle_from_canvas` leaves it."""
    mask = image > 40
    if not mask.any():
        return image.astype(np.uint8)
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    dy = 13.5 - (rows[0] + rows[-1]) / 2
    dx = 13.5 - (cols[0] + cols[-1]) / 2
    shift = np.float32([[1, 0, dx], [0, 1, dy]])
    return cv2.warpAffine(image.astype(np.float32), shift, (28, 28), borderValue=0).clip(0, 255) \
        .round().astype(np.uint8)


# ---------------------------------------------------------------- features
def feature_model(base: keras.Model) -> keras.Model:
    """The frozen doodle CNN up to its global average pooling (128 features a drawing)."""
    inputs = base.inputs[0]
    return keras.Model(inputs, base.get_layer(FEATURE_LAYER).output, name="doodle_features")


def features(extractor: keras.Model, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Features (N, 128) of 28x28 0-255 doodles (N, 28, 28) or (N, 28, 28, 1)."""
    images = np.asarray(images, np.float32).reshape(-1, 28, 28, 1)
    parts = [np.asarray(extractor(images[i:i + batch_size], training=False))
             for i in range(0, len(images), batch_size)]
    return np.concatenate(parts) if parts else np.zeros((0, extractor.output_shape[-1]), np.float32)


@dataclass(frozen=True)
class FeatureBank:
    """Features of old-class training doodles: what the new class must not take over."""

    features: np.ndarray  # float32 (N, 128)
    labels: np.ndarray    # int (N,)


def bank_path():
    from vision.registry import WEIGHTS_DIR

    return WEIGHTS_DIR / BANK_NAME


def load_bank() -> FeatureBank:
    """The shipped bank (weights/doodle_cnn_features.npz).

    Raises:
        DatasetMissingError: the file is missing; `python -m vision.teach` writes it.
    """
    path = bank_path()
    if not path.is_file():
        raise DatasetMissingError(
            "Teaching a new class needs the old classes' features (weights/doodle_cnn_features"
            ".npz). Write them with `python -m vision.teach`.")
    with np.load(path) as data:
        return FeatureBank(data["features"].astype(np.float32), data["labels"].astype(np.int64))


def write_bank(base: keras.Model, per_class: int = BANK_PER_CLASS, seed: int = SEED) -> FeatureBank:
    """Features of `per_class` training-split doodles of each old class, saved beside the weights."""
    from vision import data

    dataset = data.load_doodles()
    rng = np.random.default_rng(seed)
    rows = np.concatenate([rng.choice(np.flatnonzero(dataset.train.y == c), per_class,
                                      replace=False) for c in range(len(data.DOODLE_CLASSES))])
    extractor = feature_model(base)
    bank = FeatureBank(features(extractor, dataset.train.x[rows]),
                       dataset.train.y[rows].astype(np.int64))
    np.savez_compressed(bank_path(), features=bank.features.astype(np.float16), labels=bank.labels,
                        per_class=per_class, seed=seed)
    return bank


# ---------------------------------------------------------------- the new head
def fit_new_column(old_kernel: np.ndarray, old_bias: np.ndarray, positives: np.ndarray,
                   bank: FeatureBank, steps: int = 400, learning_rate: float = 0.05,
                   l2: float = 1e-3, seed: int = SEED) -> tuple[np.ndarray, float]:
    """The weights (128,) and bias of the new class's logit, old logits fixed.

    Softmax cross-entropy over the 10 classes, each class weighted to the same total (the new
    class's drawings as much as each old class's), full-batch Adam."""
    x = np.concatenate([bank.features, positives]).astype(np.float64)
    y = np.concatenate([bank.labels, np.full(len(positives), old_kernel.shape[1])])
    classes = old_kernel.shape[1] + 1
    counts = np.bincount(y, minlength=classes).astype(np.float64)
    sample_weight = (1.0 / counts[y]) / classes
    old_logits = x @ old_kernel + old_bias
    rng = np.random.default_rng(seed)
    w = rng.normal(0, 0.01, x.shape[1])
    b = float(old_logits.max(axis=1).mean())  # start level with the old classes
    m, v = np.zeros(x.shape[1] + 1), np.zeros(x.shape[1] + 1)
    is_new = (y == classes - 1).astype(np.float64)
    for step in range(1, steps + 1):
        new = x @ w + b
        logits = np.concatenate([old_logits, new[:, None]], axis=1)
        logits -= logits.max(axis=1, keepdims=True)
        p_new = np.exp(logits[:, -1]) / np.exp(logits).sum(axis=1)
        error = (p_new - is_new) * sample_weight
        gradient = np.concatenate([x.T @ error + l2 * w, [error.sum()]])
        m = 0.9 * m + 0.1 * gradient
        v = 0.999 * v + 0.001 * gradient ** 2
        update = learning_rate * (m / (1 - 0.9 ** step)) / (np.sqrt(v / (1 - 0.999 ** step)) + 1e-8)
        w -= update[:-1]
        b -= float(update[-1])
    return w.astype(np.float32), float(b)


def check_request(name: str, examples: list, labels: tuple[str, ...]) -> str:
    """The cleaned class name; TeachError with a plain message when it cannot be taught."""
    name = " ".join(str(name or "").split())
    if not name:
        raise TeachError("Give the new thing a name first (e.g. house).")
    if len(name) > 30:
        raise TeachError("Keep the name short: 30 letters at most.")
    if name.lower() in (label.lower() for label in labels):
        raise TeachError(f"The model already knows {name!r}: pick a new thing to teach.")
    if len(examples) < MIN_EXAMPLES:
        raise TeachError(f"Draw at least {MIN_EXAMPLES} examples of {name} "
                         f"({len(examples)} so far).")
    return name


def teach(base: keras.Model, name: str, examples: list[np.ndarray],
          labels: tuple[str, ...] | None = None, bank: FeatureBank | None = None,
          seed: int = SEED) -> TaughtModel:
    """A new 10-class model: `base` (the doodle CNN, frozen, its layers shared) with a new head.

    Args:
        base: the doodle CNN (ends in gap -> dropout -> Dense "logits" -> softmax).
        name: the new class.
        examples: at least MIN_EXAMPLES 28x28 doodles (model inputs, 0-255).
        labels: the base model's class names (default: the Quick, Draw! classes).
        bank: old-class features (default: the shipped bank).
    Raises:
        TeachError: no name, a name already taken, too few drawings.
        DatasetMissingError: no feature bank.
    """
    from vision.data import DOODLE_CLASSES

    labels = tuple(labels or DOODLE_CLASSES)
    name = check_request(name, examples, labels)
    start = time.perf_counter()
    bank = bank or load_bank()
    drawings = [np.asarray(e, np.float32).reshape(28, 28) for e in examples[:MAX_EXAMPLES]]
    positives = np.concatenate(example_features(base, drawings, seed))
    old = base.get_layer("logits")
    old_kernel, old_bias = (np.asarray(v) for v in old.get_weights())
    w, b = fit_new_column(old_kernel, old_bias, positives, bank, seed=seed)
    model = with_new_head(base, np.concatenate([old_kernel, w[:, None]], axis=1),
                          np.concatenate([old_bias, [b]]).astype(np.float32))
    return TaughtModel(model, (*labels, name), name, len(drawings), time.perf_counter() - start)


def example_features(base: keras.Model, drawings: list[np.ndarray], seed: int = SEED) -> list[np.ndarray]:
    """For each drawing, the features of itself and its AUGMENTED_PER_EXAMPLE variations."""
    rng = np.random.default_rng(seed)
    extractor = feature_model(base)
    return [features(extractor, np.concatenate([np.asarray(d, np.uint8).reshape(1, 28, 28),
                                                augment(d, AUGMENTED_PER_EXAMPLE, rng)]))
            for d in drawings]


def leave_one_out(base: keras.Model, examples: list[np.ndarray], bank: FeatureBank | None = None,
                  seed: int = SEED) -> tuple[int, int]:
    """How many of the user's drawings the new class recognises when each one in turn is held
    back from teaching: (recognised, drawings)."""
    bank = bank or load_bank()
    per_example = example_features(base, examples, seed)
    old_kernel, old_bias = (np.asarray(v) for v in base.get_layer("logits").get_weights())
    recognised = 0
    for i, held in enumerate(per_example):
        others = np.concatenate([f for j, f in enumerate(per_example) if j != i])
        w, b = fit_new_column(old_kernel, old_bias, others, bank, seed=seed)
        clean = held[0]  # the drawing itself, not its variations
        recognised += int(clean @ w + b > float(np.max(clean @ old_kernel + old_bias)))
    return recognised, len(per_example)


def accuracy(features_: np.ndarray, labels: np.ndarray, kernel: np.ndarray, bias: np.ndarray) -> float:
    """Share of feature vectors whose highest logit (features @ kernel + bias) is their label."""
    return float(np.mean(np.argmax(features_ @ kernel + bias, axis=1) == labels))


def with_new_head(base: keras.Model, kernel: np.ndarray, bias: np.ndarray) -> keras.Model:
    """`base` up to its global average pooling, then Dense "logits" + softmax "probabilities"."""
    logits_layer = keras.layers.Dense(kernel.shape[1], name="logits")
    logits = logits_layer(base.get_layer(FEATURE_LAYER).output)
    logits_layer.set_weights([kernel.astype(np.float32), bias.astype(np.float32)])
    probabilities = keras.layers.Activation("softmax", name="probabilities")(logits)
    return keras.Model(base.inputs[0], probabilities, name="doodle_cnn_taught")


def predictions(model: keras.Model, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """argmax class of each 28x28 doodle."""
    images = np.asarray(images, np.float32).reshape(-1, 28, 28, 1)
    return np.concatenate([np.argmax(np.asarray(model(images[i:i + batch_size], training=False)),
                                     axis=1) for i in range(0, len(images), batch_size)])


def main() -> None:
    parser = argparse.ArgumentParser(description="Write the old-class feature bank used to "
                                                 "teach the doodle model a new class.")
    parser.add_argument("--per-class", type=int, default=BANK_PER_CLASS)
    args = parser.parse_args()
    from vision.models import load_model

    start = time.perf_counter()
    bank = write_bank(load_model(BASE_MODEL), args.per_class)
    print(f"{bank_path()}: {len(bank.labels)} feature vectors of {bank.features.shape[1]} "
          f"numbers in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
