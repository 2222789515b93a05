"""Class activation maps: where in the image a CNN finds evidence for a class.

One base class, `Explainer`, holds the whole pipeline (forward pass, feature maps, gradients,
weighted sum, ReLU, resize to the input, scale to [0, 1]); each method only says how to weight the
channels of the chosen layer:

- `GradCAM`: the mean over height and width of the gradient of the class's logit;
- `CAM`: the class's column of the `logits` dense kernel (models with global average pooling
  followed by a single dense layer).

The score explained is `target . logits` for a vector of class weights: one class (one-hot), or
"why this class and not that one" (+1 / -1). The layers that can be explained are those with
feature maps (`vision.activations.feature_map_layer_names`), the same the Layers page shows.

Both work on the pre-softmax score: a saturated softmax has near-zero gradients and gives blank maps.

    explainer = GradCAM(model, "out_relu")   # build once, call many times
    heatmap = explainer(image)               # (H, W) float32 in [0, 1], predicted class
    contrast = explainer.explain(image, target=contrast_target(10, 3, 6))  # why 3 and not 6
    overlay = vision.heatmaps.overlay_heatmap(image, heatmap)   # drawing needs no TensorFlow
"""

from __future__ import annotations

import os
from dataclasses import dataclass

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from vision.errors import VisionLabError  # noqa: E402
from vision.activations import feature_map_layer_names  # noqa: E402
from vision.heatmaps import scale_to_size  # noqa: E402
from vision.models import logits_tensor, symbolic_input  # noqa: E402

class CAMNotSupportedError(VisionLabError, ValueError):
    """Classic CAM asked of a model that does not end in global average pooling + one dense layer."""


@dataclass(frozen=True)
class Explanation:
    """A heat map and what it explains."""

    heatmap: np.ndarray  # float32 (H, W) in [0, 1], at the input's resolution
    class_index: int  # the class explained (for a contrast: the class with the largest weight)
    probability: float  # softmax probability of `class_index`
    logit: float  # the score the map explains: target . logits
    method: str  # "CAM" or "Grad-CAM"
    target: np.ndarray | None = None  # the class weights of the score, (classes,) float32
    # every class's softmax probability, from the same forward pass: explaining the predicted
    # class (class_index None) is then a prediction and its heat map in one call of the model
    probabilities: np.ndarray | None = None


def contrast_target(num_classes: int, for_class: int, against_class: int) -> np.ndarray:
    """Class weights for "why `for_class` and not `against_class`": +1 and -1, so the map shows
    the evidence that raises one class's score above the other's."""
    target = np.zeros(num_classes, np.float32)
    target[int(for_class)] += 1.0
    target[int(against_class)] -= 1.0
    return target


def last_conv_layer_name(model: keras.Model) -> str:
    """The last layer with feature maps: the default layer to explain, as in tf-keras-vis."""
    names = feature_map_layer_names(model)
    if not names:
        raise ValueError(f"{model.name} has no layer with a spatial (4-D) output to explain.")
    return names[-1]


