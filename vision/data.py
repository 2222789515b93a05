"""Datasets: Fashion-MNIST, Quick, Draw! doodles, flower photos and the ImageNet class names.

Each loader looks for a local copy first (an environment variable, the Keras cache, a system
package or the project's shared data folder) and only then downloads from the dataset's public
home, so the same code works offline on a laptop and on a fresh machine with internet.
"""

from __future__ import annotations

import gzip
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vision.errors import DatasetMissingError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LABELS_DIR = Path(__file__).resolve().parent / "labels"

FASHION_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
DOODLE_CLASSES = ("apple", "bicycle", "cat", "diamond", "eye", "fish", "moon", "rainbow", "train")
FLOWER_CLASSES = ("daisy", "dandelion", "rose", "sunflower", "tulip")

FASHION_FILES = {
    "x_train": "train-images-idx3-ubyte.gz",
    "y_train": "train-labels-idx1-ubyte.gz",
    "x_test": "t10k-images-idx3-ubyte.gz",
    "y_test": "t10k-labels-idx1-ubyte.gz",
}
FASHION_DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
QUICKDRAW_URL = "https://storage.googleapis.com/quickdraw_dataset/full/numpy_bitmap/{name}.npy"
# How many drawings of each class the project uses: the first rows of Google's files.
QUICKDRAW_COUNTS = {"apple": 3000, "bicycle": 3000, "cat": 3000, "diamond": 3000, "eye": 3000,
                    "fish": 3000, "moon": 1000, "rainbow": 1000, "train": 1000}
SPLIT_SEED = 1234


@dataclass(frozen=True)
class Split:
    """Images and integer labels of one part of a dataset."""

    x: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.y)


@dataclass(frozen=True)
class Dataset:
    """A dataset split three ways, with its class names."""

    name: str
    classes: tuple[str, ...]
    train: Split
    val: Split
    test: Split

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "val": len(self.val), "test": len(self.test)}


def shared_data_dir() -> Path:
    """The folder of local datasets: `$VISION_LAB_DATA`, else `../shared/data` beside the project."""
    return Path(os.environ.get("VISION_LAB_DATA", PROJECT_ROOT.parent / "shared" / "data"))


def keras_home() -> Path:
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))


# ---------------------------------------------------------------- Fashion-MNIST
def fashion_mnist_dir() -> Path | None:
    """The first folder holding the four Fashion-MNIST files, or None."""
    candidates = []
    if os.environ.get("FASHION_MNIST_DIR"):
        candidates.append(Path(os.environ["FASHION_MNIST_DIR"]))
    candidates += [keras_home() / "datasets" / "fashion-mnist", FASHION_DEBIAN_DIR]
    for folder in candidates:
        if all((folder / f).is_file() for f in FASHION_FILES.values()):
            return folder
    return None


def _read_idx(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def load_fashion_mnist_arrays() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The original (x_train, y_train, x_test, y_test): 60,000 and 10,000 images of 28x28 uint8."""
    folder = fashion_mnist_dir()
    if folder is None:
        try:
            import keras

            (x_train, y_train), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()
            return x_train, y_train, x_test, y_test
        except Exception as err:  # no network: say how to get it
            raise DatasetMissingError(
                "Fashion-MNIST is not installed. Install it with "
                "`sudo apt-get install dataset-fashion-mnist`, or set FASHION_MNIST_DIR to a folder "
                "holding the four .gz files."
            ) from err
    arrays = {key: _read_idx(folder / name) for key, name in FASHION_FILES.items()}
    return arrays["x_train"], arrays["y_train"], arrays["x_test"], arrays["y_test"]


def load_fashion_mnist(val_size: int = 5000) -> Dataset:
    """Fashion-MNIST with a stratified, seeded validation set taken from the training images."""
    x_train, y_train, x_test, y_test = load_fashion_mnist_arrays()
    train_idx, val_idx = _stratified_split(y_train, [len(y_train) - val_size, val_size])
    return Dataset(
        "fashion_mnist", FASHION_CLASSES,
        Split(x_train[train_idx], y_train[train_idx]),
        Split(x_train[val_idx], y_train[val_idx]),
        Split(x_test, y_test),
    )


# ---------------------------------------------------------------- Quick, Draw!
def quickdraw_dir() -> Path | None:
    """The first folder holding every class's `<class>.npy`, or None."""
    for folder in (shared_data_dir() / "quickdraw", keras_home() / "datasets" / "quickdraw"):
        if all((folder / f"{c}.npy").is_file() for c in DOODLE_CLASSES):
            return folder
    return None


def _download_quickdraw() -> Path:
    import urllib.request

    folder = keras_home() / "datasets" / "quickdraw"
    folder.mkdir(parents=True, exist_ok=True)
    for name in DOODLE_CLASSES:
        target = folder / f"{name}.npy"
        if target.is_file():
            continue
        full = folder / f"{name}.full.npy"
        urllib.request.urlretrieve(QUICKDRAW_URL.format(name=name), full)
        np.save(target, np.load(full, mmap_mode="r")[: QUICKDRAW_COUNTS[name]])
        full.unlink()
    return folder


def load_doodle_arrays() -> tuple[np.ndarray, np.ndarray]:
    """All drawings (N, 28, 28) uint8, white ink on black, and their class indices."""
    folder = quickdraw_dir()
    if folder is None:
        try:
            folder = _download_quickdraw()
        except Exception as err:
            raise DatasetMissingError(
                "The Quick, Draw! doodles are not here. Put `<class>.npy` files in "
                f"{shared_data_dir() / 'quickdraw'} (or set VISION_LAB_DATA), or connect to the "
                "internet so they can be downloaded."
            ) from err
    images, labels = [], []
    for index, name in enumerate(DOODLE_CLASSES):
        drawings = np.load(folder / f"{name}.npy")[: QUICKDRAW_COUNTS[name]]
        images.append(drawings.reshape(-1, 28, 28))
        labels.append(np.full(len(drawings), index, dtype=np.uint8))
    return np.concatenate(images), np.concatenate(labels)


def load_doodles() -> Dataset:
    """Quick, Draw! doodles, split 70/10/20 stratified and seeded."""
    x, y = load_doodle_arrays()
    train_idx, val_idx, test_idx = _stratified_split(y, _fractions(len(y), (0.7, 0.1, 0.2)))
    return Dataset("quickdraw", DOODLE_CLASSES, Split(x[train_idx], y[train_idx]),
                   Split(x[val_idx], y[val_idx]), Split(x[test_idx], y[test_idx]))


def doodle_test_indices() -> np.ndarray:
    """Row numbers (in `load_doodle_arrays` order) of the doodle test split."""
    _, y = load_doodle_arrays()
    return _stratified_split(y, _fractions(len(y), (0.7, 0.1, 0.2)))[2]


# ---------------------------------------------------------------- flowers
def flowers_dir() -> Path | None:
    """The first folder holding one sub-folder of JPEGs per flower class, or None."""
    for folder in (shared_data_dir() / "flowers", keras_home() / "datasets" / "flowers"):
        if all((folder / c).is_dir() for c in FLOWER_CLASSES):
            return folder
    return None


@dataclass(frozen=True)
class FileSplit:
    """Paths (relative to the flowers folder) and labels of one part of the flowers dataset."""

    files: tuple[str, ...]
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.y)


