"""The registry: one entry per model and one per dataset, the single place pages and tools ask.

Adding a model means adding one `ModelSpec` here (and, if it is trained, an architecture and a
training recipe in `vision.train`), never editing pages. Adding a dataset means adding one
`DatasetSpec` (and its `DatasetSource` in `vision.data`: how to load it, its samples, cover picture
and test images) and, if it needs one, its page.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from importlib import import_module
from typing import Callable

from vision import data
from vision.data import DOODLE_CLASSES, FASHION_CLASSES, FLOWER_CLASSES, PROJECT_ROOT, imagenet_classes
from vision.errors import UnknownModelError

WEIGHTS_DIR = PROJECT_ROOT / "weights"


@dataclass(frozen=True)
class ModelSpec:
    """Everything the app and the tools need to know about one model."""

    name: str
    title: str
    description: str
    dataset: str  # "fashion_mnist", "quickdraw", "flowers" or "imagenet"
    input_shape: tuple[int, int, int]
    preprocessing: str  # key of vision.preprocess.PREPROCESSORS
    architecture: str  # function in vision.architectures that builds the (untrained) model
    cam_layer: str | None  # conv layer used for CAM / Grad-CAM; None: the model has no conv layer
    supports_cam: bool = False  # global average pooling + one dense layer, so classic CAM applies
    trained_here: bool = True  # False: pretrained weights, used as they are (not trained here)
    # a pretrained model: its Keras weights file, read from the Keras cache (or ../shared/data)
    # by `python -m vision.train NAME`, which exports the model to weights/NAME.keras
    pretrained_file: str | None = None
    label_source: Callable[[], tuple[str, ...]] | tuple[str, ...] = ()

    @cached_property
    def labels(self) -> tuple[str, ...]:
        source = self.label_source
        return tuple(source() if callable(source) else source)

    def build(self):
        """A fresh model of this architecture (Keras is imported only when a model is built, so
        reading the registry stays fast)."""
        architectures = import_module("vision.architectures")
        return getattr(architectures, self.architecture)()

    @property
    def weights_path(self) -> Path:
        return WEIGHTS_DIR / f"{self.name}.keras"

    @property
    def metrics_path(self) -> Path:
        return WEIGHTS_DIR / f"{self.name}.json"

    @property
    def eval_path(self) -> Path:
        return WEIGHTS_DIR / f"{self.name}_eval.npz"

    @property
    def num_classes(self) -> int:
        return len(self.labels)

    @property
    def weights_available(self) -> bool:
        """Whether the model can be loaded here, with no network: its `.keras` file is shipped in
        weights/, or (a pretrained model) its Keras weights file is in the local cache."""
        if self.weights_path.is_file():
            return True
        return self.pretrained_file is not None and \
            data.pretrained_weights_path(self.pretrained_file) is not None


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            "fashion_mlp", "Fashion MLP", "Dense network 784-128-64-10: no convolutions, no heat map.",
            "fashion_mnist", (28, 28, 1), "fashion", "fashion_mlp", cam_layer=None,
            label_source=FASHION_CLASSES),
        ModelSpec(
            "fashion_cnn", "Fashion CNN (CAM)",
            "Four conv layers, global average pooling and one dense layer: the classic CAM model.",
            "fashion_mnist", (28, 28, 1), "fashion", "fashion_cnn",
            cam_layer="conv4_relu", supports_cam=True, label_source=FASHION_CLASSES),
        ModelSpec(
            "fashion_deep", "Fashion deep CNN",
            "Six conv layers with batch norm, dropout and augmentation.",
            "fashion_mnist", (28, 28, 1), "fashion", "fashion_deep",
            cam_layer="block3_conv1_relu", label_source=FASHION_CLASSES),
        ModelSpec(
            "doodle_cnn", "Doodle CNN",
            "Five conv layers with batch norm, global average pooling and one dense layer (CAM), "
            "trained on 9 Quick, Draw! classes and sketches of them.",
            "quickdraw", (28, 28, 1), "doodle", "doodle_cnn",
            cam_layer="block3_conv2_relu", supports_cam=True, label_source=DOODLE_CLASSES),
        ModelSpec(
            "flowers_mobilenet", "Flowers MobileNetV2 (transfer)",
            "MobileNetV2 pretrained on ImageNet, new head, top blocks fine-tuned on flower photos.",
            "flowers", (224, 224, 3), "photo", "flowers_mobilenet",
            cam_layer="out_relu", supports_cam=True, label_source=FLOWER_CLASSES),
        ModelSpec(
            "flowers_scratch", "Flowers CNN (from scratch)",
            "A small CNN trained only on the flower photos: the baseline for transfer learning.",
            "flowers", (224, 224, 3), "photo", "flowers_scratch",
            cam_layer="block4_conv_relu", supports_cam=True, label_source=FLOWER_CLASSES),
        ModelSpec(
            "imagenet_mobilenet", "ImageNet MobileNet",
            "MobileNet pretrained on the 1000 ImageNet classes, used as it is.",
            "imagenet", (224, 224, 3), "photo", "imagenet_mobilenet",
            cam_layer="conv_pw_13_relu", trained_here=False, pretrained_file="mobilenet_1_0_224_tf.h5",
            label_source=imagenet_classes),
    )
}

@dataclass(frozen=True)
class DatasetSpec:
    """Everything the app and the tools need to know about one dataset."""

    name: str
    title: str
    page: str  # the app page where its models are tried, e.g. "pages/fashion.py"
    default_model: str  # the model that page opens with (the others are a click away)
    source: data.DatasetSource  # training data, gallery samples, cover picture, test images
    drawn: bool = False  # users draw its pictures (the doodle canvas) rather than upload photos

    @property
    def models(self) -> list[ModelSpec]:
        """The registered models trained on this dataset, in registry order."""
        return [spec for spec in MODELS.values() if spec.dataset == self.name]

    @property
    def labels(self) -> tuple[str, ...]:
        return self.models[0].labels if self.models else ()


DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        # the Fashion page opens with the model right most often on real clothing photos
        # (python -m vision.evaluate_photos; tests/test_photo_weights.py keeps it so); its heat
        # map is Grad-CAM, and the CAM model is a click away
        DatasetSpec("fashion_mnist", "Fashion-MNIST", "pages/fashion.py", "fashion_deep",
                    data.FashionMNIST()),
        # shipped: the samples in samples/ (python -m vision.samples) used while the dataset is
        # absent. No flower photos are shipped: their authors and licences are not stated.
        DatasetSpec("quickdraw", "Quick, Draw!", "pages/doodle.py", "doodle_cnn",
                    data.QuickDraw(shipped="quickdraw/doodles.npz", cover_index=8), drawn=True),
        DatasetSpec("flowers", "Flowers", "pages/flowers.py", "flowers_mobilenet",
                    data.Flowers(cover_from="photos/photos.csv", cover_index=4)),
        DatasetSpec("imagenet", "ImageNet", "pages/any_photo.py", "imagenet_mobilenet",
                    data.ImageNetPhotos(shipped="photos/photos.csv")),
    )
}


def get_spec(name: str) -> ModelSpec:
    """The spec of a registered model; raises UnknownModelError for other names."""
    return _entry(MODELS, name, "model")


def get_dataset(name: str) -> DatasetSpec:
    """The spec of a registered dataset; raises UnknownModelError for other names."""
    return _entry(DATASETS, name, "dataset")


def _entry(table: dict, name: str, kind: str):
    try:
        return table[name]
    except KeyError:
        raise UnknownModelError(
            f"There is no {kind} called {name!r}. Known {kind}s: {', '.join(table)}.") from None


def load_metrics(name: str) -> dict | None:
    """The metrics a training run wrote for a model (`weights/MODEL.json`), or None. Here, not in
    `vision.models`, so that reading them (the home page) does not import TensorFlow."""
    path = get_spec(name).metrics_path
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def trained_models(dataset: str | None = None) -> list[str]:
    """Names of the models trained here (not the pretrained ImageNet one), optionally of one
    dataset, in registry order."""
    specs = MODELS.values() if dataset is None else get_dataset(dataset).models
    return [spec.name for spec in specs if spec.trained_here]


def models_for_dataset(dataset: str) -> list[ModelSpec]:
    """The registered models trained on one dataset, in registry order."""
    return get_dataset(dataset).models
