"""Dataset loaders: sizes, stratified and repeatable splits, and helpful errors when data is missing."""

import io

import numpy as np
import pytest
from PIL import Image

from vision import data
from vision.errors import DatasetMissingError


@pytest.fixture(scope="module")
def fashion():
    return data.load_fashion_mnist()


@pytest.mark.data
def test_fashion_mnist_sizes_and_classes(fashion):
    assert fashion.sizes() == {"train": 55000, "val": 5000, "test": 10000}
    assert fashion.train.x.shape[1:] == (28, 28) and fashion.train.x.dtype == np.uint8
    assert len(fashion.classes) == 10 and fashion.classes[9] == "Ankle boot"
    # stratified validation set: 500 of each class
    assert np.bincount(fashion.val.y, minlength=10).tolist() == [500] * 10


def test_fashion_mnist_env_folder_comes_first(tmp_path, monkeypatch):
    for name in data.FASHION_FILES.values():
        (tmp_path / name).write_bytes(b"")  # only the files' presence is looked at
    monkeypatch.setenv("FASHION_MNIST_DIR", str(tmp_path))
    assert data.fashion_mnist_dir() == tmp_path


def test_missing_fashion_mnist_says_how_to_install(tmp_path, monkeypatch):
    import keras

    monkeypatch.setenv("FASHION_MNIST_DIR", str(tmp_path))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(data, "FASHION_DEBIAN_DIR", tmp_path / "nowhere")

    def offline():
        raise OSError("no network")

    monkeypatch.setattr(keras.datasets.fashion_mnist, "load_data", offline)
    with pytest.raises(DatasetMissingError, match="apt-get install dataset-fashion-mnist"):
        data.load_fashion_mnist_arrays()


@pytest.mark.data
def test_doodle_split_is_stratified_and_repeatable():
    first, second = data.load_doodles(), data.load_doodles()
    assert first.sizes() == {"train": 14700, "val": 2100, "test": 4200}
    assert np.array_equal(first.test.y, second.test.y) and np.array_equal(first.test.x, second.test.x)
    counts = np.bincount(first.test.y, minlength=9)
    assert counts.tolist() == [600] * 6 + [200] * 3
    x_all, _ = data.load_doodle_arrays()
    assert np.array_equal(x_all[data.doodle_test_indices()], first.test.x)


@pytest.mark.data
def test_flower_split_is_70_10_20_disjoint_and_fixed():
    splits = data.flower_file_splits()
    sizes = {k: len(v) for k, v in splits.items()}
    assert sum(sizes.values()) == 4307
    assert abs(sizes["train"] / 4307 - 0.7) < 0.005 and abs(sizes["test"] / 4307 - 0.2) < 0.005
    files = [set(s.files) for s in splits.values()]
    assert not (files[0] & files[1] or files[0] & files[2] or files[1] & files[2])
    assert splits["test"].files == data.flower_file_splits()["test"].files
    for split in splits.values():  # every class keeps its share
        share = np.bincount(split.y, minlength=5) / len(split)
        assert np.allclose(share, [764 / 4307, 1052 / 4307, 780 / 4307, 731 / 4307, 980 / 4307], atol=0.01)
    assert all(f.split("/")[0] == data.FLOWER_CLASSES[y] for f, y in zip(splits["val"].files, splits["val"].y))


def test_missing_flowers_and_doodles_say_where_to_put_them(tmp_path, monkeypatch):
    monkeypatch.setenv("VISION_LAB_DATA", str(tmp_path))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(DatasetMissingError, match="VISION_LAB_DATA"):
        data.flower_file_splits()
    monkeypatch.setattr(data, "_download_quickdraw", lambda: (_ for _ in ()).throw(OSError("offline")))
    with pytest.raises(DatasetMissingError, match="quickdraw"):
        data.load_doodle_arrays()


def test_imagenet_classes_in_output_order():
    names = data.imagenet_classes()
    assert len(names) == 1000
    assert names[0] == "tench" and names[985] == "daisy" and names[291] == "lion"


def test_pretrained_weights_are_looked_for_in_the_keras_cache_then_the_shared_folder(tmp_path, monkeypatch):
    keras_home, shared = tmp_path / "keras", tmp_path / "shared"
    monkeypatch.setenv("KERAS_HOME", str(keras_home))
    monkeypatch.setenv("VISION_LAB_DATA", str(shared))
    name = "mobilenet_1_0_224_tf.h5"
    assert data.pretrained_weights_path(name) is None  # nothing local: Keras may download it
    (shared / "keras" / "models").mkdir(parents=True)
    (shared / "keras" / "models" / name).write_bytes(b"weights")
    assert data.pretrained_weights_path(name) == str(shared / "keras" / "models" / name)
    (keras_home / "models").mkdir(parents=True)
    (keras_home / "models" / name).write_bytes(b"weights")
    assert data.pretrained_weights_path(name) == str(keras_home / "models" / name)  # the cache first


@pytest.mark.data
def test_pretrained_weights_are_here():
    # The ImageNet weights the Any photo page and the flowers transfer model need, offline.
    from vision.architectures import MOBILENET_V1_WITH_TOP, MOBILENET_V2_NO_TOP

    for name in (MOBILENET_V1_WITH_TOP, MOBILENET_V2_NO_TOP):
        path = data.pretrained_weights_path(name)
        assert path is not None and path.endswith(name)


