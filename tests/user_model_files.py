"""Model files a user might upload, built in the test (seconds): valid ones and hostile ones.

Each function returns the bytes of the file, as an upload would deliver them."""

from __future__ import annotations

import io
import json
import zipfile

import keras
import numpy as np
from keras import layers
from PIL import Image

from vision.user_models import keras_bytes

SEED = 11


def small_cnn(size: int = 28, channels: int = 1, classes: int = 3, softmax: str = "layer",
              rescaling: bool = True) -> keras.Model:
    """A tiny CNN. `softmax`: "layer" (Activation softmax at the end), "dense" (Dense with a
    softmax activation) or "none" (it outputs logits)."""
    keras.utils.set_random_seed(SEED)
    inputs = keras.Input((size, size, channels), name="image")
    x = layers.Rescaling(1 / 255, name="scale")(inputs) if rescaling else inputs
    x = layers.Conv2D(6, 3, padding="same", activation="relu", name="c1")(x)
    x = layers.MaxPooling2D(name="p1")(x)
    x = layers.Conv2D(8, 3, padding="same", activation="relu", name="c2")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    if softmax == "dense":
        out = layers.Dense(classes, activation="softmax", name="out")(x)
    else:
        out = layers.Dense(classes, name="scores")(x)
        if softmax == "layer":
            out = layers.Activation("softmax", name="soft")(out)
    return keras.Model(inputs, out, name="small_cnn")


def valid(**kwargs) -> bytes:
    return keras_bytes(small_cnn(**kwargs))


def with_lambda() -> bytes:
    inputs = keras.Input((28, 28, 1))
    x = layers.Lambda(lambda t: t * 2.0, name="double")(inputs)
    x = layers.Conv2D(4, 3, name="c1")(x)
    x = layers.GlobalAveragePooling2D()(x)
    return keras_bytes(keras.Model(inputs, layers.Dense(3, activation="softmax")(x)))


@keras.saving.register_keras_serializable(package="classroom")
class Brighten(layers.Layer):
    """A custom layer: its code lives in the author's module, not in Keras."""

    def call(self, x):
        return x + 1.0


def with_custom_layer() -> bytes:
    inputs = keras.Input((28, 28, 1))
    x = Brighten(name="brighten")(inputs)
    x = layers.Conv2D(4, 3, name="c1")(x)
    x = layers.GlobalAveragePooling2D()(x)
    return keras_bytes(keras.Model(inputs, layers.Dense(3, activation="softmax")(x)))


def feature_map_output() -> bytes:
    """Outputs a (14, 14, 4) feature map, not a class vector."""
    inputs = keras.Input((28, 28, 1))
    x = layers.Conv2D(4, 3, padding="same", name="c1")(inputs)
    return keras_bytes(keras.Model(inputs, layers.MaxPooling2D()(x)))


def sigmoid_output() -> bytes:
    inputs = keras.Input((28, 28, 1))
    x = layers.GlobalAveragePooling2D()(layers.Conv2D(4, 3, name="c1")(inputs))
    return keras_bytes(keras.Model(inputs, layers.Dense(5, activation="sigmoid")(x)))


def slow(size: int = 256) -> keras.Model:
    """Six full-resolution 3x3 convs with 48 channels: several GFLOPs for one image."""
    keras.utils.set_random_seed(SEED)
    inputs = keras.Input((size, size, 3))
    x = inputs
    for i in range(6):
        x = layers.Conv2D(48, 3, padding="same", activation="relu", name=f"c{i}")(x)
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, layers.Dense(3, activation="softmax")(x), name="slow")


def two_inputs() -> bytes:
    a, b = keras.Input((28, 28, 1), name="a"), keras.Input((28, 28, 1), name="b")
    x = layers.Concatenate()([a, b])
    x = layers.GlobalAveragePooling2D()(layers.Conv2D(4, 3)(x))
    return keras_bytes(keras.Model([a, b], layers.Dense(3, activation="softmax")(x)))


def huge_input() -> bytes:
    inputs = keras.Input((1000, 1000, 3))
    x = layers.GlobalAveragePooling2D()(layers.Conv2D(4, 3, strides=4)(inputs))
    return keras_bytes(keras.Model(inputs, layers.Dense(3, activation="softmax")(x)))


def _rezip(data: bytes, edit_config) -> bytes:
    """The same archive with config.json changed by `edit_config(dict)`; weights unchanged."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for member in source.infolist():
            payload = source.read(member.filename)
            if member.filename == "config.json":
                config = json.loads(payload)
                edit_config(config)
                payload = json.dumps(config).encode()
            target.writestr(member.filename, payload)
    return out.getvalue()


def huge_parameter_count() -> bytes:
    """A file of a few kB whose config declares a Dense layer of 800 million weights: building
    it for real would allocate 3 GB before the weights are even read."""
    inputs = keras.Input((64, 64, 1))
    x = layers.Conv2D(2, 3, padding="same", name="c1")(inputs)
    x = layers.Dense(8, name="wide")(layers.Flatten()(x))
    data = keras_bytes(keras.Model(inputs, layers.Dense(3, activation="softmax")(x)))

    def widen(node):
        """units 8 -> 100,000 in the layer, and the (None, 8) shapes recorded after it."""
        if isinstance(node, dict):
            if node.get("name") == "wide" and "units" in node:
                node["units"] = 100_000
            for key, value in node.items():
                if value == [None, 8]:
                    node[key] = [None, 100_000]
                widen(value)
        elif isinstance(node, list):
            for index, value in enumerate(node):
                if value == [None, 8]:
                    node[index] = [None, 100_000]
                widen(value)
    return _rezip(data, widen)


def truncated() -> bytes:
    data = valid()
    return data[: len(data) * 2 // 3]


def zip_bomb(declared_mb: int = 64) -> bytes:
    """A valid config.json beside a 'weights' member of zeros that deflates about 1000 to 1."""
    source = zipfile.ZipFile(io.BytesIO(valid()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as target:
        target.writestr("config.json", source.read("config.json"))
        target.writestr("metadata.json", source.read("metadata.json"))
        target.writestr("model.weights.h5", bytes(declared_mb * 2**20))
    return out.getvalue()


def with_assets() -> bytes:
    source = zipfile.ZipFile(io.BytesIO(valid()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for member in source.infolist():
            target.writestr(member.filename, source.read(member.filename))
        target.writestr("assets/run_me.sh", b"echo hello")
    return out.getvalue()


def renamed_jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((32, 32, 3), 128, np.uint8)).save(buffer, format="JPEG")
    return buffer.getvalue()


def legacy_h5(tmp_path) -> bytes:
    path = tmp_path / "model.h5"
    small_cnn().save(path)
    return path.read_bytes()


def enormous_compute() -> bytes:
    """A small file (300 k weights) whose one image costs about 150 billion operations."""
    inputs = keras.Input((512, 512, 3))
    x = layers.Conv2D(64, 3, padding="same", name="c0")(inputs)
    for i in range(1, 9):
        x = layers.Conv2D(64, 3, padding="same", name=f"c{i}")(x)
    x = layers.GlobalAveragePooling2D()(x)
    return keras_bytes(keras.Model(inputs, layers.Dense(3, activation="softmax")(x)))
