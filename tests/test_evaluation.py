"""The evaluation record (vision.evaluation): reading the files training writes, metrics against
scikit-learn, confusion-matrix cells, mistake groups, agreement; and finding test images again
through each dataset's source (vision.data.TestImages)."""

import numpy as np
import pytest
from sklearn import metrics as skm

from vision import data as datasets
from vision.data import TestImages
from vision.errors import WeightsMissingError
from vision.evaluation import (Evaluation, class_report, confusion_matrix, cell_order, describe_group,
                               disagreement, group_mistakes)
from vision.registry import get_dataset


# ---------------------------------------------------------------- the evaluation file
def write_eval(path, y_true, y_pred):
    wrong = np.flatnonzero(y_true != y_pred)
    np.savez_compressed(
        path, y_true=y_true.astype(np.uint16), y_pred=y_pred.astype(np.uint16),
        top3_indices=np.zeros((len(y_true), 3), np.uint16),
        top3_probabilities=np.full((len(y_true), 3), 0.5, np.float16),
        misclassified=wrong.astype(np.int32),
        embeddings=np.arange(len(wrong) * 4, dtype=np.float16).reshape(-1, 4),
        misclassified_images=np.zeros((len(wrong), 28, 28), np.uint8))


def test_load_eval_and_cells(tmp_path):
    y_true = np.array([0, 0, 1, 1, 2, 2, 2, 0])
    y_pred = np.array([0, 1, 1, 0, 1, 1, 2, 1])
    write_eval(tmp_path / "m_eval.npz", y_true, y_pred)
    ev = Evaluation.load(tmp_path / "m_eval.npz")
    assert ev.y_true.dtype == np.int64 and ev.embeddings.dtype == np.float32
    assert ev.misclassified_images.shape == (5, 28, 28) and ev.test_files is None
    np.testing.assert_array_equal(ev.cell(0, 1), [1, 7])
    np.testing.assert_array_equal(ev.cell(2, 2), [6])
    np.testing.assert_array_equal(ev.cell(1, 2), [])
    assert ev.loss is None  # files written before the loss was stored there still load
    np.testing.assert_array_equal(ev.confusion, skm.confusion_matrix(y_true, y_pred))
    # positions of test images among the mistakes: 7 is the 5th mistake, 6 was right
    np.testing.assert_array_equal(ev.mistake_positions([7, 6, 1]), [4, -1, 0])


def test_load_eval_missing_file_is_a_typed_error(tmp_path):
    with pytest.raises(WeightsMissingError, match="fashion_cnn"):
        Evaluation.load(tmp_path / "fashion_cnn_eval.npz")
    np.savez(tmp_path / "bad_eval.npz", y_true=np.zeros(3))
    with pytest.raises(WeightsMissingError):
        Evaluation.load(tmp_path / "bad_eval.npz")


def test_confusion_matrix_and_report_match_scikit_learn():
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 6, 500)
    y_pred = np.where(rng.random(500) < 0.6, y_true, rng.integers(0, 6, 500))
    y_pred[y_pred == 5] = 4  # class 5 is never predicted: precision must be 0, not NaN
    matrix = confusion_matrix(y_true, y_pred, 6)
    assert np.array_equal(matrix, skm.confusion_matrix(y_true, y_pred, labels=range(6)))
    report = class_report(y_true, y_pred, 6)
    p, r, f, s = skm.precision_recall_fscore_support(y_true, y_pred, labels=range(6), zero_division=0)
    assert np.allclose(report.precision, p) and np.allclose(report.recall, r)
    assert np.allclose(report.f1, f) and np.array_equal(report.support, s)
    assert report.precision[5] == 0.0


# ---------------------------------------------------------------- confusion matrix
def test_cell_order_mistakes_first_then_correct_then_empty():
    matrix = np.array([[5, 2, 0], [7, 4, 2], [0, 0, 3]])
    order = cell_order(matrix)
    assert order[:3] == [(1, 0), (0, 1), (1, 2)]  # most frequent mistake first, ties by cell
    assert order[3:6] == [(0, 0), (1, 1), (2, 2)]
    assert set(order[6:]) == {(0, 2), (2, 0), (2, 1)}
    assert len(order) == 9 and len(set(order)) == 9


# ---------------------------------------------------------------- test images
def eval_file(y_true, y_pred, **references) -> Evaluation:
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    wrong = np.flatnonzero(y_true != y_pred)
    return Evaluation(y_true, y_pred, np.zeros((len(y_true), 3), np.int64),
                    np.zeros((len(y_true), 3), np.float32), wrong,
                    np.zeros((len(wrong), 4), np.float32), **references)


