"""Feature maps: what every conv and pooling layer of a CNN outputs for one image.

A conv layer is shown after its activation: when a conv layer without its own activation is
followed by batch normalisation and/or an activation layer (conv -> BN -> ReLU), the maps are taken
at the end of that chain (e.g. `conv1_relu`, not `conv1`), because that is what the next layer sees
and what the usual "feature map" figures show. A chain that ends without an activation (MobileNetV2's
linear bottleneck, conv -> BN) is shown after the BN. Pooling layers are shown as they are.

    extractor = ActivationExtractor(model)           # build once
    for layer in extractor(image):                   # one forward pass
        grid = vision.heatmaps.tile_maps(vision.heatmaps.normalise_maps(layer.maps))
"""

from __future__ import annotations

import os
from dataclasses import dataclass

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras import layers  # noqa: E402

from vision.models import symbolic_input  # noqa: E402

_CONV = (layers.Conv2D, layers.DepthwiseConv2D, layers.SeparableConv2D)
_POOL = (layers.MaxPooling2D, layers.AveragePooling2D)
_ACTIVATION = (layers.ReLU, layers.Activation, layers.LeakyReLU, layers.ELU, layers.PReLU)


@dataclass(frozen=True)
class LayerActivation:
    """The feature maps of one layer for one image."""

    name: str  # the layer whose output `maps` is (e.g. "conv1_relu" for conv1 -> BN -> ReLU)
    kind: str  # "conv" or "pool"
    maps: np.ndarray  # float32 (H, W, C)

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.maps.shape)

    @property
    def channels(self) -> int:
        return int(self.maps.shape[-1])


def feature_map_layer_names(model: keras.Model) -> list[str]:
    """The layers of a model with feature maps, input to output: its conv layers (after their
    activation, see the module docstring) and pooling layers whose output is larger than 1x1.

    The one rule for "layers with feature maps": the Layers page shows these, and these are the
    layers a heat map can be computed on (a 1x1 output, such as MobileNet v1's 1x1 conv
    classifier, cannot localise anything).
    """
    return [name for name, _ in _activation_layers(model)]


def _activation_layers(model: keras.Model) -> list[tuple[str, str]]:
    in_model = {id(layer) for layer in model.layers}
    found = []
    for layer in model.layers:
        if isinstance(layer, _CONV):
            found.append((_after_activation(layer, in_model), "conv"))
        elif isinstance(layer, _POOL):
            found.append((layer, "pool"))
    return [(layer.name, kind) for layer, kind in found if _has_maps(layer)]


def _has_maps(layer: keras.layers.Layer) -> bool:
    try:
        shape = layer.output.shape
    except (AttributeError, ValueError):  # a layer used several times has no single output
        return False
    return len(shape) == 4 and not (shape[1] == 1 and shape[2] == 1)


def _after_activation(layer: keras.layers.Layer, in_model: set[int]) -> keras.layers.Layer:
    """Follow conv -> [BN] -> [activation] while each step has a single consumer in the model."""
    current = layer
    activated = getattr(layer.activation, "__name__", "linear") != "linear"
    while not activated:
        consumers = [node.operation for node in current._outbound_nodes
                     if id(node.operation) in in_model]
        if len(consumers) != 1:
            break
        following = consumers[0]
        if isinstance(following, layers.BatchNormalization):
            current = following
        elif isinstance(following, _ACTIVATION):
            current, activated = following, True
        else:
            break
    return current


class ActivationExtractor:
    """One multi-output model and its compiled call, built once, returning the feature maps of
    `layer_names` (default: `feature_map_layer_names(model)`) for one image."""

    def __init__(self, model: keras.Model, layer_names: list[str] | None = None):
        kinds = dict(_activation_layers(model))
        self.layer_names = list(layer_names) if layer_names is not None else list(kinds)
        if not self.layer_names:
            raise ValueError(f"{model.name} has no conv or pooling layer to show.")
        outputs = []
        for name in self.layer_names:
            try:
                output = model.get_layer(name).output
            except ValueError:
                raise ValueError(f"{model.name} has no layer called {name!r}; layers with feature "
                                 f"maps: {', '.join(kinds)}.") from None
            if len(output.shape) != 4:
                raise ValueError(f"Layer {name!r} has no (H, W, C) feature maps.")
            outputs.append(output)
        self._kinds = [kinds.get(name, _kind_of(model.get_layer(name))) for name in self.layer_names]
        self.input_shape = tuple(model.input_shape[1:])
        self._model = keras.Model(symbolic_input(model), outputs)
        signature = [tf.TensorSpec((1, *self.input_shape), tf.float32)]
        self._forward = tf.function(lambda x: self._model(x, training=False),
                                    input_signature=signature)

    def __call__(self, image: np.ndarray) -> list[LayerActivation]:
        """The feature maps of one model-ready image (H, W, C), 0-255 pixels, layer by layer."""
        image = np.asarray(image, dtype=np.float32)
        if image.ndim == 2 and self.input_shape[-1] == 1:
            image = image[..., None]
        if image.shape != self.input_shape:
            raise ValueError(f"expected one image of shape {self.input_shape}, got {image.shape}")
        outputs = self._forward(tf.constant(image[None]))
        if not isinstance(outputs, (list, tuple)):
            outputs = [outputs]
        return [LayerActivation(name, kind, np.asarray(out[0], np.float32))
                for name, kind, out in zip(self.layer_names, self._kinds, outputs)]


def _kind_of(layer: keras.layers.Layer) -> str:
    return "pool" if isinstance(layer, _POOL) else "conv"
