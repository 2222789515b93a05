"""The pure helpers behind the study pages (vision.study)."""

import numpy as np
import pytest

from vision import data as datasets
from vision import study
from vision.data import TestImages
from vision.registry import get_dataset
from vision.insight import EvalFile


# ---------------------------------------------------------------- training history
def test_curves_keep_only_per_epoch_series():
    history = {"loss": [1.0, 0.5], "val_loss": [1.1, 0.7], "accuracy": [0.5, 0.8],
               "fine_tune_starts_at_epoch": [1], "lr": []}
    series = study.curves(history)
    assert set(series) == {"loss", "val_loss", "accuracy"}
    assert series["loss"].dtype == np.float64
    assert study.fine_tune_epoch(history) == 2  # one head-only epoch, fine-tuning from epoch 2
    assert study.fine_tune_epoch({"loss": [1.0]}) is None
    assert study.fine_tune_epoch({"fine_tune_starts_at_epoch": 4}) == 5


def test_overfitting_finds_the_turning_point():
    history = {"loss": [1.0, 0.6, 0.4, 0.3, 0.2, 0.1], "val_loss": [1.0, 0.7, 0.5, 0.55, 0.6, 0.7],
               "accuracy": [0.5, 0.7, 0.8, 0.9, 0.95, 0.99], "val_accuracy": [0.5, 0.7, 0.8, 0.8, 0.8, 0.79]}
    verdict = study.overfitting(history)
    assert verdict.overfits and verdict.best_val_epoch == 3 and verdict.epochs == 6
    assert verdict.val_loss_rise == pytest.approx(0.2) and verdict.train_loss_drop == pytest.approx(0.3)
    assert verdict.accuracy_gap == pytest.approx(0.2)
    assert "after epoch 3" in verdict.message and "overfits" in verdict.message


@pytest.mark.parametrize("val_loss, overfits, words", [
    ([1.0, 0.8, 0.6, 0.5], False, "No sign"),            # still falling
    ([1.0, 0.6, 0.605, 0.603], False, "Hardly any"),     # a wiggle under 2% is not overfitting
    ([1.0, 0.6, 0.7, 0.8], True, "after epoch 2"),
])
def test_overfitting_needs_a_real_rise(val_loss, overfits, words):
    verdict = study.overfitting({"loss": [1.0, 0.7, 0.5, 0.4], "val_loss": val_loss})
    assert verdict.overfits is overfits and words in verdict.message


def test_overfitting_without_validation_says_so():
    verdict = study.overfitting({"loss": [1.0, 0.5]})
    assert not verdict.overfits and verdict.best_val_epoch is None
    assert "cannot be judged" in verdict.message
    # Training loss rising too is not overfitting (the whole run went wrong).
    assert not study.overfitting({"loss": [0.5, 0.6, 0.7], "val_loss": [0.5, 0.6, 0.7]}).overfits


# ---------------------------------------------------------------- confusion matrix
def test_cell_order_mistakes_first_then_correct_then_empty():
    matrix = np.array([[5, 2, 0], [7, 4, 2], [0, 0, 3]])
    order = study.cell_order(matrix)
    assert order[:3] == [(1, 0), (0, 1), (1, 2)]  # most frequent mistake first, ties by cell
    assert order[3:6] == [(0, 0), (1, 1), (2, 2)]
    assert set(order[6:]) == {(0, 2), (2, 0), (2, 1)}
    assert len(order) == 9 and len(set(order)) == 9


# ---------------------------------------------------------------- test images
def eval_file(y_true, y_pred, **references) -> EvalFile:
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    wrong = np.flatnonzero(y_true != y_pred)
    return EvalFile(y_true, y_pred, np.zeros((len(y_true), 3), np.int64),
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
    groups = study.group_mistakes(np.array([1, 1, 1, -1, 0, 0, -1, -1, -1]),
                                  np.array([0, 0, 1, 2, 2, 2, 0, 0, 0]),
                                  np.array([1, 1, 0, 0, 1, 1, 2, 2, 2]))
    assert [g.label for g in groups] == [1, 0, -1]  # noise last, though the largest
    assert groups[0].top_pairs == ((0, 1, 2), (1, 0, 1))
    np.testing.assert_array_equal(groups[0].members, [0, 1, 2])
    assert groups[0].purity() == pytest.approx(2 / 3) and groups[1].purity() == 1.0
    names = ("cat", "dog", "fox")
    assert study.describe_group(groups[0], names) == "mostly cat → dog (2), then dog → cat (1)"
    assert study.describe_group(groups[1], names) == "mostly fox → dog (2)"


def test_disagreement_names_the_majority():
    assert study.disagreement({"a": "Shirt", "b": "Shirt"}) is None
    assert study.disagreement({"a": "Shirt"}) is None
    assert study.disagreement({"a": "Coat", "b": "Shirt", "c": "Shirt"}) == "Shirt"
    assert study.disagreement({"a": "Coat", "b": "Shirt"}) == "Coat"  # a tie: the first answer


def test_truncate_cuts_towards_zero():
    values = study.truncate(np.array([7 / 9, 1.0, -1 / 9, 0.29, -0.001, 5 / 9]))
    assert [f"{v:.2f}" for v in values] == ["0.77", "1.00", "-0.11", "0.29", "0.00", "0.55"]
    assert float(study.truncate(0.999)) == 0.99


def test_flip_pixel_copies():
    image = -np.ones((3, 3))
    flipped = study.flip_pixel(image, 1, 2)
    assert flipped[1, 2] == 1 and image[1, 2] == -1 and flipped.sum() == -7
    assert study.flip_pixel(flipped, 1, 2)[1, 2] == -1


def test_steady_range_around_upright():
    angles = np.arange(-30, 31, 10)
    assert study.steady_range(angles, np.array([2, 1, 1, 1, 1, 2, 1]), 1) == (-20.0, 10.0)
    assert study.steady_range(angles, np.array([1, 1, 1, 2, 1, 1, 1]), 1) is None
    assert study.steady_range(angles, np.ones(7, int), 1) == (-30.0, 30.0)
    assert study.steady_range(np.array([]), np.array([]), 0) is None
