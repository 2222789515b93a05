"""Tiny models built in code (seconds, no weights files), following the project's conventions:
raw 0-255 input -> Rescaling -> ... -> Dense "logits" -> Activation softmax "probabilities"."""

from __future__ import annotations

import keras
import numpy as np
from keras import layers

SEED = 7


def _head(x, num_classes: int):
    logits = layers.Dense(num_classes, name="logits")(x)
    return layers.Activation("softmax", name="probabilities")(logits)


def gap_cnn(num_classes: int = 4, size: int = 24, channels: int = 1) -> keras.Model:
    """conv -> BN -> ReLU, pool, conv (built-in ReLU), GAP, dropout, logits: CAM applies."""
    keras.utils.set_random_seed(SEED)
    inputs = keras.Input((size, size, channels), name="pixels")
    x = layers.RandomFlip("horizontal", name="augment_flip")(inputs)
    x = layers.Rescaling(1 / 255, name="normalise")(x)
    x = layers.Conv2D(8, 3, padding="same", use_bias=False, name="conv1")(x)
    x = layers.BatchNormalization(name="conv1_bn")(x)
    x = layers.ReLU(name="conv1_relu")(x)
    x = layers.MaxPooling2D(name="pool1")(x)
    x = layers.Conv2D(16, 3, padding="same", activation="relu", name="conv2")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    x = layers.Dropout(0.2, name="head_dropout")(x)
    return keras.Model(inputs, _head(x, num_classes), name="gap_cnn")


def dense_head_cnn(num_classes: int = 4, size: int = 24) -> keras.Model:
    """A CNN with a hidden dense layer after GAP: Grad-CAM only, CAM must refuse it."""
    keras.utils.set_random_seed(SEED)
    inputs = keras.Input((size, size, 1), name="pixels")
    x = layers.Rescaling(1 / 255, name="normalise")(inputs)
    x = layers.Conv2D(8, 3, padding="same", activation="relu", name="conv1")(x)
    x = layers.AveragePooling2D(2, name="pool1")(x)
    x = layers.Conv2D(16, 3, padding="same", activation="relu", name="conv2")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    x = layers.Dense(12, activation="relu", name="dense_hidden")(x)
    return keras.Model(inputs, _head(x, num_classes), name="dense_head_cnn")


def sequential_cnn(num_classes: int = 3, size: int = 20) -> keras.Model:
    """A keras.Sequential model (keras-io's Grad-CAM breaks on these in Keras 3)."""
    keras.utils.set_random_seed(SEED)
    return keras.Sequential([
        keras.Input((size, size, 1), name="pixels"),
        layers.Rescaling(1 / 255, name="normalise"),
        layers.Conv2D(8, 3, padding="same", activation="relu", name="conv1"),
        layers.MaxPooling2D(name="pool1"),
        layers.Conv2D(8, 3, padding="same", activation="relu", name="conv2"),
        layers.Flatten(name="flatten"),
        layers.Dense(num_classes, name="logits"),
        layers.Activation("softmax", name="probabilities"),
    ], name="sequential_cnn")


def mlp(num_classes: int = 4, size: int = 12) -> keras.Model:
    """No conv layer at all: no heat map, no feature maps."""
    keras.utils.set_random_seed(SEED)
    inputs = keras.Input((size, size, 1), name="pixels")
    x = layers.Rescaling(1 / 255, name="normalise")(inputs)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(16, activation="relu", name="dense_16")(x)
    return keras.Model(inputs, _head(x, num_classes), name="mlp")


def flat_transfer(num_classes: int = 3, size: int = 96) -> keras.Model:
    """MobileNetV2 (alpha 0.35, random weights: nothing downloaded) built flat on our own input."""
    keras.utils.set_random_seed(SEED)
    inputs = keras.Input((size, size, 3), name="pixels")
    x = layers.Rescaling(1 / 127.5, offset=-1, name="normalise")(inputs)
    backbone = keras.applications.MobileNetV2(input_tensor=x, include_top=False, weights=None,
                                              alpha=0.35)
    x = layers.GlobalAveragePooling2D(name="gap")(backbone.output)
    return keras.Model(inputs, _head(x, num_classes), name="flat_transfer")


def random_images(count: int, shape: tuple[int, ...], seed: int = SEED) -> np.ndarray:
    """Structured 0-255 float32 images: smooth blobs plus noise, so feature maps vary in space."""
    rng = np.random.default_rng(seed)
    height, width = shape[:2]
    yy, xx = np.mgrid[0:height, 0:width]
    images = rng.uniform(0, 40, (count, *shape))
    for image in images:
        for _ in range(3):
            cy, cx, r = rng.uniform(0, height), rng.uniform(0, width), rng.uniform(2, height / 3)
            blob = 215 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r ** 2))
            image += blob[..., None] * rng.uniform(0.3, 1.0, shape[2:])
    return np.clip(images, 0, 255).astype(np.float32)


def square_images(count: int, size: int = 32, square: int = 8,
                  seed: int = SEED) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Half the images hold one bright square at a random place on a dim noisy background.
    Returns images (N, size, size, 1) 0-255, labels (1: square), and each square's top-left corner."""
    rng = np.random.default_rng(seed)
    images = rng.uniform(0, 60, (count, size, size, 1)).astype(np.float32)
    labels = np.arange(count) % 2
    corners = rng.integers(0, size - square + 1, (count, 2))
    for image, label, (top, left) in zip(images, labels, corners):
        if label:
            image[top:top + square, left:left + square] = 255.0
    return images, labels.astype(np.int32), corners


def square_detector(size: int = 32, steps: int = 60) -> keras.Model:
    """A GAP CNN trained for a few dozen steps to tell images with a bright square from those
    without: a model whose heat map has a known right answer (the square)."""
    keras.utils.set_random_seed(SEED)
    inputs = keras.Input((size, size, 1), name="pixels")
    x = layers.Rescaling(1 / 255, name="normalise")(inputs)
    x = layers.Conv2D(8, 3, padding="same", activation="relu", name="conv1")(x)
    x = layers.MaxPooling2D(name="pool1")(x)
    x = layers.Conv2D(16, 3, padding="same", activation="relu", name="conv2")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    model = keras.Model(inputs, _head(x, 2), name="square_detector")
    model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy")
    images, labels, _ = square_images(steps * 16, size, seed=SEED + 1)
    model.fit(images, labels, batch_size=16, epochs=1, verbose=0, shuffle=False)
    return model
