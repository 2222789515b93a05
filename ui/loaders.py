"""Cached loaders. Models and explainers load once per process (`st.cache_resource`, shared by all
sessions, never mutated); files read from `weights/` are cached as data."""

from __future__ import annotations

import gc
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st

from vision import novelty, registry, tensorflow_threads
from vision.data import TestImages
from vision.errors import VisionLabError
from vision.evaluation import Evaluation

log = logging.getLogger("vision_lab")
# The app's TensorFlow threads, set here because this module is what loads the models: app.py
# imports it first, before anything runs a TensorFlow operation (vision/tensorflow_threads.py
# says why these counts; training keeps TensorFlow's own, sized for large batches).
tensorflow_threads.set_defaults()


def keep_compiled_kernels() -> None:
    """Stop Streamlit from clearing the Keras session after every script run.

    Streamlit does it to protect apps that build models inside the script. This app builds them
    once, in cached loaders, so the clearing only throws away TensorFlow's compiled kernels: the
    first prediction after each rerun then re-optimises the graph, 0.27 s on MobileNetV2 instead
    of 0.025 s (and a doodle stroke waits for it too). Only Streamlit's hook is replaced, once.
    """
    from streamlit.runtime.scriptrunner import script_runner

    if hasattr(script_runner, "_clean_problem_modules"):  # a private hook: gone in a new Streamlit, no harm
        script_runner._clean_problem_modules = _no_cleanup


def _no_cleanup() -> None:
    """Nothing to clean: the app builds no Keras model and draws no matplotlib figure in a run."""


@st.cache_resource(show_spinner="Loading the model (once per server)...")
def predictor(name: str):
    """The registered model wrapped in a compiled, warmed-up prediction call."""
    from vision.models import Predictor

    return Predictor.load(name)


def explainer(name: str, layer: str | None = None):
    """The explainer of a model's layer, built and warmed up once per (model, layer), as
    `vision.explain.explainer_for` chooses it (its `method` says which); None for a model
    without conv layers. `layer` None means the registry's CAM layer."""
    return _explainer(name, layer or registry.get_spec(name).cam_layer)


@st.cache_resource(show_spinner="Preparing the heat map...")
def _explainer(name: str, layer: str | None):
    from vision.explain import explainer_for

    explainer_ = explainer_for(predictor(name).model, registry.get_spec(name), layer)
    if explainer_ is not None:
        explainer_.warm_up()
    return explainer_


PRELOAD_THREAD = "vision-lab-preload"


class _PreloadNoiseFilter(logging.Filter):
    """Drops two warnings that are false alarms here. Streamlit's "missing ScriptRunContext" from
    the preload thread: it has no page to draw a spinner on, by design. TensorFlow's "triggered
    tf.function retracing": it counts the models' separate compiled calls together, while each
    of them traces once (tests/test_explain.py and tests/test_registry_and_models.py check it)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.threadName == PRELOAD_THREAD and "missing ScriptRunContext" in message:
            return False
        return "triggered tf.function retracing" not in message


PRELOAD_DELAY_S = 1.0  # after the first page is drawn, let the browser show it first


class Preloading:
    """The background loading of the models: what it has done so far, for the home page."""

    def __init__(self, names: list[str], thread: threading.Thread):
        self.names = names  # the models to load, in order
        self.ready: list[str] = []
        self.failed: list[str] = []
        self.current: str | None = None
        self.finished = False
        self.thread = thread
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start the loading (once; later calls do nothing)."""
        with self._lock:
            if not self.thread.is_alive() and not self.finished and self.thread.ident is None:
                self.thread.start()