class Explainer:
    """Base class: the heat-map pipeline for one (model, layer), built once at construction.

    The feature/logit model and its compiled call (fixed input signature) are built here, so that
    calling the explainer again costs one forward (and backward) pass, no tracing, whatever the
    target. The score explained is `target . logits`: a one-hot target explains one class, a
    +1/-1 target a contrast between two. Subclasses set `method` and override `channel_weights`.

    Args:
        model: a model ending in `Activation("softmax", name="probabilities")`.
        layer_name: the layer to explain; None picks the last layer with feature maps.
    """

    method = "Grad-CAM"
    uses_gradients = True

    def __init__(self, model: keras.Model, layer_name: str | None = None):
        self.model = model
        self.layer_name = layer_name or last_conv_layer_name(model)
        try:
            layer = model.get_layer(self.layer_name)
        except ValueError:
            raise ValueError(
                f"{model.name} has no layer called {self.layer_name!r}; "
                f"layers that can be explained: {', '.join(feature_map_layer_names(model))}.") from None
        if len(layer.output.shape) != 4:
            raise ValueError(f"Layer {self.layer_name!r} has no spatial (4-D) output to explain.")
        self.input_shape = tuple(model.input_shape[1:])
        # One model that returns both the feature maps and the logits: the gradient tape then sees
        # the path between them. Flat models make deep backbone layers reachable from the input.
        self._feature_model = keras.Model(symbolic_input(model), [layer.output, logits_tensor(model)])
        self.num_classes = int(self._feature_model.outputs[1].shape[-1])
        signature = [tf.TensorSpec((1, *self.input_shape), tf.float32),
                     tf.TensorSpec((self.num_classes,), tf.float32),
                     tf.TensorSpec((), tf.bool)]
        self._forward = tf.function(self._features_and_gradients, input_signature=signature)

    def _features_and_gradients(self, image, target, predicted):
        with tf.GradientTape() as tape:
            features, logits = self._feature_model(image, training=False)
            # `predicted` means "one-hot of the predicted class": chosen inside the graph, so the
            # predicted class, any class and any contrast all share one trace.
            top = tf.one_hot(tf.argmax(logits[0]), self.num_classes, dtype=logits.dtype)
            weights = tf.where(predicted, top, tf.cast(target, logits.dtype))
            score = tf.reduce_sum(weights * logits[0])
        gradients = tape.gradient(score, features) if self.uses_gradients else tf.zeros_like(features)
        return features[0], gradients[0], logits[0], weights

    def channel_weights(self, feature_maps: np.ndarray, gradients: np.ndarray,
                        target: np.ndarray) -> np.ndarray:
        """One weight per channel of `feature_maps` (h, w, K) for the class weights `target`
        (classes,): shape (K,). `gradients` are those of `target . logits`."""
        raise NotImplementedError

    def warm_up(self) -> None:
        """Trace the compiled call once (about half a second on MobileNetV2), so that the first
        heat map a user asks for costs one forward and backward pass."""
        self._forward(tf.zeros((1, *self.input_shape), tf.float32),
                      tf.zeros((self.num_classes,), tf.float32), tf.constant(True))

    def explain(self, image: np.ndarray, class_index: int | None = None,
                target: np.ndarray | None = None) -> Explanation:
        """The heat map of one model-ready image (H, W, C), 0-255 pixels, with its class and score.

        Args:
            image: one image at the model's input shape (a 2-D array for one-channel models).
            class_index: the class to explain; None explains the predicted class.
            target: class weights (classes,) instead of a class: the map explains the score
                `target . logits` (see `contrast_target`).
        Raises:
            ValueError: wrong image shape, class index out of range, or a target of the wrong size.
        """
        batch = self._as_batch(image)
        if target is not None:
            if class_index is not None:
                raise ValueError("give either class_index or target, not both")
            weights = np.asarray(target, np.float32).reshape(-1)
            if weights.shape != (self.num_classes,) or not np.all(np.isfinite(weights)):
                raise ValueError(f"target must hold {self.num_classes} finite class weights.")
        elif class_index is not None:
            if not 0 <= int(class_index) < self.num_classes:
                raise ValueError(f"class_index must be in [0, {self.num_classes}), got {class_index}.")
            weights = np.eye(self.num_classes, dtype=np.float32)[int(class_index)]
        else:
            weights = np.zeros(self.num_classes, np.float32)
        features, gradients, logits, used = self._forward(
            tf.constant(batch), tf.constant(weights), tf.constant(target is None and class_index is None))
        return self.explanation(features.numpy(), gradients.numpy(), logits.numpy(),
                                used.numpy().astype(np.float32))

    def explanation(self, features: np.ndarray, gradients: np.ndarray, logits: np.ndarray,
                    used: np.ndarray) -> Explanation:
        """The `Explanation` of one image from its forward pass: the layer's feature maps
        (h, w, K), their gradients of the score (zeros for CAM), the logits (classes,) and the
        class weights of the score `used` (classes,). `explain` runs the pass; a caller that
        runs it for a batch (vision.benchmark_concurrency) gives each image's slice."""
        features, logits = np.asarray(features, np.float32), np.asarray(logits, np.float32)
        used = np.asarray(used, np.float32)
        channel = np.asarray(self.channel_weights(features, gradients, used), np.float32)
        cam = np.maximum(np.tensordot(features, channel, axes=([-1], [0])), 0.0)
        # Relative, not absolute: a random or badly scaled network has tiny but meaningful maps,
        # while a map that is only rounding residue of cancelling terms must stay blank.
        magnitude = np.tensordot(np.abs(features), np.abs(channel), axes=([-1], [0])).max()
        if cam.max() <= 1e-5 * magnitude:
            cam = np.zeros_like(cam)
        heatmap = scale_to_size(cam, self.input_shape[:2])
        probabilities = np.exp(logits - logits.max())
        probabilities /= probabilities.sum()
        index = int(np.argmax(used))
        return Explanation(heatmap, index, float(probabilities[index]), float(used @ logits),
                           self.method, used, probabilities.astype(np.float32))

    def __call__(self, image: np.ndarray, class_index: int | None = None) -> np.ndarray:
        """The heat map (H, W) float32 in [0, 1] of one image; see `explain`."""
        return self.explain(image, class_index).heatmap

    def _as_batch(self, image: np.ndarray) -> np.ndarray:
        image = np.asarray(image, dtype=np.float32)
        if image.ndim == 2 and self.input_shape[-1] == 1:
            image = image[..., None]
        if image.shape != self.input_shape:
            raise ValueError(f"expected one image of shape {self.input_shape}, got {image.shape}")
        return image[None]


