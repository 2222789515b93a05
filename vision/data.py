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
    """The first folder holding the four Fashion-MNIST files, or None. `$FASHION_MNIST_DIR`, when
    set, is the only place looked at (an empty folder there stands for a machine without it)."""
    if os.environ.get("FASHION_MNIST_DIR"):
        candidates = [Path(os.environ["FASHION_MNIST_DIR"])]
    else:
        candidates = [keras_home() / "datasets" / "fashion-mnist", FASHION_DEBIAN_DIR]
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


# ---------------------------------------------------------------- what each dataset offers the app
Sample = tuple[np.ndarray, str, str]  # (pixels, caption, class name) of one gallery picture


class DatasetSource:
    """Where one dataset's pictures come from, for training and for the app: its training data,
    its gallery samples and cover picture, and how an evaluation file refers to its test images.
    One subclass per dataset, named by its `DatasetSpec` in `vision.registry`."""

    classes: tuple[str, ...] = ()
    samples_hint: str | None = None  # said where the gallery would be, while the data is missing
    # where a dataset read from the shared data folder goes: its sub-folder, what it holds, and
    # what to put there
    shared_folder: str | None = None
    what = how = ""
    # Whether evaluation files may ship thumbnails of this dataset's test images: only where each
    # image's licence is known.
    thumbnails_licensed = True

    @property
    def missing_hint(self) -> str:
        """How to get the data."""
        if self.shared_folder is None:
            return "The images of this test set are not available."
        return (f"The {self.what} are not on this machine: put {self.how} in "
                f"`{shared_data_dir() / self.shared_folder}` (or set VISION_LAB_DATA) to see them.")

    def __init__(self, shipped: str | None = None, cover_index: int = 0,
                 cover_from: str | None = None):
        # `shipped`: the samples shipped with the app, relative to `samples/` (`vision.samples`),
        # shown while the dataset itself is not on the machine; `cover_index`: which sample
        # pictures the dataset on the home page, taken from the shipped file `cover_from`
        # (default: `shipped`) while the dataset is absent.
        self.shipped = shipped
        self.cover_index = cover_index
        self.cover_from = cover_from or shipped

    def shipped_samples(self) -> list[Sample] | None:
        """The samples shipped with the app, or None when it ships none."""
        from vision.samples import read_samples

        return None if self.shipped is None else read_samples(self.shipped)

    def shipped_cover(self) -> np.ndarray | None:
        """The cover picture taken from the shipped samples (a doodle turned dark on light)."""
        from vision.samples import read_samples

        shipped = None if self.cover_from is None else read_samples(self.cover_from)
        if not shipped:
            return None
        pixels = shipped[self.cover_index % len(shipped)][0]
        return 255 - pixels if pixels.ndim == 2 else _small(pixels, 96)

    def available(self) -> bool:
        """Whether the dataset's images are on this machine."""
        return False

    def training_data(self, limit: int | None = None) -> Dataset:
        """Train, validation and test images (N, H, W, C); `limit` keeps a seeded slice of each
        split (for quick tests of the training code)."""
        raise ValueError(f"the models of {type(self).__name__} are not trained here")

    def samples(self) -> list[Sample] | None:
        """Pictures for the page's gallery, or None when none is at hand."""
        return None

    def samples_path(self) -> Path | None:
        """The file of samples shipped with the weights, if the dataset has one."""
        return None

    def cover(self) -> np.ndarray | None:
        """A small picture of what the dataset's models look at (dark on light, for the home
        page's cards), or None."""
        return None

    def ship_samples(self, data: Dataset, out_dir: Path) -> None:
        """Write the samples shipped with the weights (most datasets ship none)."""

    def test_references(self, data: Dataset, misclassified: np.ndarray) -> dict[str, np.ndarray]:
        """What the evaluation file stores to find each test image again."""
        return {}

    def test_images(self, references, indices: np.ndarray,
                    memo: dict) -> list[np.ndarray | None]:
        """The pixels of test images by index, from the evaluation file's `references` and the
        dataset when it is here; None for an image that is not available. `memo` is a dict the
        caller keeps between calls (loaded arrays, decoded photos)."""
        return [None] * len(indices)

    def needs_dataset(self, references, indices: np.ndarray) -> bool:
        """Whether showing these test images needs the dataset (they are not all shipped)."""
        return len(np.ravel(indices)) > 0


