"""Loading a model the user brings: the bad-input table, and what an accepted model can do.

Every file is built in the test (tests/user_model_files.py). Each refusal must be a typed
ModelFileError (UnsafeModelError for code) with a message that says what is wrong."""

from __future__ import annotations

import builtins

import keras
import numpy as np
import pytest

import user_model_files as files
from vision import user_models as um
from vision.errors import ModelFileError, UnsafeModelError


# ---------------------------------------------------------------- the bad-input table
BAD_INPUTS = [
    # (case, file bytes builder, file name, error type, words the message must hold)
    ("renamed JPEG", files.renamed_jpeg, "photo.keras", ModelFileError, "JPEG image"),
    ("truncated zip", files.truncated, "model.keras", ModelFileError, "damaged or incomplete"),
    ("zip bomb", files.zip_bomb, "model.keras", ModelFileError, "zip bomb"),
    ("extra assets", files.with_assets, "model.keras", ModelFileError, "assets/run_me.sh"),
    ("Lambda layer", files.with_lambda, "model.keras", UnsafeModelError, "Lambda (double)"),
    ("custom layer", files.with_custom_layer, "model.keras", UnsafeModelError, "classroom>Brighten"),
    ("two inputs", files.two_inputs, "model.keras", ModelFileError, "takes 2 inputs"),
    ("1000x1000 input", files.huge_input, "model.keras", ModelFileError, "1000x1000"),
    ("huge parameter count", files.huge_parameter_count, "model.keras", ModelFileError,
     "819,"),
    ("enormous compute", files.enormous_compute, "model.keras", ModelFileError,
     "billion operations for one image"),
    ("feature-map output", files.feature_map_output, "model.keras", ModelFileError,
     "one vector of class"),
    ("sigmoid output", files.sigmoid_output, "model.keras", ModelFileError, "sigmoid"),
    ("not a zip", lambda: b"just some notes" * 10, "notes.keras", ModelFileError,
     "not a Keras model"),
]


@pytest.mark.parametrize("case, build, name, error, words", BAD_INPUTS,
                         ids=[row[0] for row in BAD_INPUTS])
def test_bad_model_files_are_refused_with_a_plain_message(case, build, name, error, words):
    with pytest.raises(error) as caught:
        um.load_user_model(build(), name)
    message = str(caught.value)
    assert words in message
    assert "Traceback" not in message and len(message) < 400


def test_legacy_h5_is_refused_and_says_how_to_resave(tmp_path):
    data = files.legacy_h5(tmp_path)
    assert data.startswith(um.HDF5_SIGNATURE)
    for name in ("model.h5", "renamed.keras"):  # by its name or by its contents
        with pytest.raises(ModelFileError, match=r"model\.save\('my_model\.keras'\)"):
            um.load_user_model(data, name)


def test_a_file_over_the_limit_is_refused_from_its_size_alone():
    with pytest.raises(ModelFileError, match="too big .51 MB.; the limit is 50 MB"):
        um.check_upload_size(51 * 2**20)
    um.check_upload_size(um.MAX_FILE_BYTES)  # exactly at the limit is fine
    with pytest.raises(ModelFileError, match="empty"):
        um.check_upload_size(0)


def test_code_is_refused_before_keras_deserialises_anything(monkeypatch):
    def no_deserialising(*args, **kwargs):
        raise AssertionError("deserialised a hostile config")

    monkeypatch.setattr(keras.saving, "deserialize_keras_object", no_deserialising)
    for build in (files.with_lambda, files.with_custom_layer):
        with pytest.raises(UnsafeModelError):
            um.load_user_model(build())


def test_a_huge_architecture_is_measured_without_allocating_it():
    architecture_error = None
    try:
        um.check_architecture(um.check_archive(files.huge_parameter_count()))
    except ModelFileError as err:
        architecture_error = str(err)
    # 64*64*2 inputs x 100,000 units + biases + the 3-class layer: counted from shapes
    expected = 2 * 9 + 2 + 8192 * 100_000 + 100_000 + 100_000 * 3 + 3
    assert architecture_error is not None and f"{expected:,} parameters" in architecture_error


