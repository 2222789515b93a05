"""Loading models and predicting with them.

`load_model` reads a shipped `.keras` file (or builds a pretrained keras.applications model);
`Predictor` wraps a model in a compiled call with a fixed input signature, built once, which for
one image is an order of magnitude faster than `model.predict`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from vision.errors import WeightsMissingError  # noqa: E402
from vision.registry import ModelSpec, get_spec, load_metrics  # noqa: E402,F401 (re-exported)


def load_model(name: str) -> keras.Model:
    """The trained (or pretrained) Keras model registered under `name`."""
    spec = get_spec(name)
    if not spec.trained_here and not spec.weights_path.is_file():
        # No download from the app: a classroom without network would wait for it on every visit.
        if not spec.weights_available:
            raise WeightsMissingError(
                f"The pretrained weights of {spec.title} are not on this machine "
                f"({spec.weights_path.name} is missing from weights/). Re-create it with "
                f"`python -m vision.train {name}` (it reads {spec.pretrained_file} from the Keras "
                "cache, ~/.keras/models/, or downloads it).")
        try:
            return spec.build()
        except Exception as err:  # a damaged weights file in the cache
            raise WeightsMissingError(
                f"The pretrained weights of {spec.title} could not be read from the Keras cache "
                f"({spec.pretrained_file}); delete that file and run `python -m vision.train {name}`."
            ) from err
    if not spec.weights_path.is_file():
        raise WeightsMissingError(
            f"The trained weights of {spec.title} are missing ({spec.weights_path.name}). "
            f"Train them with `python -m vision.train {name}`.")
    try:
        return keras.saving.load_model(spec.weights_path, safe_mode=True, compile=False)
    except Exception as err:
        raise WeightsMissingError(
            f"The weights file of {spec.title} could not be read ({spec.weights_path.name}); "
            f"re-create it with `python -m vision.train {name}`.") from err


def symbolic_input(model: keras.Model):
    """The model's input tensor, to build a model on part of it (features, logits)."""
    # `model.input` fails on Sequential models in Keras 3 and a one-element list warns on every
    # call of a one-input model, so pass the tensor itself when there is one.
    inputs = model.inputs
    return inputs[0] if len(inputs) == 1 else inputs


def logits_tensor(model: keras.Model):
    """The pre-softmax score: every registered model ends in a softmax layer named `probabilities`."""
    return model.get_layer("probabilities").input


@dataclass(frozen=True)
class TopK:
    """The k most probable classes of one image, most probable first."""

    indices: np.ndarray
    labels: tuple[str, ...]
    probabilities: np.ndarray

    @property
    def label(self) -> str:
        return self.labels[0]

    @property
    def probability(self) -> float:
        return float(self.probabilities[0])


class Predictor:
    """A model, its spec and a compiled inference call with a fixed input signature."""

    def __init__(self, model: keras.Model, spec: ModelSpec | None = None, batch_size: int = 64):
        self.model = model
        self.spec = spec
        self.batch_size = batch_size
        signature = tf.TensorSpec((None, *model.input_shape[1:]), tf.float32)
        self._call = tf.function(lambda x: model(x, training=False), input_signature=[signature])
        self._features = None

    @classmethod
    def load(cls, name: str) -> "Predictor":
        """Load a registered model and warm its compiled call up."""
        predictor = cls(load_model(name), get_spec(name))
        predictor.warm_up()
        return predictor

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return tuple(self.model.input_shape[1:])

    @property
    def labels(self) -> tuple[str, ...]:
        if self.spec is None:
            return tuple(str(i) for i in range(self.model.output_shape[-1]))
        return self.spec.labels

    def warm_up(self) -> None:
        self._call(tf.zeros((1, *self.input_shape), tf.float32))

    def probabilities(self, images: np.ndarray) -> np.ndarray:
        """Class probabilities (N, classes) for a batch (N, H, W, C) or one image (H, W, C)."""
        images = np.asarray(images, dtype=np.float32)
        single = images.ndim == len(self.input_shape)
        if single:
            images = images[None]
        if images.shape[1:] != self.input_shape:
            raise ValueError(f"expected images of shape {self.input_shape}, got {images.shape[1:]}")
        out = [self._call(tf.constant(images[i:i + self.batch_size])).numpy()
               for i in range(0, len(images), self.batch_size)]
        probs = np.concatenate(out) if out else np.zeros((0, self.model.output_shape[-1]), np.float32)
        return probs[0] if single else probs

    def embeddings(self, images: np.ndarray) -> np.ndarray:
        """Penultimate-layer features (N, D) of a batch (N, H, W, C): the input of the `logits`
        layer, the space the Mistakes map draws and `vision.novelty` measures."""
        if self._features is None:  # built on first use: most callers only need probabilities
            features = keras.Model(self.model.inputs, self.model.get_layer("logits").input)
            signature = tf.TensorSpec((None, *self.input_shape), tf.float32)
            self._features = tf.function(lambda x: features(x, training=False),
                                         input_signature=[signature])
        images = np.asarray(images, dtype=np.float32)
        out = [self._features(tf.constant(images[i:i + self.batch_size])).numpy()
               for i in range(0, len(images), self.batch_size)]
        width = self.model.get_layer("logits").input.shape[-1]
        return np.concatenate(out) if out else np.zeros((0, width), np.float32)

    def top_k(self, image: np.ndarray, k: int = 5) -> TopK:
        """The k most probable classes of one model-ready image (H, W, C), 0-255 pixels."""
        probs = self.probabilities(image)
        return top_k_from_probabilities(probs, self.labels, k)


def top_k_from_probabilities(probs: np.ndarray, labels: tuple[str, ...], k: int = 5) -> TopK:
    """The k largest entries of one probability vector, with their labels."""
    k = max(1, min(k, len(probs)))
    order = np.argsort(-probs, kind="stable")[:k]
    return TopK(order, tuple(labels[i] for i in order), probs[order].astype(np.float32))