@st.cache_resource(show_spinner=False)
def preloading() -> Preloading | None:
    """The background loading of every model and its default heat map, once per server (None
    with VISION_LAB_PRELOAD=0, e.g. on a small machine), so that the first prediction on any page
    is quick: a class going from page to page never waits for a model to load. Created here,
    started by `start_preloading`."""
    if os.environ.get("VISION_LAB_PRELOAD", "1") == "0":
        return None

    # the models the pages open with first, the others after them
    first = [registry.get_spec(dataset.default_model) for dataset in registry.DATASETS.values()]
    order = [spec for spec in first + [spec for spec in registry.MODELS.values() if spec not in first]
             if spec.weights_available]

    def preload() -> None:
        time.sleep(PRELOAD_DELAY_S)
        start = time.perf_counter()
        for spec in order:
            state.current = spec.name
            try:
                predictor(spec.name)
                explainer(spec.name)
            except Exception:  # the page that needs the model will say what is wrong
                log.warning("could not preload %s", spec.name, exc_info=True)
                state.failed.append(spec.name)
            else:
                log.info("%s ready after %.1f s", spec.name, time.perf_counter() - start)
                state.ready.append(spec.name)
        state.current = None
        state.finished = True
        # Tens of thousands of long-lived TensorFlow objects now: keep the garbage collector from
        # walking them again on every full collection during page runs.
        gc.freeze()

    quiet = _PreloadNoiseFilter()
    logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").addFilter(quiet)
    logging.getLogger("tensorflow").addFilter(quiet)
    state = Preloading([spec.name for spec in order],
                       threading.Thread(target=preload, name=PRELOAD_THREAD, daemon=True))
    return state


def start_preloading() -> Preloading | None:
    """Start the background loading (once per server). The app calls it after the first page
    has run: importing TensorFlow and building models would otherwise compete with drawing the
    first page a user opens (the home page took 11 to 20 s to draw its cards that way)."""
    state = preloading()
    if state is not None:
        state.start()
    return state


@st.cache_resource(show_spinner="Preparing the layers...")
def activation_extractor(name: str):
    """Feature maps of every conv and pooling layer, built once per model."""
    from vision.activations import ActivationExtractor

    return ActivationExtractor(predictor(name).model)


def file_version(path: Path) -> float:
    """The file's modification time (-1 when missing): part of the cache key of everything read
    from a file, so that a model trained while the app runs appears without a restart."""
    return path.stat().st_mtime if path.is_file() else -1.0


@st.cache_data(show_spinner=False, max_entries=32)
def _metrics(name: str, version: float) -> dict[str, Any] | None:
    return registry.load_metrics(name)


def metrics(name: str) -> dict[str, Any] | None:
    """What training wrote to `weights/MODEL.json`, or None when the file is missing."""
    return _metrics(name, file_version(registry.get_spec(name).metrics_path))


@st.cache_data(show_spinner="Loading the samples...", max_entries=8)
def _samples(dataset: str, version: float) -> list | None:
    return registry.get_dataset(dataset).source.samples()


def samples(dataset: str) -> list[tuple[np.ndarray, str, str]] | None:
    """A dataset's gallery as (pixels, caption, class name), or None when none is at hand: the
    dataset's test images when it is here, else what is shipped (Fashion's with the weights, the
    doodles and photos in samples/; no flower photo is shipped)."""
    return _samples(dataset, _samples_version(dataset))


def _samples_version(dataset: str) -> float:
    # The shipped Fashion samples are rewritten by training: their file is part of the key.
    path = registry.get_dataset(dataset).source.samples_path()
    return 0.0 if path is None else file_version(path)


# Per-image results, cached as data so that moving a slider (opacity, k, colour scale) reruns the
# page without running the network again. Keyed by the model's name and the model-ready input.
# No spinner: a cached call's spinner starts a timer thread and sends a message on every call (the
# Doodle makes two calls a stroke), to show text only after 0.5 s, which these calls never take
# (the largest, MobileNet with Grad-CAM, takes about 0.1 s); loading a model keeps its spinner.
@st.cache_data(show_spinner=False, max_entries=64)
def probabilities(name: str, model_input: np.ndarray) -> np.ndarray:
    """Class probabilities of one model-ready image for a registered model."""
    return predictor(name).probabilities(model_input)


@st.cache_resource(show_spinner=False, max_entries=16)
def _novelty_profile(name: str, version: float):
    return novelty.load(name)


@st.cache_data(show_spinner=False, max_entries=64)
def unfamiliar(name: str, model_input: np.ndarray) -> bool | None:
    """Whether one model-ready image is far from every class the model trained on (see
    `vision.novelty`); None when the model has no novelty profile."""
    profile = _novelty_profile(name, file_version(novelty.profile_path(name)))
    if profile is None:
        return None
    return bool(profile.unfamiliar(predictor(name).embeddings(model_input[None])[0]))