class TestImages:
    """Finds the pixels of a model's test images again, from what its evaluation file refers to
    (`references`: a `vision.evaluation.Evaluation`), through its dataset's source. Nothing is
    downloaded; what is loaded is kept for the next call."""

    __test__ = False  # not a pytest class, despite its name

    def __init__(self, source: DatasetSource, references):
        self.source = source
        self.references = references
        self._memo: dict = {}

    def missing_message(self, need_dataset: bool = True) -> str | None:
        """One line on how to get the images, or None when they are all here."""
        if not need_dataset or self.source.available():
            return None
        return self.source.missing_hint

    def needs_dataset(self, test_indices: np.ndarray) -> bool:
        """Whether showing these test images needs the dataset (they are not all shipped, in
        the evaluation file's thumbnails or otherwise)."""
        indices = np.asarray(test_indices, dtype=np.int64).ravel()
        indices = indices[~self._thumbnailed(indices)]
        return self.source.needs_dataset(self.references, indices)

    def from_thumbnails(self, test_indices: np.ndarray) -> bool:
        """Whether some of these images would be shown from the evaluation file's thumbnails
        (the dataset is absent), which are smaller than the originals."""
        indices = np.asarray(test_indices, dtype=np.int64).ravel()
        return not self.source.available() and bool(np.any(self._thumbnailed(indices)))

    def thumbnail_note(self, test_indices: np.ndarray) -> str | None:
        """What to say when these images come from the shipped thumbnails and are not exactly
        the originals (photos, kept as small JPEGs); None otherwise."""
        shape = getattr(self.references, "thumbnail_shape", None)
        if shape is None or len(shape) != 3 or not self.from_thumbnails(test_indices):
            return None
        return ("Small copies of the test photos, shipped with the model (the full photos are "
                "absent here): they, and the heat maps computed on them, are a little blurrier "
                "than the originals.")

    def images(self, test_indices: np.ndarray) -> list[np.ndarray | None]:
        """The pixels of each test image (28x28 uint8, or 224x224x3 uint8 for flowers): from the
        dataset when it is here, else from the evaluation file's thumbnails; None for an image
        that is not available here."""
        indices = np.asarray(test_indices, dtype=np.int64).ravel()
        out = self.source.test_images(self.references, indices, self._memo)
        missing = [i for i, image in enumerate(out) if image is None]
        if missing and getattr(self.references, "thumbnail_indices", None) is not None:
            for i, image in zip(missing, self.references.thumbnail_images(indices[missing])):
                out[i] = image
        return out

    def _thumbnailed(self, indices: np.ndarray) -> np.ndarray:
        has = getattr(self.references, "has_thumbnails", None)
        return np.zeros(len(indices), bool) if has is None else has(indices)


def _small(pixels: np.ndarray, side: int) -> np.ndarray:
    """A centre-cropped square thumbnail of a photo."""
    from vision.preprocess import photo_to_square

    return photo_to_square(np.asarray(pixels, np.uint8), side)


def _with_channel(data: Dataset, limit: int | None) -> Dataset:
    parts = [_slice(s, limit) for s in (data.train, data.val, data.test)]
    return Dataset(data.name, data.classes, *[Split(p.x[..., None], p.y) for p in parts])


def _slice(split: Split, limit: int | None) -> Split:
    if limit is None or limit >= len(split):
        return split
    keep = np.sort(np.random.default_rng(TRAINING_SLICE_SEED).permutation(len(split))[:limit])
    return Split(split.x[keep], split.y[keep])


TRAINING_SLICE_SEED = 42  # the training seed: a slice is the same in every run
FASHION_SAMPLES_FILE = "fashion_samples.npz"
FASHION_SAMPLES_PER_CLASS = 4


class FashionMNIST(DatasetSource):
    """Fashion-MNIST: the gallery is shipped with the weights (MIT-licensed), and so are the
    pixels of each model's mistakes; the rest of the test set comes from the installed dataset."""

    classes = FASHION_CLASSES
    missing_hint = ("The correctly classified Fashion-MNIST images are not shipped with the app: "
                    "install Fashion-MNIST (`sudo apt-get install dataset-fashion-mnist`) to see them.")

    def available(self) -> bool:
        return fashion_mnist_dir() is not None

    def training_data(self, limit=None):
        return _with_channel(load_fashion_mnist(), limit)

    def samples_path(self) -> Path:
        from vision import registry

        return registry.WEIGHTS_DIR / FASHION_SAMPLES_FILE

    def samples(self):
        path = self.samples_path()
        if not path.is_file():
            return None
        with np.load(path) as shipped:
            images, labels = shipped["images"], shipped["labels"]
        return [(image, f"test image {i}", self.classes[int(y)])
                for i, (image, y) in enumerate(zip(images, labels))]

    def cover(self):
        samples = self.samples()
        return None if not samples else 255 - samples[-5][0]  # dark on white, like a photo

    def ship_samples(self, data, out_dir):
        picks = np.concatenate([np.flatnonzero(data.test.y == c)[:FASHION_SAMPLES_PER_CLASS]
                                for c in range(len(data.classes))])
        np.savez_compressed(out_dir / FASHION_SAMPLES_FILE, images=data.test.x[picks, ..., 0],
                            labels=data.test.y[picks], test_indices=picks)

    def test_references(self, data, misclassified):
        return {"misclassified_images": data.test.x[misclassified, ..., 0].astype(np.uint8)}

    def test_images(self, references, indices, memo):
        out: list[np.ndarray | None] = [None] * len(indices)
        shipped = references.misclassified_images
        if shipped is not None:
            for i, position in enumerate(references.mistake_positions(indices)):
                if position >= 0:
                    out[i] = shipped[position]
        missing = [i for i, image in enumerate(out) if image is None]
        if not missing or not self.available():
            return out
        if "x_test" not in memo:
            _, _, x_test, y_test = load_fashion_mnist_arrays()
            # The eval file was written for this very test set; refuse a different one.
            same = len(y_test) == len(references.y_true) and not np.any(y_test != references.y_true)
            memo["x_test"] = x_test if same else None
        if memo["x_test"] is None:
            return out
        for i in missing:
            out[i] = np.asarray(memo["x_test"][int(indices[i])], dtype=np.uint8)
        return out

    def needs_dataset(self, references, indices):
        if references.misclassified_images is not None:
            return bool(np.any(references.mistake_positions(indices) < 0))
        return len(np.ravel(indices)) > 0