# ---------------------------------------------------------------- what each dataset offers the app
def test_fashion_ships_its_gallery_with_the_weights(tmp_path, monkeypatch):
    from vision import registry

    monkeypatch.setattr(registry, "WEIGHTS_DIR", tmp_path)
    source = registry.get_dataset("fashion_mnist").source
    assert source.samples() is None and source.cover() is None  # nothing shipped yet
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(10), 7)
    test = data.Split(rng.integers(0, 256, (70, 28, 28, 1), dtype=np.uint8), y)
    source.ship_samples(data.Dataset("fashion_mnist", data.FASHION_CLASSES, test, test, test), tmp_path)
    samples = source.samples()
    assert len(samples) == 10 * data.FASHION_SAMPLES_PER_CLASS
    assert [label for _, _, label in samples[::4]] == list(data.FASHION_CLASSES)
    first_bag = np.flatnonzero(y == 8)[0]
    assert np.array_equal(samples[32][0], test.x[first_bag, ..., 0])
    assert np.array_equal(source.cover(), 255 - samples[-5][0])  # dark on white, like a photo


def test_doodle_gallery_takes_test_doodles_of_every_class(monkeypatch):
    from vision.registry import get_dataset

    labels = np.repeat(np.arange(9), 5)
    drawings = np.arange(45)[:, None, None] * np.ones((1, 28, 28), np.uint8)
    monkeypatch.setattr(data, "quickdraw_dir", lambda: "somewhere")
    monkeypatch.setattr(data, "load_doodle_arrays", lambda: (drawings, labels))
    monkeypatch.setattr(data, "doodle_test_indices", lambda: np.arange(1, 45, 2))
    samples = get_dataset("quickdraw").source.samples()
    assert [label for _, _, label in samples] == [c for c in data.DOODLE_CLASSES for _ in range(2)]
    rows = [int(caption.split()[-1]) for _, caption, _ in samples]
    assert all(row % 2 == 1 for row in rows)  # test rows only
    assert all(pixels[0, 0] == row for (pixels, _, _), row in zip(samples, rows))
    monkeypatch.setattr(data, "quickdraw_dir", lambda: None)
    shipped = get_dataset("quickdraw").source.samples()  # the doodles shipped in samples/
    assert shipped and all(caption.startswith("shipped test doodle") for _, caption, _ in shipped)
    assert "quickdraw" in get_dataset("quickdraw").source.missing_hint


# ---------------------------------------------------------------- samples shipped with the app
def test_shipped_doodles_are_test_doodles_of_every_class():
    from vision import samples

    shipped = samples.read_samples("quickdraw/doodles.npz")
    assert len(shipped) == samples.DOODLES_PER_CLASS * len(data.DOODLE_CLASSES)
    assert all(pixels.shape == (28, 28) and pixels.dtype == np.uint8 for pixels, _, _ in shipped)
    credits = (samples.SAMPLES_DIR / "quickdraw" / "CREDITS.md").read_text()
    assert "CC BY 4.0" in credits and "Google" in credits
    if data.quickdraw_dir() is not None:  # the very rows of the test split, pixel for pixel
        images, labels = data.load_doodle_arrays()
        test_rows = set(data.doodle_test_indices().tolist())
        with np.load(samples.SAMPLES_DIR / "quickdraw" / "doodles.npz") as f:
            rows = f["test_rows"]
        assert set(rows.tolist()) <= test_rows
        for (pixels, _, label), row in zip(shipped, rows):
            assert np.array_equal(pixels, images[row]) and data.DOODLE_CLASSES[labels[row]] == label


def test_shipped_photos_each_state_author_licence_and_source():
    from vision import samples

    credits = samples.photo_credits()
    assert credits and all(c.author and c.licence and c.source for c in credits)
    assert {c.licence for c in credits} <= {"CC0 1.0", "public domain", "CC BY 2.0"}
    for credit in credits:
        path = samples.SAMPLES_DIR / "photos" / credit.file
        assert path.stat().st_size < 60_000
        assert max(samples.read_samples("photos/photos.csv")[0][0].shape[:2]) <= samples.PHOTO_SIDE
    assert not (samples.SAMPLES_DIR / "flowers").exists()  # no licence per photo: none shipped


def test_without_the_datasets_the_galleries_come_from_the_shipped_samples(tmp_path, monkeypatch):
    from vision.registry import DATASETS

    monkeypatch.setenv("VISION_LAB_DATA", str(tmp_path))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    doodles = DATASETS["quickdraw"].source
    assert doodles.samples()[0][1].startswith("shipped test doodle")
    assert doodles.cover().shape == (28, 28)
    assert DATASETS["flowers"].source.samples() is None  # upload first
    assert DATASETS["flowers"].source.cover().shape == (96, 96, 3)
    photos = DATASETS["imagenet"].source.samples()
    assert [label for _, _, label in photos][0] == "a tabby cat (Chelsea)"


def test_is_blank_finds_flat_pictures_only():
    from vision.images import decode_image, is_blank

    clear = io.BytesIO()
    Image.new("RGBA", (50, 40), (0, 0, 0, 0)).save(clear, format="PNG")
    assert is_blank(decode_image(clear.getvalue()))  # transparent: white
    assert is_blank(np.full((9, 9, 3), 120, np.uint8))
    red = np.zeros((9, 9, 3), np.uint8)
    red[..., 0] = 255
    assert is_blank(red)  # one flat colour, even if its channels differ
    red[4, 4] = 0
    assert not is_blank(red)