@st.cache_data(show_spinner=False, max_entries=64)
def guess(name: str, model_input: np.ndarray):
    """(probabilities, heat map of the predicted class) of one model-ready image, from ONE call of
    the model: the explainer's forward pass gives the logits too (a stroke on Doodle pays for
    one model call, not two). The heat map is None for a model without conv layers."""
    explainer_ = explainer(name)
    if explainer_ is None:
        return predictor(name).probabilities(model_input), None
    explained = explainer_.explain(model_input)
    return explained.probabilities, explained


@st.cache_data(show_spinner=False, max_entries=64)
def explanation(name: str, model_input: np.ndarray, class_index: int, layer: str | None = None,
                against: int | None = None):
    """The heat map of one model-ready image for one class: CAM / Grad-CAM on `layer`, or on the
    model's default layer when None. With `against`, the contrast "why `class_index` and not
    `against`": the map of the score logit[class_index] - logit[against]. None for a model
    without conv layers."""
    explainer_ = explainer(name, layer)
    if explainer_ is None:
        return None
    if against is None:
        return explainer_.explain(model_input, int(class_index))
    from vision.explain import contrast_target

    target = contrast_target(explainer_.num_classes, int(class_index), int(against))
    return explainer_.explain(model_input, target=target)


@st.cache_data(show_spinner=False)
def feature_map_layers(name: str) -> list[str]:
    """The layers of a model with feature maps, input to output: those the Layers page shows and
    a heat map can be computed on."""
    from vision.activations import feature_map_layer_names

    return feature_map_layer_names(predictor(name).model)


def method_name(name: str, layer: str | None = None) -> str:
    """ "CAM" or "Grad-CAM": the method `explanation(name, ..., layer)` uses, as its explainer
    says."""
    return explainer(name, layer).method


@st.cache_data(show_spinner=False)
def _cover(dataset: str, version: float) -> np.ndarray | None:
    return registry.get_dataset(dataset).source.cover()


def cover(dataset: str) -> np.ndarray | None:
    """A small picture of what a dataset's models look at, or None when no image is at hand."""
    return _cover(dataset, _samples_version(dataset))


# ---------------------------------------------------------------- test-set evaluations
@st.cache_resource(show_spinner=False, max_entries=8)
def _evaluation(path: str, version: float, classes: int) -> Evaluation:
    import dataclasses

    evaluation_ = Evaluation.load(path)
    if evaluation_.num_classes is None:  # a file written before the class count was stored
        evaluation_ = dataclasses.replace(evaluation_, num_classes=classes)
    return evaluation_


def evaluation(name: str) -> Evaluation:
    """The model's test predictions (`weights/MODEL_eval.npz`); raises WeightsMissingError with a
    plain message when it is missing or unreadable. Shared and never mutated."""
    return _evaluation(*evaluation_version(name), registry.get_spec(name).num_classes)


def evaluation_version(name: str) -> tuple[str, float]:
    """What identifies the current evaluation file (path and modification time), for cache keys."""
    path = registry.get_spec(name).eval_path
    return str(path), file_version(path)


@st.cache_resource(show_spinner="Reading the test images...", max_entries=8)
def _test_images(name: str, path: str, version: float) -> TestImages:
    return TestImages(registry.get_dataset(registry.get_spec(name).dataset).source, evaluation(name))


def test_images(name: str) -> TestImages:
    """Finds a model's test images again (the datasets load once per server)."""
    return _test_images(name, *evaluation_version(name))


def top_k(name: str, model_input: np.ndarray, k: int = 5):
    """The k most probable classes of one model-ready image (`vision.models.TopK`), from the
    cached probabilities."""
    from vision.models import top_k_from_probabilities

    return top_k_from_probabilities(probabilities(name, model_input), registry.get_spec(name).labels, k)


def heat_map(name: str, model_input: np.ndarray, class_index: int) -> np.ndarray | None:
    """The heat map (H, W) in [0, 1] of one image for one class on the model's default layer;
    None when the model has no conv layer or its explainer cannot be built."""
    if registry.get_spec(name).cam_layer is None:
        return None
    try:
        explained = explanation(name, model_input, int(class_index))
    except (VisionLabError, ValueError):
        log.warning("no heat map for %s", name, exc_info=True)
        return None
    return None if explained is None else explained.heatmap
