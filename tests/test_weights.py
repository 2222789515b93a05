"""The shipped models, re-evaluated on the real test splits: the figures in MODEL.json are the
ones a user gets, and they meet the targets of the model zoo."""

import json

import numpy as np
import pytest
from sklearn import metrics as skm

from vision import data
from vision.evaluation import evaluate
from vision.models import Predictor, load_model
from vision.registry import MODELS, WEIGHTS_DIR, get_spec
from vision.train import load_training_data

TARGETS = {
    "fashion_mlp": 0.890,
    "fashion_cnn": 0.925,
    "fashion_deep": 0.940,
    "doodle_cnn": 0.950,
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


def test_weights_folder_is_small_and_has_no_dataset_images():
    total = sum(p.stat().st_size for p in WEIGHTS_DIR.iterdir())
    assert total <= 40 * 1024 * 1024
    for spec in MODELS.values():
        if spec.dataset in ("quickdraw", "flowers") and spec.eval_path.exists():
            with np.load(spec.eval_path) as ev:
                assert not any(a.ndim >= 3 for a in (ev[k] for k in ev.files))


def test_imagenet_mobilenet_names_a_daisy_offline():
    predictor = Predictor.load("imagenet_mobilenet")
    photo = data.load_flower_image(data.flower_file_splits()["test"].files[0])
    assert data.flower_file_splits()["test"].files[0].startswith("daisy/")
    top = predictor.top_k(photo, 5)
    assert top.label == "daisy" and top.probability > 0.5
