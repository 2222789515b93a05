"""The shipped models, re-evaluated on the real test splits: the figures in MODEL.json are the
ones a user gets, and they meet the targets of the model zoo."""

import json

import numpy as np
import pytest
from sklearn import metrics as skm

from vision import data
from vision.evaluation import THUMBNAILS_PER_CELL, Evaluation, evaluate
from vision.models import Predictor, load_model
from vision.registry import MODELS, WEIGHTS_DIR, get_dataset, get_spec, trained_models
from vision.train import load_training_data

TARGETS = {
    "fashion_mlp": 0.890,
    "fashion_cnn": 0.920,  # retrained for real photos (issue 10): 0.9236, was 0.9266
    "fashion_deep": 0.935,  # retrained for real photos (issue 10): 0.9393, was 0.9470
    "doodle_cnn": 0.958,  # 0.9607: five convs, one augmented sketch per drawing, 30 epochs (issue 9)
    "flowers_mobilenet": 0.920,
    "flowers_scratch": 0.700,
}
pytestmark = [pytest.mark.weights, pytest.mark.data]


@pytest.fixture(scope="module")
def test_splits():
    cache = {}

    def get(spec):
        if spec.dataset not in cache:
            cache[spec.dataset] = load_training_data(spec).test
        return cache[spec.dataset]

    return get


@pytest.mark.parametrize("name", TARGETS)
def test_shipped_model_matches_its_metrics_and_target(name, test_splits):
    spec = get_spec(name)
    facts = json.loads(spec.metrics_path.read_text())
    split = test_splits(spec)
    result = evaluate(Predictor(load_model(name), spec), split.x, split.y)

    assert result.accuracy == pytest.approx(facts["test"]["accuracy"], abs=0.003)
    assert result.accuracy >= TARGETS[name]
    assert facts["parameters"] == load_model(name).count_params()
    # the stored confusion matrix and report agree with scikit-learn on the same predictions
    with np.load(spec.eval_path) as ev:
        y_true, y_pred = ev["y_true"], ev["y_pred"]
    assert np.array_equal(y_true, split.y)
    labels = range(spec.num_classes)
    assert np.array_equal(facts["test"]["confusion_matrix"], skm.confusion_matrix(y_true, y_pred, labels=labels))
    p, r, f, s = skm.precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    rows = facts["test"]["per_class"]
    assert np.allclose([row["precision"] for row in rows], p) and np.allclose([row["f1"] for row in rows], f)
    assert np.allclose([row["recall"] for row in rows], r) and [row["support"] for row in rows] == s.tolist()
    if name == "doodle_cnn":
        assert min(r) >= 0.90


def test_fashion_cnn_is_a_small_gap_model_with_one_dense_layer():
    model = load_model("fashion_cnn")
    assert model.count_params() <= 150_000
    names = [layer.name for layer in model.layers]
    assert names[-4:] == ["gap", "head_dropout", "logits", "probabilities"]
    assert sum(type(layer).__name__ == "Dense" for layer in model.layers) == 1


def test_weights_folder_is_small_and_keeps_only_the_thumbnails_the_pages_show():
    total = sum(p.stat().st_size for p in WEIGHTS_DIR.iterdir())
    assert total <= 60 * 1024 * 1024  # 35.4 MiB with the ImageNet MobileNet (16.5 MiB)
    for name in trained_models():
        record = Evaluation.load(get_spec(name).eval_path)
        if not get_dataset(get_spec(name).dataset).source.thumbnails_licensed:
            # the flower photos' licences are unknown: not one of them ships, even as a thumbnail
            assert record.thumbnail_indices is None, name
            continue
        assert record.thumbnail_indices is not None, f"{name}: python -m vision.evaluation --refresh"
        # the mistakes (unless their pixels are in the file already) and <= 12 images per cell
        limit = (0 if record.misclassified_images is not None else len(record.misclassified)) \
            + THUMBNAILS_PER_CELL * record.classes
        assert len(record.thumbnail_indices) <= limit
        assert set(record.misclassified.tolist()) <= set(record.thumbnail_indices.tolist()) \
            or record.misclassified_images is not None
        with np.load(get_spec(name).eval_path) as ev:  # no full-size image arrays besides Fashion's
            assert all(ev[k].ndim < 3 for k in ev.files if k != "misclassified_images")


def test_imagenet_mobilenet_names_a_daisy_offline(tmp_path, monkeypatch):
    photo = data.load_flower_image(data.flower_file_splits()["test"].files[0])
    assert data.flower_file_splits()["test"].files[0].startswith("daisy/")
    # no Keras cache and no shared data: the shipped weights/imagenet_mobilenet.keras alone
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setenv("VISION_LAB_DATA", str(tmp_path))
    spec = get_spec("imagenet_mobilenet")
    assert data.pretrained_weights_path(spec.pretrained_file) is None and spec.weights_available
    predictor = Predictor.load("imagenet_mobilenet")
    top = predictor.top_k(photo, 5)
    assert top.label == "daisy" and top.probability > 0.5
    # the same answers as the model built from Google's Keras weights file (the refresh path)
    monkeypatch.undo()
    reference = get_spec("imagenet_mobilenet").build()
    expected = reference.predict(photo[None].astype(np.float32), verbose=0)[0]
    np.testing.assert_allclose(predictor.probabilities(photo), expected, atol=1e-5)


def test_without_its_file_or_the_cache_imagenet_is_missing_and_never_downloaded(tmp_path, monkeypatch):
    import keras

    from vision import registry
    from vision.errors import WeightsMissingError

    monkeypatch.setattr(registry, "WEIGHTS_DIR", tmp_path)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setenv("VISION_LAB_DATA", str(tmp_path))
    downloads = []
    monkeypatch.setattr(keras.utils, "get_file", lambda *a, **k: downloads.append(a))
    assert not get_spec("imagenet_mobilenet").weights_available
    with pytest.raises(WeightsMissingError, match="python -m vision.train imagenet_mobilenet"):
        load_model("imagenet_mobilenet")
    assert downloads == []


@pytest.mark.parametrize("name, doodles_at_least", [
    ("fashion_mlp", 0.15), ("fashion_cnn", 0.6), ("fashion_deep", 0.6)])
def test_shipped_novelty_profile_passes_clothes_and_flags_doodles(name, doodles_at_least,
                                                                 test_splits):
    """The Fashion page's "unlike anything it was trained on": about 1% of the Fashion-MNIST test
    split (the profile's 0.99 quantile on the training images), and most Quick, Draw! doodles,
    which are not clothes at all (measured 1.1 / 1.0 / 0.4% and 24% / 81% / 84%)."""
    from vision import novelty

    profile = novelty.load(name)
    assert profile is not None, f"weights/{name}_novelty.npz is missing"
    predictor = Predictor.load(name)
    clothes = test_splits(get_spec(name)).x
    assert np.mean(profile.unfamiliar(predictor.embeddings(clothes))) <= 0.02
    doodles = test_splits(get_spec("doodle_cnn")).x[:1000]
    assert np.mean(profile.unfamiliar(predictor.embeddings(doodles))) >= doodles_at_least
