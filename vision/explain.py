"""Class activation maps: where in the image a CNN finds evidence for a class.

One base class, `Explainer`, holds the whole pipeline (forward pass, feature maps, gradients,
weighted sum, ReLU, resize to the input, scale to [0, 1]); each method only says how to weight the
channels of the chosen layer:

- `GradCAM`: the mean over height and width of the gradient of the class's logit;
- `CAM`: the class's column of the `logits` dense kernel (models with global average pooling
  followed by a single dense layer).

Both work on the pre-softmax score: a saturated softmax has near-zero gradients and gives blank maps.

    explainer = GradCAM(model, "out_relu")   # build once, call many times
    heatmap = explainer(image)               # (H, W) float32 in [0, 1], predicted class
    overlay = overlay_heatmap(image.astype(np.uint8), heatmap)
"""

from __future__ import annotations

import os
from dataclasses import dataclass

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from vision.errors import VisionLabError  # noqa: E402
from vision.models import logits_tensor  # noqa: E402

# Layers whose 4-D output is not a learned feature map: input handling, augmentation, resizing
# (preprocessing), dropout and noise (identity at inference), padding and cropping (reshaping).
_NON_FEATURE_MODULES = ("keras.src.layers.preprocessing", "keras.src.layers.regularization",
                        "keras.src.layers.reshaping")


class CAMNotSupportedError(VisionLabError, ValueError):
    """Classic CAM asked of a model that does not end in global average pooling + one dense layer."""


@dataclass(frozen=True)
class Explanation:
    """A heat map and what it explains."""

    heatmap: np.ndarray  # float32 (H, W) in [0, 1], at the input's resolution
    class_index: int
    probability: float  # softmax probability of `class_index`
    logit: float  # the pre-softmax score the map explains


def conv_layer_names(model: keras.Model) -> list[str]:
    """Names of the layers whose 4-D output can be explained, input to output (for a layer picker).

    Input, preprocessing/augmentation, dropout and padding layers are left out, and so are 1x1
    outputs (e.g. MobileNet v1's 1x1 conv classifier), which cannot localise anything.
    """
    names = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if type(layer).__module__.startswith(_NON_FEATURE_MODULES):
            continue
        try:
            shape = layer.output.shape
        except (AttributeError, ValueError):  # a layer used several times has no single output
            continue
        if len(shape) == 4 and not (shape[1] == 1 and shape[2] == 1):
            names.append(layer.name)
    return names


def last_conv_layer_name(model: keras.Model) -> str:
    """The last layer with a spatial (4-D) output: the default layer to explain, as in tf-keras-vis."""
    names = conv_layer_names(model)
    if not names:
        raise ValueError(f"{model.name} has no layer with a spatial (4-D) output to explain.")
    return names[-1]


class Explainer:
    """Base class: the heat-map pipeline for one (model, layer), built once at construction.

    The feature/logit model and its compiled call (fixed input signature) are built here, so that
    calling the explainer again costs one forward (and backward) pass, no tracing. Subclasses
    override `channel_weights` only.

    Args:
        model: a model ending in `Activation("softmax", name="probabilities")`.
        layer_name: the layer to explain; None picks the last layer with a 4-D output.
    """

    uses_gradients = True

    def __init__(self, model: keras.Model, layer_name: str | None = None):
        self.model = model
        self.layer_name = layer_name or last_conv_layer_name(model)
        try:
            layer = model.get_layer(self.layer_name)
        except ValueError:
            raise ValueError(
                f"{model.name} has no layer called {self.layer_name!r}; "
                f"layers that can be explained: {', '.join(conv_layer_names(model))}.") from None
        if len(layer.output.shape) != 4:
            raise ValueError(f"Layer {self.layer_name!r} has no spatial (4-D) output to explain.")
        self.input_shape = tuple(model.input_shape[1:])
        # One model that returns both the feature maps and the logits: the gradient tape then sees
        # the path between them. Flat models make deep backbone layers reachable from the input.
        self._feature_model = keras.Model(_symbolic_input(model), [layer.output, logits_tensor(model)])
        signature = [tf.TensorSpec((1, *self.input_shape), tf.float32),
                     tf.TensorSpec((), tf.int32)]
        self._forward = tf.function(self._features_and_gradients, input_signature=signature)

    def _features_and_gradients(self, image, class_index):
        with tf.GradientTape() as tape:
            features, logits = self._feature_model(image, training=False)
            # class_index < 0 means "the predicted class"; chosen inside the graph, so one trace.
            index = tf.where(class_index < 0, tf.argmax(logits[0], output_type=tf.int32), class_index)
            score = logits[0, index]
        gradients = tape.gradient(score, features) if self.uses_gradients else tf.zeros_like(features)
        return features[0], gradients[0], logits[0], index

    def channel_weights(self, feature_maps: np.ndarray, gradients: np.ndarray,
                        class_index: int) -> np.ndarray:
        """One weight per channel of `feature_maps` (h, w, K) for `class_index`: shape (K,)."""
        raise NotImplementedError

    def warm_up(self) -> None:
        """Trace the compiled call once (about half a second on MobileNetV2), so that the first
        heat map a user asks for costs one forward and backward pass."""
        self._forward(tf.zeros((1, *self.input_shape), tf.float32), tf.constant(-1, tf.int32))

    def explain(self, image: np.ndarray, class_index: int | None = None) -> Explanation:
        """The heat map of one model-ready image (H, W, C), 0-255 pixels, with its class and score.

        Args:
            image: one image at the model's input shape (a 2-D array for one-channel models).
            class_index: the class to explain; None explains the predicted class.
        Raises:
            ValueError: wrong image shape or class index out of range.
        """
        batch = self._as_batch(image)
        num_classes = int(self._feature_model.outputs[1].shape[-1])
        if class_index is not None and not 0 <= int(class_index) < num_classes:
            raise ValueError(f"class_index must be in [0, {num_classes}), got {class_index}.")
        target = -1 if class_index is None else int(class_index)
        features, gradients, logits, index = self._forward(tf.constant(batch), tf.constant(target))
        features, logits, index = features.numpy(), logits.numpy(), int(index.numpy())
        weights = np.asarray(self.channel_weights(features, gradients.numpy(), index), np.float32)
        cam = np.maximum(np.tensordot(features, weights, axes=([-1], [0])), 0.0)
        # Relative, not absolute: a random or badly scaled network has tiny but meaningful maps,
        # while a map that is only rounding residue of cancelling terms must stay blank.
        magnitude = np.tensordot(np.abs(features), np.abs(weights), axes=([-1], [0])).max()
        if cam.max() <= 1e-5 * magnitude:
            cam = np.zeros_like(cam)
        heatmap = scale_to_input(cam, self.input_shape[:2])
        probabilities = np.exp(logits - logits.max())
        probabilities /= probabilities.sum()
        return Explanation(heatmap, index, float(probabilities[index]), float(logits[index]))

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

    def channel_weights(self, feature_maps, gradients, class_index):
        return gradients.mean(axis=(0, 1))