def flower_file_splits() -> dict[str, FileSplit]:
    """The fixed, seeded, stratified 70/10/20 split of the flower photos by file name."""
    folder = flowers_dir()
    if folder is None:
        raise DatasetMissingError(
            "The flower photos are not here. Put the 5-class flowers-recognition collection "
            "(daisy/, dandelion/, rose/, sunflower/, tulip/) in "
            f"{shared_data_dir() / 'flowers'}, or set VISION_LAB_DATA to the folder that holds it."
        )
    files, labels = [], []
    for index, name in enumerate(FLOWER_CLASSES):
        for path in sorted((folder / name).glob("*.jpg")):
            files.append(f"{name}/{path.name}")
            labels.append(index)
    y = np.array(labels, dtype=np.uint8)
    parts = _stratified_split(y, _fractions(len(y), (0.7, 0.1, 0.2)))
    return {key: FileSplit(tuple(files[i] for i in idx), y[idx])
            for key, idx in zip(("train", "val", "test"), parts)}


def load_flower_image(relative_path: str, size: int = 224) -> np.ndarray:
    """One flower photo as the models take it: RGB uint8, centre-cropped and resized to size."""
    from vision.preprocess import photo_to_square

    from PIL import Image

    folder = flowers_dir()
    if folder is None:
        raise DatasetMissingError("The flower photos are not here (see `flower_file_splits`).")
    with Image.open(folder / relative_path) as image:
        rgb = np.asarray(image.convert("RGB"))
    return photo_to_square(rgb, size)


def load_flowers(size: int = 224) -> Dataset:
    """All flower photos decoded to (N, size, size, 3) uint8, split 70/10/20."""
    splits = flower_file_splits()
    parts = {key: Split(np.stack([load_flower_image(f, size) for f in s.files]), s.y)
             for key, s in splits.items()}
    return Dataset("flowers", FLOWER_CLASSES, parts["train"], parts["val"], parts["test"])


# ---------------------------------------------------------------- ImageNet
def imagenet_classes() -> tuple[str, ...]:
    """The 1000 ImageNet class names in the order of the classifier's outputs (short form: the
    first of each class's synonyms)."""
    names = json.loads((LABELS_DIR / "imagenet_classes.json").read_text(encoding="utf-8"))
    return tuple(name.split(",")[0].strip() for name in names)


def pretrained_weights_path(filename: str) -> str | None:
    """A local copy of a Keras pretrained weights file, or None to let Keras download it."""
    for folder in (keras_home() / "models", shared_data_dir() / "keras" / "models"):
        if (folder / filename).is_file():
            return str(folder / filename)
    return None


# ---------------------------------------------------------------- splitting
def _fractions(total: int, fractions: tuple[float, ...]) -> list[int]:
    sizes = [int(round(total * f)) for f in fractions[:-1]]
    return sizes + [total - sum(sizes)]


def _stratified_split(y: np.ndarray, sizes: list[int]) -> list[np.ndarray]:
    """Split indices into parts of the given sizes, each with the class mix of y; seeded."""
    from sklearn.model_selection import train_test_split

    rest = np.arange(len(y))
    parts = []
    for size in sizes[:-1]:
        if size == 0:
            parts.append(np.array([], dtype=int))
            continue
        part, rest = train_test_split(rest, train_size=size, stratify=y[rest], random_state=SPLIT_SEED)
        parts.append(np.sort(part))
    parts.append(np.sort(rest))
    return parts