def test_fashion_mistakes_come_from_the_eval_file_and_the_rest_from_the_dataset(monkeypatch):
    y_true, y_pred = [0, 1, 2, 1], [0, 2, 2, 0]
    shipped = np.stack([np.full((28, 28), 10, np.uint8), np.full((28, 28), 20, np.uint8)])
    results = eval_file(y_true, y_pred, misclassified_images=shipped)
    monkeypatch.setattr(datasets, "fashion_mnist_dir", lambda: None)
    finder = TestImages(get_dataset("fashion_mnist").source, results)
    images = finder.images([3, 0, 1])
    assert images[0][0, 0] == 20 and images[1] is None and images[2][0, 0] == 10
    assert not finder.needs_dataset(np.array([1, 3]))
    assert finder.needs_dataset(np.array([0]))
    assert "not shipped" in finder.missing_message()

    x_test = np.arange(4)[:, None, None] * np.ones((1, 28, 28), np.uint8)
    monkeypatch.setattr(datasets, "fashion_mnist_dir", lambda: "somewhere")
    monkeypatch.setattr(datasets, "load_fashion_mnist_arrays",
                        lambda: (None, None, x_test, np.array(y_true)))
    finder = TestImages(get_dataset("fashion_mnist").source, results)
    assert finder.images([0, 2])[1][0, 0] == 2 and finder.missing_message() is None


def test_fashion_refuses_a_different_test_set(monkeypatch):
    results = eval_file([0, 1], [1, 1], misclassified_images=np.zeros((1, 28, 28), np.uint8))
    monkeypatch.setattr(datasets, "fashion_mnist_dir", lambda: "somewhere")
    monkeypatch.setattr(datasets, "load_fashion_mnist_arrays",
                        lambda: (None, None, np.zeros((2, 28, 28)), np.array([1, 1])))
    assert TestImages(get_dataset("fashion_mnist").source, results).images([1]) == [None]


def test_doodles_are_found_by_row(monkeypatch):
    drawings = np.arange(10)[:, None, None] * np.ones((1, 28, 28), np.uint8)
    results = eval_file([0, 1, 1], [1, 1, 0], test_rows=np.array([7, 2, 5]))
    monkeypatch.setattr(datasets, "quickdraw_dir", lambda: "somewhere")
    monkeypatch.setattr(datasets, "load_doodle_arrays", lambda: (drawings, np.zeros(10)))
    images = TestImages(get_dataset("quickdraw").source, results).images([2, 0])
    assert images[0][0, 0] == 5 and images[1][0, 0] == 7
    monkeypatch.setattr(datasets, "quickdraw_dir", lambda: None)
    finder = TestImages(get_dataset("quickdraw").source, results)
    assert finder.images([0]) == [None] and "Quick, Draw!" in finder.missing_message()


def test_flowers_are_read_once_and_a_broken_photo_is_none(monkeypatch):
    calls = []

    def load(path):
        calls.append(path)
        if path == "rose/broken.jpg":
            raise OSError("truncated")
        return np.zeros((224, 224, 3), np.uint8)

    results = eval_file([0, 1], [1, 1], test_files=np.array(["daisy/a.jpg", "rose/broken.jpg"]))
    monkeypatch.setattr(datasets, "flowers_dir", lambda: "somewhere")
    monkeypatch.setattr(datasets, "load_flower_image", load)
    finder = TestImages(get_dataset("flowers").source, results)
    first = finder.images([0, 1])
    assert first[0].shape == (224, 224, 3) and first[1] is None
    finder.images([0])
    assert calls == ["daisy/a.jpg", "rose/broken.jpg"]


# ---------------------------------------------------------------- groups, agreement, display
def test_group_mistakes_sizes_pairs_and_noise_last():
    groups = group_mistakes(np.array([1, 1, 1, -1, 0, 0, -1, -1, -1]),
                                  np.array([0, 0, 1, 2, 2, 2, 0, 0, 0]),
                                  np.array([1, 1, 0, 0, 1, 1, 2, 2, 2]))
    assert [g.label for g in groups] == [1, 0, -1]  # noise last, though the largest
    assert groups[0].top_pairs == ((0, 1, 2), (1, 0, 1))
    np.testing.assert_array_equal(groups[0].members, [0, 1, 2])
    assert groups[0].purity() == pytest.approx(2 / 3) and groups[1].purity() == 1.0
    names = ("cat", "dog", "fox")
    assert describe_group(groups[0], names) == "mostly cat → dog (2), then dog → cat (1)"
    assert describe_group(groups[1], names) == "mostly fox → dog (2)"


def test_disagreement_names_the_majority():
    assert disagreement({"a": "Shirt", "b": "Shirt"}) is None
    assert disagreement({"a": "Shirt"}) is None
    assert disagreement({"a": "Coat", "b": "Shirt", "c": "Shirt"}) == "Shirt"
    assert disagreement({"a": "Coat", "b": "Shirt"}) == "Coat"  # a tie: the first answer