class CAM(Explainer):
    """Classic CAM (Zhou et al. 2016) for models whose feature maps go through global average
    pooling (dropout allowed) into the single `logits` dense layer: the channel weights are the
    class's column of that layer's kernel, so no gradient is needed.

    Raises:
        CAMNotSupportedError: the model does not have that structure (use GradCAM instead).
    """

    uses_gradients = False

    def __init__(self, model: keras.Model, layer_name: str | None = None):
        gap_input_layer = _gap_input_layer(model)
        if layer_name is not None and layer_name != gap_input_layer.name:
            raise CAMNotSupportedError(
                f"CAM explains only the layer feeding global average pooling "
                f"({gap_input_layer.name!r}), not {layer_name!r}; use Grad-CAM for other layers.")
        super().__init__(model, gap_input_layer.name)
        self._kernel = np.asarray(keras.ops.convert_to_numpy(model.get_layer("logits").kernel))

    def channel_weights(self, feature_maps, gradients, class_index):
        return self._kernel[:, class_index]


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


def explainer_for(model: keras.Model, spec) -> Explainer | None:
    """The default explainer of a registered model: CAM where the spec allows it, else Grad-CAM on
    the spec's `cam_layer`, None for a model without conv layers (the MLP)."""
    if spec.supports_cam:
        return CAM(model, spec.cam_layer)
    if spec.cam_layer:
        return GradCAM(model, spec.cam_layer)
    return None


def scale_to_input(cam: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a non-negative map to (H, W) = `size` and divide by its maximum: float32 in [0, 1].
    An all-zero map (no positive evidence anywhere) stays all zeros instead of becoming NaN."""
    height, width = size
    cam = cv2.resize(np.asarray(cam, np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
    cam = np.clip(cam, 0.0, None)
    peak = float(cam.max())
    if not np.isfinite(peak) or peak <= 0.0:
        return np.zeros((height, width), np.float32)
    return np.clip(cam / peak, 0.0, 1.0).astype(np.float32)


def overlay_heatmap(image: np.ndarray, heatmap: np.ndarray, opacity: float = 0.5,
                    colormap: int = cv2.COLORMAP_JET) -> np.ndarray:
    """Blend a [0, 1] heat map, coloured, over an image.

    Args:
        image: uint8 (H, W), (H, W, 1) grey or (H, W, 3) RGB, any resolution.
        heatmap: float (h, w) in [0, 1], any resolution; resized to the image.
        opacity: 0 returns the image (as RGB), 1 the coloured heat map.
        colormap: an OpenCV colour map.
    Returns:
        uint8 RGB (H, W, 3).
    """
    if not 0.0 <= opacity <= 1.0:
        raise ValueError(f"opacity must be in [0, 1], got {opacity}")
    image = np.asarray(image)
    if image.dtype != np.uint8:
        image = np.clip(np.rint(image), 0, 255).astype(np.uint8)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    rgb = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB) if image.ndim == 2 else image[..., :3]
    height, width = rgb.shape[:2]
    heat = cv2.resize(np.asarray(heatmap, np.float32), (width, height),
                      interpolation=cv2.INTER_LINEAR)
    heat = np.rint(np.clip(np.nan_to_num(heat), 0.0, 1.0) * 255).astype(np.uint8)
    colour = cv2.cvtColor(cv2.applyColorMap(heat, colormap), cv2.COLOR_BGR2RGB)  # OpenCV is BGR
    blend = (1.0 - opacity) * rgb.astype(np.float32) + opacity * colour.astype(np.float32)
    return np.clip(np.rint(blend), 0, 255).astype(np.uint8)


def _symbolic_input(model: keras.Model):
    # `model.input` fails on Sequential models in Keras 3 and a one-element list warns on every
    # call of a one-input model, so pass the tensor itself when there is one.
    inputs = model.inputs
    return inputs[0] if len(inputs) == 1 else inputs
