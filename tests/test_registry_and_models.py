"""The registry describes every model truthfully, and the compiled prediction call agrees with
Keras."""

import numpy as np
import pytest

from fixture_models import gap_cnn
from vision.errors import UnknownModelError, WeightsMissingError
from vision.models import Predictor, load_model, top_k_from_probabilities
from vision.preprocess import PREPROCESSORS
from vision import registry


@pytest.mark.parametrize("name", [n for n, s in registry.MODELS.items() if s.trained_here])
def test_registry_entry_matches_its_architecture(name):
    spec = registry.get_spec(name)
    model = spec.build()
    assert tuple(model.input_shape[1:]) == spec.input_shape
    assert model.output_shape[-1] == spec.num_classes
    assert spec.preprocessing in PREPROCESSORS
    if spec.cam_layer is not None:
        assert len(model.get_layer(spec.cam_layer).output.shape) == 4
    assert model.get_layer("probabilities").get_config()["activation"] == "softmax"


def test_imagenet_entry_has_1000_labels_and_a_cam_layer():
    spec = registry.get_spec("imagenet_mobilenet")
    assert spec.num_classes == 1000 and not spec.trained_here
    model = load_model("imagenet_mobilenet")
    assert model.output_shape[-1] == 1000 and len(model.get_layer(spec.cam_layer).output.shape) == 4


def test_unknown_model_and_missing_weights_have_helpful_errors(tmp_path, monkeypatch):
    with pytest.raises(UnknownModelError, match="fashion_cnn"):
        registry.get_spec("fashion_cnnn")
    monkeypatch.setattr(registry, "WEIGHTS_DIR", tmp_path)
    with pytest.raises(WeightsMissingError, match="python -m vision.train fashion_deep"):
        load_model("fashion_deep")


def test_compiled_prediction_agrees_with_keras_for_one_image_and_a_batch():
    model = gap_cnn()
    predictor = Predictor(model)
    images = np.random.default_rng(0).uniform(0, 255, (5, *predictor.input_shape)).astype("float32")
    expected = model.predict(images, verbose=0)
    assert np.allclose(predictor.probabilities(images), expected, atol=1e-5)
    assert np.allclose(predictor.probabilities(images[2]), expected[2], atol=1e-5)
    with pytest.raises(ValueError):
        predictor.probabilities(np.zeros((3, 3, 3), "float32"))


def test_top_k_is_sorted_and_labelled():
    probs = np.array([0.1, 0.5, 0.05, 0.35], dtype="float32")
    top = top_k_from_probabilities(probs, ("a", "b", "c", "d"), k=3)
    assert top.labels == ("b", "d", "a") and top.label == "b"
    assert np.allclose(top.probabilities, [0.5, 0.35, 0.1]) and top.probability == pytest.approx(0.5)
    assert len(top_k_from_probabilities(probs, ("a", "b", "c", "d"), k=10).labels) == 4