def test_too_slow_a_model_is_refused_and_a_fast_one_is_not():
    with pytest.raises(ModelFileError, match=r"to look at one image; the limit is 0.01 s"):
        um.load_user_model(um.keras_bytes(files.slow(128)), max_seconds=0.01)
    accepted = um.load_user_model(files.valid())
    assert 0 < accepted.predict_seconds < um.MAX_PREDICT_SECONDS


def test_labels_must_match_the_classes():
    assert um.parse_labels(b"cat\ndog\nbird\n\n", 3) == ("cat", "dog", "bird")
    assert um.parse_labels(None, 2) == ("class 0", "class 1")
    with pytest.raises(ModelFileError, match="2 names but the model has 3 classes"):
        um.parse_labels(b"cat\ndog\n", 3)
    with pytest.raises(ModelFileError, match="not text"):
        um.parse_labels(b"\xff\xfe\x00bad", 3)


# ---------------------------------------------------------------- an accepted model
def test_a_valid_model_loads_from_memory_and_predicts_as_keras_does(monkeypatch):
    written = []
    real_open = builtins.open

    def watching_open(file, mode="r", *args, **kwargs):
        if any(flag in mode for flag in "wax+"):
            written.append(file)
        return real_open(file, mode, *args, **kwargs)

    reference = files.small_cnn()
    data = um.keras_bytes(reference)
    monkeypatch.setattr(builtins, "open", watching_open)
    user = um.load_user_model(data, "mine.keras", labels=b"cat\ndog\nbird\n")
    monkeypatch.undo()
    assert written == []  # nothing written to disk
    assert user.labels == ("cat", "dog", "bird") and user.input_shape == (28, 28, 1)
    assert user.rescaling == "Rescaling(scale=1/255, offset=0)"
    assert user.parameters == reference.count_params()
    assert [row.name for row in user.rows][1:] == ["scale", "c1", "p1", "c2", "gap", "scores", "soft"]
    image = np.random.default_rng(0).uniform(0, 255, (28, 28, 1)).astype(np.float32)
    expected = reference.predict(image[None], verbose=0)[0]
    np.testing.assert_allclose(user.probabilities(image), expected, rtol=1e-5, atol=1e-6)
    assert user.explainable_layers() == ["c1", "p1", "c2"]
    assert [layer.name for layer in user.activations(image)] == ["c1", "p1", "c2"]


@pytest.mark.parametrize("softmax", ["layer", "dense", "none"])
def test_grad_cam_explains_the_pre_softmax_score(softmax):
    """With a softmax (a layer, or a Dense's activation) the explainer reaches the score before
    it; without one, the model's own logits. The reference: GAP features times the last kernel."""
    reference = files.small_cnn(softmax=softmax)
    user = um.load_user_model(um.keras_bytes(reference))
    assert user.ends_in_softmax == (softmax != "none")
    image = np.random.default_rng(1).uniform(0, 255, (28, 28, 1)).astype(np.float32)
    dense = reference.get_layer("out" if softmax == "dense" else "scores")
    features = keras.Model(reference.inputs[0], reference.get_layer("gap").output)(image[None])
    kernel, bias = dense.get_weights()
    logits = np.asarray(features)[0] @ kernel + bias
    for class_index in range(3):
        explanation = user.explain(image, class_index, "c2")
        assert explanation.class_index == class_index
        assert explanation.logit == pytest.approx(float(logits[class_index]), rel=1e-4, abs=1e-5)
        assert explanation.heatmap.shape == (28, 28)
        assert 0.0 <= explanation.heatmap.min() and explanation.heatmap.max() <= 1.0
    probabilities = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    np.testing.assert_allclose(user.probabilities(image), probabilities, rtol=1e-4, atol=1e-6)


def test_grad_cam_on_an_early_layer_differs_from_the_last_one():
    user = um.load_user_model(files.valid())
    image = np.zeros((28, 28, 1), np.float32)
    image[4:12, 4:12] = 255
    early, late = (user.explain(image, 0, layer).heatmap for layer in ("c1", "c2"))
    assert early.shape == late.shape == (28, 28) and not np.allclose(early, late)