class GradCAM(Explainer):
    """Grad-CAM (Selvaraju et al. 2017): channel weights are the spatially averaged gradients of
    the class logit with respect to the layer's feature maps. Works with any layer of any CNN."""

    def channel_weights(self, feature_maps, gradients, target):
        return gradients.mean(axis=(0, 1))


class CAM(Explainer):
    """Classic CAM (Zhou et al. 2016) for models whose feature maps go through global average
    pooling (dropout allowed) into the single `logits` dense layer: the channel weights are the
    class's column of that layer's kernel, so no gradient is needed.

    Raises:
        CAMNotSupportedError: the model does not have that structure (use GradCAM instead).
    """

    method = "CAM"
    uses_gradients = False

    def __init__(self, model: keras.Model, layer_name: str | None = None):
        gap_input_layer = _gap_input_layer(model)
        if layer_name is not None and layer_name != gap_input_layer.name:
            raise CAMNotSupportedError(
                f"CAM explains only the layer feeding global average pooling "
                f"({gap_input_layer.name!r}), not {layer_name!r}; use Grad-CAM for other layers.")
        super().__init__(model, gap_input_layer.name)
        self._kernel = np.asarray(keras.ops.convert_to_numpy(model.get_layer("logits").kernel))

    def channel_weights(self, feature_maps, gradients, target):
        return self._kernel @ target  # linear in the class weights, as the score is


def _gap_input_layer(model: keras.Model) -> keras.layers.Layer:
    """The layer whose feature maps reach `logits` through global average pooling alone."""
    problem = f"{model.name} cannot use classic CAM: it needs global average pooling followed by " \
              "a single dense layer named 'logits'. Use Grad-CAM instead."
    try:
        logits = model.get_layer("logits")
    except ValueError:
        raise CAMNotSupportedError(problem) from None
    if not isinstance(logits, keras.layers.Dense):
        raise CAMNotSupportedError(problem)
    operation = _producer(logits.input)
    while isinstance(operation, keras.layers.Dropout):  # identity at inference
        operation = _producer(operation.input)
    if not isinstance(operation, keras.layers.GlobalAveragePooling2D) or operation.keepdims:
        raise CAMNotSupportedError(problem)
    return _producer(operation.input)


def _producer(tensor) -> keras.layers.Layer:
    return tensor._keras_history.operation


def explainer_for(model: keras.Model, spec, layer_name: str | None = None) -> Explainer | None:
    """The explainer of a registered model's layer, the one place that decides the method: classic
    CAM on the spec's `cam_layer` where the spec allows it, Grad-CAM on any other layer; None for
    a model without conv layers (the MLP). `layer_name` None means the spec's `cam_layer`."""
    layer_name = layer_name or spec.cam_layer
    if layer_name is None:
        return None
    if spec.supports_cam and layer_name == spec.cam_layer:
        return CAM(model, layer_name)
    return GradCAM(model, layer_name)