class QuickDraw(DatasetSource):
    """Quick, Draw! doodles: read from the shared data folder when they are here; an evaluation
    file refers to each test doodle by its row."""

    classes = DOODLE_CLASSES
    SAMPLES_PER_CLASS = 2

    shared_folder, what, how = "quickdraw", "doodles", "the Quick, Draw! `<class>.npy` files"

    def available(self) -> bool:
        return quickdraw_dir() is not None

    def training_data(self, limit=None):
        return _with_channel(load_doodles(), limit)

    def samples(self):
        if not self.available():
            return self.shipped_samples()
        images, labels = load_doodle_arrays()
        rows = doodle_test_indices()
        return [(images[row], f"test doodle {int(row)}", name)
                for index, name in enumerate(self.classes)
                for row in [r for r in rows if labels[r] == index][:self.SAMPLES_PER_CLASS]]

    def cover(self):
        folder = quickdraw_dir()
        if folder is None:
            return self.shipped_cover()
        return 255 - np.load(folder / "cat.npy", mmap_mode="r")[0]

    def test_references(self, data, misclassified):
        return {"test_rows": doodle_test_indices().astype(np.int32)}

    def test_images(self, references, indices, memo):
        if references.test_rows is None or not self.available():
            return [None] * len(indices)
        if "arrays" not in memo:
            memo["arrays"] = load_doodle_arrays()[0]
        rows = references.test_rows[np.asarray(indices, dtype=np.int64)]
        return [np.asarray(memo["arrays"][int(row)], dtype=np.uint8) for row in rows]


class Flowers(DatasetSource):
    """The flower photos: read from the shared data folder when they are here; an evaluation file
    refers to each test photo by its file name."""

    classes = FLOWER_CLASSES
    SAMPLES_PER_CLASS = 4
    samples_hint = ("Sample photos appear here when the flower dataset is on this machine "
                    "(`$VISION_LAB_DATA/flowers`).")

    shared_folder, what, how = "flowers", "flower photos", "the flowers-recognition folders"
    # The collection states no author or licence per photo, so none is shipped, not even as a
    # thumbnail in an evaluation file.
    thumbnails_licensed = False

    def available(self) -> bool:
        return flowers_dir() is not None

    def training_data(self, limit=None):
        splits = flower_file_splits()
        parts = []
        for key in ("train", "val", "test"):
            split = splits[key]
            keep = np.arange(len(split))
            if limit is not None and limit < len(split):
                keep = np.sort(np.random.default_rng(TRAINING_SLICE_SEED).permutation(len(split))[:limit])
            images = np.stack([load_flower_image(split.files[i]) for i in keep])
            parts.append(Split(images, split.y[keep]))
            print(f"  loaded {len(keep)} {key} photos", flush=True)
        return Dataset("flowers", FLOWER_CLASSES, *parts)

    def samples(self):
        if not self.available():
            return self.shipped_samples()
        test = flower_file_splits()["test"]
        return [(load_flower_image(file), file.split("/")[-1], name)
                for index, name in enumerate(FLOWER_CLASSES)
                for file in [f for f, y in zip(test.files, test.y) if y == index][:self.SAMPLES_PER_CLASS]]

    def cover(self):
        # a shipped cover draws at once (splitting the dataset to find a test photo takes seconds)
        if self.cover_from is not None or not self.available():
            return self.shipped_cover()
        return load_flower_image(flower_file_splits()["test"].files[self.cover_index], 96)

    def test_references(self, data, misclassified):
        return {"test_files": np.array(flower_file_splits()["test"].files)}

    def test_images(self, references, indices, memo):
        if references.test_files is None or not self.available():
            return [None] * len(indices)
        out = []
        for index in np.asarray(indices, dtype=np.int64):
            if int(index) not in memo:
                try:
                    memo[int(index)] = load_flower_image(str(references.test_files[index]))
                except (OSError, ValueError):  # a photo removed or damaged since training
                    memo[int(index)] = None
            out.append(memo[int(index)])
        return out


class ImageNetPhotos(Flowers):
    """ImageNet itself is not here: the gallery is the photos shipped with the app (any photo
    will do), then the flower test photos when they are on the machine."""

    classes = ()
    samples_hint = None

    def samples(self):
        shipped = self.shipped_samples() or []
        flowers = super().samples() if self.available() else []
        return (shipped + (flowers or [])) or None


    def training_data(self, limit=None):
        return DatasetSource.training_data(self, limit)

    def test_references(self, data, misclassified):
        return {}

    def test_images(self, references, indices, memo):
        return [None] * len(indices)
