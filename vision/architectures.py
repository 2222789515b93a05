"""Model architectures. Every model takes raw 0-255 pixels and carries its own normalisation
(and, active only in training, augmentation) layers, and ends in a `logits` dense layer followed by
a `probabilities` softmax, so explanations can be computed on the pre-softmax score."""

from __future__ import annotations

import keras
from keras import layers

from vision.data import pretrained_weights_path

MOBILENET_V2_NO_TOP = "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5"
MOBILENET_V1_WITH_TOP = "mobilenet_1_0_224_tf.h5"


def _classifier(x, num_classes: int):
    logits = layers.Dense(num_classes, name="logits")(x)
    # float32 even when training in mixed precision, so that the loss sees exact probabilities
    return layers.Activation("softmax", dtype="float32", name="probabilities")(logits)


def _conv_bn_relu(x, filters: int, name: str, kernel_size: int = 3):
    x = layers.Conv2D(filters, kernel_size, padding="same", use_bias=False, name=name)(x)
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def fashion_mlp(num_classes: int = 10) -> keras.Model:
    """Dense network 784-128-64-10."""
    inputs = keras.Input((28, 28, 1), name="pixels")
    x = layers.Rescaling(1 / 255, name="normalise")(inputs)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(128, activation="relu", name="dense_128")(x)
    x = layers.Dropout(0.2, name="dropout_1")(x)
    x = layers.Dense(64, activation="relu", name="dense_64")(x)
    x = layers.Dropout(0.1, name="dropout_2")(x)
    return keras.Model(inputs, _classifier(x, num_classes), name="fashion_mlp")


def fashion_cnn(num_classes: int = 10) -> keras.Model:
    """Four 3x3 conv layers (16/32/64/128) with batch norm, global average pooling and one dense
    layer: 99,402 parameters (98,442 without batch norm), the CAM model.

    Max-pooling follows the first two conv layers only, so the last maps (`conv4_relu`, the CAM
    layer) are 7x7 rather than 3x3: sharper heat maps and better accuracy for the same weights."""
    inputs = keras.Input((28, 28, 1), name="pixels")
    x = layers.RandomFlip("horizontal", name="augment_flip")(inputs)
    x = layers.RandomTranslation(0.05, 0.05, fill_mode="constant", name="augment_shift")(x)
    x = layers.Rescaling(1 / 255, name="normalise")(x)
    for index, filters in enumerate((16, 32, 64, 128), start=1):
        x = _conv_bn_relu(x, filters, f"conv{index}")
        if index <= 2:
            x = layers.MaxPooling2D(name=f"pool{index}")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    x = layers.Dropout(0.2, name="head_dropout")(x)
    return keras.Model(inputs, _classifier(x, num_classes), name="fashion_cnn")


def fashion_deep(num_classes: int = 10) -> keras.Model:
    """A VGG-style CNN with batch norm, dropout and flip / shift augmentation, and a dense head on
    the flattened 7x7 maps (position matters for clothes: collars, sleeves, soles)."""
    inputs = keras.Input((28, 28, 1), name="pixels")
    x = layers.RandomFlip("horizontal", name="augment_flip")(inputs)
    x = layers.RandomTranslation(0.05, 0.05, fill_mode="constant", name="augment_shift")(x)
    x = layers.Rescaling(1 / 255, name="normalise")(x)
    x = _conv_bn_relu(x, 32, "block1_conv1")
    x = _conv_bn_relu(x, 32, "block1_conv2")
    x = layers.MaxPooling2D(name="block1_pool")(x)
    x = layers.Dropout(0.1, name="block1_dropout")(x)
    x = _conv_bn_relu(x, 64, "block2_conv1")
    x = _conv_bn_relu(x, 64, "block2_conv2")
    x = layers.MaxPooling2D(name="block2_pool")(x)
    x = layers.Dropout(0.15, name="block2_dropout")(x)
    x = _conv_bn_relu(x, 128, "block3_conv1")
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dropout(0.25, name="flatten_dropout")(x)
    x = layers.Dense(128, use_bias=False, name="dense_128")(x)
    x = layers.BatchNormalization(name="dense_128_bn")(x)
    x = layers.ReLU(name="dense_128_relu")(x)
    x = layers.Dropout(0.3, name="head_dropout")(x)
    return keras.Model(inputs, _classifier(x, num_classes), name="fashion_deep")


