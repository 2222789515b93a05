"""The registry describes every model truthfully, and the compiled prediction call agrees with
Keras."""

import inspect
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fixture_models import gap_cnn
from vision.errors import UnknownModelError, WeightsMissingError
from vision.models import Predictor, load_model, top_k_from_probabilities
from vision.preprocess import PREPROCESSORS
from vision import architectures, registry

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("name", [n for n, s in registry.MODELS.items() if s.trained_here])
def test_registry_entry_matches_its_architecture(name):
    spec = registry.get_spec(name)
    build = getattr(architectures, spec.architecture)
    # the architecture, not its pretrained weights: nothing is read from the Keras cache
    model = build(pretrained=False) if "pretrained" in inspect.signature(build).parameters else build()
    assert tuple(model.input_shape[1:]) == spec.input_shape
    assert model.output_shape[-1] == spec.num_classes
    assert spec.preprocessing in PREPROCESSORS
    if spec.cam_layer is not None:
        assert len(model.get_layer(spec.cam_layer).output.shape) == 4
    assert model.get_layer("probabilities").get_config()["activation"] == "softmax"


@pytest.mark.data  # the pretrained ImageNet weights, from the Keras cache
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


def test_every_dataset_is_registered_and_opens_with_one_of_its_own_models():
    datasets = {spec.dataset for spec in registry.MODELS.values()}
    assert set(registry.DATASETS) == datasets
    for name, dataset in registry.DATASETS.items():
        assert dataset.name == name
        assert registry.get_spec(dataset.default_model).dataset == name
        assert dataset.default_model in [spec.name for spec in dataset.models]
        assert (ROOT / dataset.page).is_file()
        assert set(dataset.labels) == set(dataset.models[0].labels)
    with pytest.raises(UnknownModelError, match="no dataset called 'mnist'"):
        registry.get_dataset("mnist")


def test_preloading_loads_each_model_once_default_models_first(monkeypatch):
    from ui import loaders

    specs = {name: registry.get_spec(name) for name in ("fashion_mlp", "fashion_deep")}
    monkeypatch.setattr(registry, "MODELS", specs)
    monkeypatch.setattr(registry, "DATASETS", {"fashion_mnist": registry.DATASETS["fashion_mnist"]})
    monkeypatch.setenv("VISION_LAB_PRELOAD", "1")
    loaded = []
    real_load = Predictor.load.__func__

    def counting_load(cls, name):
        loaded.append(name)
        return real_load(cls, name)

    monkeypatch.setattr(Predictor, "load", classmethod(counting_load))
    for cached in (loaders.predictor, loaders._explainer, loaders.preloading):
        cached.clear()
    state = loaders.preloading()  # what the home page shows before the first page has run
    assert state.names == ["fashion_deep", "fashion_mlp"] and not state.thread.is_alive()
    assert loaded == [] and not state.ready
    assert loaders.start_preloading() is state and not state.finished
    state.start()  # a second start does nothing
    state.thread.join(timeout=120)
    assert not state.thread.is_alive()
    assert loaded == ["fashion_deep", "fashion_mlp"]  # the page's default model first
    assert state.finished and state.ready == ["fashion_deep", "fashion_mlp"] and not state.failed
    assert loaders.start_preloading() is state and loaders.preloading() is state  # once per server
    model = loaders.predictor("fashion_deep")
    model.probabilities(np.zeros(model.input_shape, np.float32))
    assert model._call.experimental_get_tracing_count() == 1  # the warm-up's trace, reused
    heat_maps = loaders.explainer("fashion_deep")
    assert loaders.explainer("fashion_deep", registry.get_spec("fashion_deep").cam_layer) is heat_maps
    assert loaded == ["fashion_deep", "fashion_mlp"]  # the pages find them loaded
    assert heat_maps._forward.experimental_get_tracing_count() == 1  # and warmed up
    assert loaders.explainer("fashion_mlp") is None  # no conv layer, no heat map
    for cached in (loaders.predictor, loaders._explainer, loaders.preloading):
        cached.clear()


def test_preloading_can_be_turned_off(monkeypatch):
    from ui import loaders

    monkeypatch.setenv("VISION_LAB_PRELOAD", "0")
    loaders.preloading.clear()
    assert loaders.start_preloading() is None and loaders.preloading() is None
    loaders.preloading.clear()


def test_script_runs_keep_tensorflow_kernels_once_the_app_says_so():
    # In a fresh process: once the hook is replaced it stays replaced.
    script = """
import keras
from streamlit.testing.v1 import AppTest
from ui import loaders

calls = []
keras.backend.clear_session = lambda *args, **kwargs: calls.append(1)
AppTest.from_string("import streamlit as st\\nst.write('hi')").run()
before = len(calls)
loaders.keep_compiled_kernels()
AppTest.from_string("import streamlit as st\\nst.write('hi')").run()
print(before, len(calls) - before)
"""
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                            text=True, timeout=300, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert result.returncode == 0, result.stderr[-2000:]
    cleared_by_streamlit, cleared_after = map(int, result.stdout.split()[-2:])
    assert cleared_by_streamlit == 1  # Streamlit clears the Keras session after a run...
    assert cleared_after == 0  # ...and no longer once the app keeps its kernels