def test_a_saved_evaluation_loads_back_whole(tmp_path):
    rng = np.random.default_rng(1)
    y_true = rng.integers(0, 4, 40)
    y_pred = np.where(rng.random(40) < 0.7, y_true, (y_true + 1) % 4)
    wrong = np.flatnonzero(y_true != y_pred)
    top3 = np.stack([y_pred, (y_pred + 1) % 4, (y_pred + 2) % 4], axis=1)
    record = Evaluation(y_true, y_pred, top3, rng.random((40, 3)).astype(np.float32), wrong,
                        rng.normal(size=(len(wrong), 6)).astype(np.float32), loss=0.4321,
                        num_classes=5, test_rows=np.arange(40, dtype=np.int32) * 3)
    record.save(tmp_path / "m_eval.npz")
    back = Evaluation.load(tmp_path / "m_eval.npz")
    np.testing.assert_array_equal(back.y_pred, y_pred)
    np.testing.assert_array_equal(back.test_rows, record.test_rows)
    np.testing.assert_allclose(back.embeddings, record.embeddings, atol=1e-2)  # stored as float16
    assert back.loss == pytest.approx(0.4321) and back.misclassified_images is None
    assert back.confusion.shape == (5, 5)  # class 4 never occurs, and is still a row
    assert back.accuracy == pytest.approx(np.mean(y_true == y_pred))
    assert [row["support"] for row in back.report.as_rows("abcde")] == np.bincount(y_true, minlength=5).tolist()


# ---------------------------------------------------------------- thumbnails (a bare clone)
def test_thumbnails_hold_the_mistakes_and_the_first_images_of_each_cell(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    y_true = np.repeat(np.arange(3), 20)
    y_pred = y_true.copy()
    y_pred[[1, 2, 25, 41]] = [1, 2, 0, 1]
    grey = rng.integers(0, 256, (60, 28, 28, 1), dtype=np.uint8)
    record = eval_file(y_true, y_pred, test_rows=np.arange(60)).with_thumbnails(grey, per_cell=5)
    expected = set(np.flatnonzero(y_true != y_pred).tolist())
    for c in range(3):  # the first 5 right answers of each class
        expected |= set(np.flatnonzero((y_true == c) & (y_pred == c))[:5].tolist())
    assert sorted(expected) == record.thumbnail_indices.tolist()
    record.save(tmp_path / "m_eval.npz")
    loaded = Evaluation.load(tmp_path / "m_eval.npz")
    shown = loaded.thumbnail_images([25, 0, 59])
    assert np.array_equal(shown[0], grey[25, ..., 0]) and np.array_equal(shown[1], grey[0, ..., 0])
    assert shown[2] is None  # the 15th right answer of its class is not kept
    # the doodle finder falls back on them when the dataset is absent, and says nothing is missing
    monkeypatch.setattr(datasets, "quickdraw_dir", lambda: None)
    finder = TestImages(get_dataset("quickdraw").source, loaded)
    assert not finder.needs_dataset(loaded.misclassified) and finder.needs_dataset([59])
    assert np.array_equal(finder.images([41])[0], grey[41, ..., 0])
    assert finder.thumbnail_note([41]) is None  # grey thumbnails are lossless


def test_photo_thumbnails_are_small_jpegs_back_at_the_model_size(monkeypatch):
    y_true, y_pred = np.array([0, 1, 1, 0]), np.array([1, 1, 1, 0])
    smooth = np.linspace(0, 255, 224, dtype=np.uint8)
    photos = np.stack([np.stack([np.add.outer(smooth, smooth * 0) // (k + 1)] * 3, -1)
                       for k in range(4)]).astype(np.uint8)
    record = eval_file(y_true, y_pred).with_thumbnails(photos)
    assert int(record.thumbnail_offsets[-1]) < 4 * 12_000  # JPEGs of at most 128 px
    back = record.thumbnail_images([0])[0]
    assert back.shape == (224, 224, 3)
    assert np.abs(back.astype(int) - photos[0]).mean() < 4  # close to the original
    monkeypatch.setattr(datasets, "flowers_dir", lambda: None)
    finder = TestImages(get_dataset("flowers").source, record)
    assert np.array_equal(finder.images([0])[0], back) and not finder.needs_dataset([0, 1])
    assert "blurrier" in finder.thumbnail_note([0])  # lossy copies: the page says so


def test_fashion_thumbnails_skip_the_mistakes_already_in_the_file():
    y_true, y_pred = np.array([0, 1, 2, 1]), np.array([0, 2, 2, 0])
    images = np.zeros((4, 28, 28), np.uint8)
    record = eval_file(y_true, y_pred, misclassified_images=images[[1, 3]]).with_thumbnails(images)
    assert record.thumbnail_indices.tolist() == [0, 2]