def doodle_cnn(num_classes: int = 9) -> keras.Model:
    """A small CNN with batch norm for 28x28 doodles (white ink on black), GAP + one dense layer
    so that classic CAM applies."""
    inputs = keras.Input((28, 28, 1), name="pixels")
    x = layers.RandomRotation(0.04, fill_mode="constant", name="augment_rotate")(inputs)
    x = layers.RandomTranslation(0.06, 0.06, fill_mode="constant", name="augment_shift")(x)
    x = layers.Rescaling(1 / 255, name="normalise")(x)
    x = _conv_bn_relu(x, 32, "block1_conv1")
    x = layers.MaxPooling2D(name="block1_pool")(x)
    x = _conv_bn_relu(x, 64, "block2_conv1")
    x = _conv_bn_relu(x, 64, "block2_conv2")
    x = layers.MaxPooling2D(name="block2_pool")(x)
    x = _conv_bn_relu(x, 128, "block3_conv1")
    # a second conv at 7x7: trained on the augmented sketches as well as the drawings, the
    # four-conv model underfitted (0.906 training accuracy, test 0.950); one more layer costs
    # about half again the compute of a 2 ms prediction
    x = _conv_bn_relu(x, 128, "block3_conv2")
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    x = layers.Dropout(0.3, name="head_dropout")(x)
    return keras.Model(inputs, _classifier(x, num_classes), name="doodle_cnn")


def flower_augmentation(x):
    x = layers.RandomFlip("horizontal", name="augment_flip")(x)
    x = layers.RandomRotation(0.08, name="augment_rotate")(x)
    x = layers.RandomZoom(0.15, name="augment_zoom")(x)
    return layers.RandomContrast(0.2, name="augment_contrast")(x)


def flowers_mobilenet(num_classes: int = 5, pretrained: bool = True) -> keras.Model:
    """MobileNetV2 (alpha 1.0, ImageNet weights) built flat on our own input, with a new head.
    Flat, not nested, so that Grad-CAM's gradient model can reach the backbone's conv layers."""
    inputs = keras.Input((224, 224, 3), name="pixels")
    x = flower_augmentation(inputs)
    x = layers.Rescaling(1 / 127.5, offset=-1, name="normalise")(x)
    weights = None
    if pretrained:
        weights = pretrained_weights_path(MOBILENET_V2_NO_TOP) or "imagenet"
    backbone = keras.applications.MobileNetV2(
        input_tensor=x, include_top=False, weights=weights, alpha=1.0)
    x = layers.GlobalAveragePooling2D(name="gap")(backbone.output)
    x = layers.Dropout(0.3, name="head_dropout")(x)
    return keras.Model(inputs, _classifier(x, num_classes), name="flowers_mobilenet")


def flowers_scratch(num_classes: int = 5) -> keras.Model:
    """A small CNN trained from scratch (the baseline for transfer learning); works at 96x96."""
    inputs = keras.Input((224, 224, 3), name="pixels")
    x = layers.Resizing(96, 96, antialias=True, name="downsize")(inputs)
    x = flower_augmentation(x)
    x = layers.Rescaling(1 / 255, name="normalise")(x)
    for block, filters in enumerate((24, 48, 96, 160), start=1):
        x = _conv_bn_relu(x, filters, f"block{block}_conv")
        if block < 4:
            x = layers.MaxPooling2D(name=f"block{block}_pool")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    x = layers.Dropout(0.4, name="head_dropout")(x)
    return keras.Model(inputs, _classifier(x, num_classes), name="flowers_scratch")


def imagenet_mobilenet() -> keras.Model:
    """MobileNet (v1, alpha 1.0) with its 1000-class ImageNet head, on raw 0-255 pixels."""
    inputs = keras.Input((224, 224, 3), name="pixels")
    x = layers.Rescaling(1 / 127.5, offset=-1, name="normalise")(inputs)
    weights = pretrained_weights_path(MOBILENET_V1_WITH_TOP) or "imagenet"
    base = keras.applications.MobileNet(input_tensor=x, include_top=True, weights=weights,
                                        classifier_activation=None)
    outputs = layers.Activation("softmax", name="probabilities")(base.output)
    return keras.Model(inputs, outputs, name="imagenet_mobilenet")