def test_pixel_scale_is_applied_only_without_a_rescaling_layer():
    user = um.load_user_model(files.valid(rescaling=False))
    assert user.rescaling is None
    image = np.full((28, 28, 1), 255.0, np.float32)
    for scale, value in (("0-1", 1.0), ("0-255", 255.0), ("-1..1", 1.0)):
        user.pixel_scale = scale
        assert float(user.scaled(image).max()) == pytest.approx(value)
    user.pixel_scale = "-1..1"
    assert float(user.scaled(np.zeros((28, 28, 1), np.float32)).min()) == pytest.approx(-1.0)


def test_pictures_are_adapted_to_the_model_input():
    from vision.preprocess import doodle_from_canvas

    canvas = np.full((200, 200, 3), 255, np.uint8)
    canvas[40:160, 95:105] = 0  # a vertical bar
    rgb_model = (64, 48, 3)
    prepared = um.prepare_picture("doodle", canvas, rgb_model)
    assert prepared.model_input.shape == rgb_model and prepared.steps[-1].name == "64x48 input"
    assert prepared.model_input.max() > 200
    grey = um.prepare_picture("doodle", canvas, (28, 28, 1))
    np.testing.assert_array_equal(grey.model_input, doodle_from_canvas(canvas).model_input)
    photo = um.prepare_picture("photo", np.full((300, 400, 3), 90, np.uint8), (96, 96, 3))
    assert photo.model_input.shape == (96, 96, 3)


def test_a_sequential_model_is_explained_like_the_same_model_built_in_memory():
    import fixture_models as fm
    from vision.explain import GradCAM

    reference = fm.sequential_cnn()
    user = um.load_user_model(um.keras_bytes(reference))
    image = fm.random_images(1, (20, 20, 1))[0]
    assert user.explainable_layers() == ["conv1", "pool1", "conv2"]
    for layer in ("conv1", "conv2"):
        expected = GradCAM(reference, layer).explain(image, 1)
        got = user.explain(image, 1, layer)
        assert got.logit == pytest.approx(expected.logit, rel=1e-4, abs=1e-5)
        np.testing.assert_allclose(got.heatmap, expected.heatmap, atol=1e-4)


def test_a_nested_backbone_predicts_but_is_not_offered_as_a_layer_to_explain():
    from keras import layers

    inputs = keras.Input((32, 32, 3))
    backbone = keras.Sequential([keras.Input((32, 32, 3)), layers.Conv2D(4, 3, name="inner")],
                                name="backbone")
    x = layers.Conv2D(4, 3, name="outer")(backbone(inputs))
    x = layers.GlobalAveragePooling2D()(x)
    reference = keras.Model(inputs, layers.Dense(3, activation="softmax")(x))
    user = um.load_user_model(um.keras_bytes(reference))
    assert user.nested_models == ["backbone"] and user.explainable_layers() == ["outer"]
    image = np.random.default_rng(2).uniform(0, 255, (32, 32, 3)).astype(np.float32)
    np.testing.assert_allclose(user.probabilities(image), reference.predict(image[None], verbose=0)[0],
                               rtol=1e-5, atol=1e-6)
    assert user.explain(image, 0, "outer").heatmap.shape == (32, 32)


def test_the_operation_count_matches_a_hand_count():
    config = um.check_archive(files.valid())
    architecture = um.check_architecture(config)
    # c1: 3x3x1x6 kernel at 28x28, c2: 3x3x6x8 at 14x14, the dense 8x3 once; x2 for multiply-add
    expected = 2 * (9 * 6 * 28 * 28 + 9 * 6 * 8 * 14 * 14 + 8 * 3) / 1e9
    assert architecture.gigaflops == pytest.approx(expected)
    assert architecture.parameters == files.small_cnn().count_params()


def test_the_operation_count_of_mobilenet_v2_matches_its_paper():
    """MobileNetV2 (alpha 1, 224x224): 300 million multiply-adds (Sandler et al. 2018, table 4)."""
    model = keras.applications.MobileNetV2(weights=None, input_shape=(224, 224, 3))
    architecture = um.check_architecture(um.check_archive(um.keras_bytes(model)))
    assert architecture.gigaflops / 2 == pytest.approx(0.300, rel=0.05)
    assert architecture.parameters == model.count_params()
