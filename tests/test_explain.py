"""CAM / Grad-CAM on tiny models built in code: a grid of model x method x target, plus a
localisation test on a model trained to find a bright square."""

from types import SimpleNamespace

import cv2
import numpy as np
import pytest

import fixture_models as fm
from vision.activations import feature_map_layer_names
from vision.explain import CAM, CAMNotSupportedError, Explainer, GradCAM, contrast_target, explainer_for
from vision.heatmaps import overlay_heatmap, scale_to_size

BUILDERS = {
    "gap_cnn": fm.gap_cnn,
    "dense_head_cnn": fm.dense_head_cnn,
    "sequential_cnn": fm.sequential_cnn,
    "mlp": fm.mlp,
    "flat_transfer": fm.flat_transfer,
}


@pytest.fixture(scope="module")
def models():
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = BUILDERS[name]()
        return cache[name]
    return get


def image_for(model, seed=fm.SEED):
    return fm.random_images(1, model.input_shape[1:], seed=seed)[0]


def predicted_class(model, image):
    return int(np.argmax(model(image[None], training=False)[0]))


def correlation(a, b):
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def assert_nontrivial(heatmap):
    assert heatmap.max() == pytest.approx(1.0)
    assert heatmap.std() > 1e-3, "the map is flat: the test would prove nothing"


@pytest.mark.parametrize("target", ["predicted", "other"])
def test_cam_and_gradcam_agree_on_gap_model(models, target):
    # For GAP -> Dense, d logit_c / d A_k = w_kc / (h*w) everywhere: the maps are equal up to scale.
    model = models("gap_cnn")
    image = image_for(model)
    predicted = predicted_class(model, image)
    class_index = predicted if target == "predicted" else (predicted + 1) % 4
    cam = CAM(model)(image, class_index)
    grad_cam = GradCAM(model, "conv2")(image, class_index)
    assert_nontrivial(cam)
    assert_nontrivial(grad_cam)
    assert correlation(cam, grad_cam) > 0.99


@pytest.mark.parametrize("name, method", [
    ("gap_cnn", CAM), ("gap_cnn", GradCAM), ("dense_head_cnn", GradCAM),
    ("sequential_cnn", GradCAM), ("flat_transfer", GradCAM)])
def test_heatmap_contract_for_every_class(models, name, method):
    model = models(name)
    explainer = method(model)
    image = image_for(model)
    height, width = model.input_shape[1:3]
    peaks = []
    for class_index in range(model.output_shape[-1]):
        heatmap = explainer(image, class_index)
        assert heatmap.dtype == np.float32
        assert heatmap.shape == (height, width)
        assert np.isfinite(heatmap).all()
        assert heatmap.min() >= 0.0 and heatmap.max() <= 1.0
        peaks.append(float(heatmap.max()))
    # A map is either blank (no positive evidence: ReLU) or scaled so that its peak is exactly 1.
    assert all(peak == 0.0 or peak == pytest.approx(1.0) for peak in peaks)
    assert max(peaks) == pytest.approx(1.0)
    # Built once: every call, whatever the class, reuses one trace.
    assert explainer._forward.experimental_get_tracing_count() == 1


@pytest.mark.parametrize("method", [CAM, GradCAM])
def test_warm_up_traces_once_and_changes_no_result(models, method):
    model = models("gap_cnn")
    image = image_for(model, seed=5)
    cold = method(model)
    expected = cold(image, 1)
    warm = method(model)
    warm.warm_up()
    assert warm._forward.experimental_get_tracing_count() == 1
    np.testing.assert_allclose(warm(image, 1), expected, atol=1e-6)
    assert warm._forward.experimental_get_tracing_count() == 1  # the user's call reused it


@pytest.mark.parametrize("method", [CAM, GradCAM])
def test_default_target_is_the_predicted_class(models, method):
    model = models("gap_cnn")
    image = image_for(model, seed=3)
    explainer = method(model)
    explanation = explainer.explain(image)
    predicted = predicted_class(model, image)
    assert explanation.class_index == predicted
    np.testing.assert_array_equal(explanation.heatmap, explainer(image, predicted))
    probabilities = np.asarray(model(image[None], training=False)[0])
    assert explanation.probability == pytest.approx(float(probabilities[predicted]), rel=1e-4)
    # every class's probability comes with it (one model call makes the guess and its map): the
    # model's own softmax output is the reference
    np.testing.assert_allclose(explanation.probabilities, probabilities, rtol=1e-4, atol=1e-7)
    assert int(np.argmax(explanation.probabilities)) == predicted


@pytest.mark.parametrize("method", [CAM, GradCAM])
def test_different_classes_give_different_maps(models, method):
    model = models("gap_cnn")
    image = image_for(model)
    maps = [method(model)(image, k) for k in range(4)]
    nontrivial = [m for m in maps if m.max() > 0]
    assert len(nontrivial) >= 2
    assert not np.allclose(nontrivial[0], nontrivial[1], atol=1e-3)


def hand_made_map(model, layer, image, a, b):
    """The Grad-CAM of "why a and not b" computed by hand: two single-class gradients taken with
    GradientTape on a plain sub-model, subtracted, averaged, weighted sum, ReLU, resized, scaled."""
    import keras
    import tensorflow as tf

    sub = keras.Model(model.inputs[0], [model.get_layer(layer).output, model.get_layer("logits").output])
    x = tf.constant(image[None])
    gradients = []
    for k in (a, b):
        with tf.GradientTape() as tape:
            features, logits = sub(x, training=False)
            score = logits[0, k]
        gradients.append(tape.gradient(score, features)[0].numpy())
    weights = (gradients[0] - gradients[1]).mean(axis=(0, 1))
    cam = np.maximum((features[0].numpy() * weights).sum(axis=-1), 0)
    cam = cv2.resize(cam.astype(np.float32), model.input_shape[1:3][::-1], interpolation=cv2.INTER_LINEAR)
    return cam / cam.max() if cam.max() > 0 else cam


@pytest.mark.parametrize("name, layer", [("dense_head_cnn", "conv2"), ("gap_cnn", "conv1_relu"),
                                         ("sequential_cnn", "conv2")])
def test_contrast_map_is_the_difference_of_two_class_gradients(models, name, layer):
    model = models(name)
    explainer = GradCAM(model, layer)
    explainer.warm_up()
    image = image_for(model, seed=11)
    found = 0
    for a, b in [(0, 1), (1, 0), (2, 1), (0, 2)]:
        expected = hand_made_map(model, layer, image, a, b)
        got = explainer.explain(image, target=contrast_target(model.output_shape[-1], a, b))
        assert got.class_index == a and got.method == "Grad-CAM"
        np.testing.assert_allclose(got.heatmap, expected, atol=2e-4)
        logits = np.asarray(keras_logits(model, image))
        assert got.logit == pytest.approx(float(logits[a] - logits[b]), rel=1e-4, abs=1e-5)
        found += bool(expected.max() > 0)
    assert found >= 2, "the maps are blank: the test would prove nothing"
    # a contrast is not the plain map of either class
    plain = explainer(image, 0)
    contrast = explainer.explain(image, target=contrast_target(model.output_shape[-1], 0, 1)).heatmap
    assert not np.allclose(plain, contrast, atol=1e-3)
    # classes, the predicted class and contrasts all share the warm-up's one trace
    explainer(image)
    assert explainer._forward.experimental_get_tracing_count() == 1


def keras_logits(model, image):
    import keras

    return keras.Model(model.inputs[0], model.get_layer("logits").output)(image[None], training=False)[0]


def test_cam_contrast_uses_the_difference_of_two_kernel_columns(models):
    model = models("gap_cnn")
    image = image_for(model, seed=2)
    kernel = np.asarray(model.get_layer("logits").kernel)
    import keras

    features = keras.Model(model.inputs[0], model.get_layer("conv2").output)(image[None], training=False)[0]
    cam = np.maximum(np.tensordot(np.asarray(features), kernel[:, 3] - kernel[:, 1], axes=([-1], [0])), 0)
    expected = cv2.resize(cam.astype(np.float32), (24, 24), interpolation=cv2.INTER_LINEAR)
    expected = expected / expected.max()
    got = CAM(model).explain(image, target=contrast_target(4, 3, 1))
    np.testing.assert_allclose(got.heatmap, expected, atol=2e-4)
    assert got.method == "CAM" and got.class_index == 3


def test_a_target_must_fit_the_classes(models):
    explainer = GradCAM(models("gap_cnn"))
    image = image_for(models("gap_cnn"))
    with pytest.raises(ValueError, match="4 finite class weights"):
        explainer.explain(image, target=np.ones(3))
    with pytest.raises(ValueError, match="either"):
        explainer.explain(image, 1, target=np.ones(4))


@pytest.mark.parametrize("layer", ["block_5_expand_relu", "block_13_expand_relu", "out_relu"])
def test_gradcam_reaches_backbone_layers_of_a_flat_transfer_model(models, layer):
    model = models("flat_transfer")
    heatmap = GradCAM(model, layer)(image_for(model))
    assert heatmap.shape == (96, 96)
    assert_nontrivial(heatmap)


@pytest.mark.parametrize("name, expected", [
    ("gap_cnn", "conv2"), ("dense_head_cnn", "conv2"), ("sequential_cnn", "conv2"),
    ("flat_transfer", "out_relu")])
def test_auto_layer_is_the_last_4d_layer(models, name, expected):
    model = models(name)
    assert feature_map_layer_names(model)[-1] == expected
    assert GradCAM(model).layer_name == expected


def test_explainable_layers_are_the_feature_map_layers(models):
    # One rule: the layers a heat map can be computed on are those the Layers page shows.
    assert feature_map_layer_names(models("gap_cnn")) == ["conv1_relu", "pool1", "conv2"]
    assert feature_map_layer_names(models("mlp")) == []
    names = feature_map_layer_names(models("flat_transfer"))
    assert "normalise" not in names and "block_5_expand_relu" in names
    assert not any(name.endswith("_pad") or name.endswith("_bn") for name in names)


def test_a_1x1_output_is_not_a_feature_map():
    import keras
    from keras import layers

    inputs = keras.Input((8, 8, 1))
    x = layers.Conv2D(4, 3, activation="relu", name="conv")(inputs)
    x = layers.GlobalAveragePooling2D(keepdims=True, name="gap")(x)
    x = layers.Conv2D(3, 1, name="classifier_1x1")(x)
    x = layers.Flatten()(x)
    model = keras.Model(inputs, layers.Activation("softmax", name="probabilities")(x))
    assert feature_map_layer_names(model) == ["conv"]


@pytest.mark.parametrize("name, layer", [
    ("dense_head_cnn", None), ("sequential_cnn", None), ("mlp", None), ("gap_cnn", "conv1_relu")])
def test_cam_refuses_models_and_layers_it_cannot_explain(models, name, layer):
    with pytest.raises(CAMNotSupportedError, match="Grad-CAM"):
        CAM(models(name), layer)


def test_gradcam_errors_are_clear(models):
    with pytest.raises(ValueError, match="no layer with a spatial"):
        GradCAM(models("mlp"))
    with pytest.raises(ValueError, match="no layer called 'nope'"):
        GradCAM(models("gap_cnn"), "nope")
    explainer = GradCAM(models("gap_cnn"))
    with pytest.raises(ValueError, match="shape"):
        explainer(np.zeros((10, 10, 1), np.float32))
    with pytest.raises(ValueError, match="class_index"):
        explainer(image_for(models("gap_cnn")), class_index=4)


def test_explainer_for_follows_the_spec(models):
    spec = SimpleNamespace
    assert explainer_for(models("mlp"), spec(supports_cam=False, cam_layer=None)) is None
    cam = explainer_for(models("gap_cnn"), spec(supports_cam=True, cam_layer="conv2"))
    assert type(cam) is CAM and cam.layer_name == "conv2" and cam.method == "CAM"
    # another layer of a CAM model: Grad-CAM, and the explainer says so
    other = explainer_for(models("gap_cnn"), spec(supports_cam=True, cam_layer="conv2"), "conv1_relu")
    assert type(other) is GradCAM and other.method == "Grad-CAM"
    grad_cam = explainer_for(models("dense_head_cnn"), spec(supports_cam=False, cam_layer="conv1"))
    assert type(grad_cam) is GradCAM and grad_cam.layer_name == "conv1"
    assert isinstance(grad_cam, Explainer)
    image = image_for(models("gap_cnn"))
    assert cam.explain(image).method == "CAM" and other.explain(image).method == "Grad-CAM"


def test_blank_map_stays_blank():
    heatmap = scale_to_size(np.zeros((3, 3), np.float32), (12, 10))
    assert heatmap.shape == (12, 10) and heatmap.dtype == np.float32
    assert not heatmap.any()


# --- localisation: the heat map must point at the evidence -----------------------------------

SQUARE = 8
PLACES = [(3, 4), (21, 5), (4, 20), (20, 21), (12, 12)]


@pytest.fixture(scope="module")
def detector():
    return fm.square_detector()


def square_on_noise(top, left, size=32, seed=0):
    image = np.random.default_rng(seed).uniform(0, 60, (size, size, 1)).astype(np.float32)
    image[top:top + SQUARE, left:left + SQUARE] = 255.0
    return image


@pytest.mark.parametrize("method", [CAM, GradCAM])
@pytest.mark.parametrize("top, left", PLACES)
def test_heatmap_mass_is_on_the_square(detector, method, top, left):
    image = square_on_noise(top, left)
    explanation = method(detector).explain(image)
    assert explanation.class_index == 1, "the detector should see the square"
    heatmap = explanation.heatmap
    total = heatmap.sum()
    # Rows and columns checked separately, so a transposed map fails too.
    centre_row, centre_col = top + SQUARE / 2, left + SQUARE / 2
    rows = slice(0, 16) if centre_row < 16 else slice(16, 32)
    cols = slice(0, 16) if centre_col < 16 else slice(16, 32)
    if centre_row != 16:
        assert heatmap[rows].sum() / total > 0.9
    if centre_col != 16:
        assert heatmap[:, cols].sum() / total > 0.9
    around = heatmap[max(top - 2, 0):top + SQUARE + 2, max(left - 2, 0):left + SQUARE + 2]
    assert around.sum() / total > 0.7  # the area is 144/1024 = 14% of the image
    peak = np.unravel_index(np.argmax(heatmap), heatmap.shape)
    assert top - 3 <= peak[0] < top + SQUARE + 3 and left - 3 <= peak[1] < left + SQUARE + 3


# --- overlay -----------------------------------------------------------------------------------

def jet_rgb(value: int) -> np.ndarray:
    return cv2.applyColorMap(np.full((1, 1), value, np.uint8), cv2.COLORMAP_JET)[0, 0, ::-1]


@pytest.mark.parametrize("shape", [(40, 30), (40, 30, 1), (40, 30, 3)])
def test_overlay_shape_and_dtype(shape):
    image = np.random.default_rng(0).integers(0, 256, shape).astype(np.uint8)
    heatmap = np.random.default_rng(1).random((7, 7)).astype(np.float32)
    out = overlay_heatmap(image, heatmap, opacity=0.4)
    assert out.shape == (40, 30, 3) and out.dtype == np.uint8


def test_overlay_opacity_ends():
    image = np.random.default_rng(0).integers(0, 256, (20, 24, 3)).astype(np.uint8)
    grey = image[..., 0]
    np.testing.assert_array_equal(overlay_heatmap(image, np.ones((5, 5)), opacity=0.0), image)
    np.testing.assert_array_equal(overlay_heatmap(grey, np.ones((5, 5)), opacity=0.0),
                                  np.repeat(grey[..., None], 3, axis=-1))
    hot = overlay_heatmap(image, np.ones((5, 5)), opacity=1.0)
    cold = overlay_heatmap(image, np.zeros((5, 5)), opacity=1.0)
    assert (hot == jet_rgb(255)).all() and (cold == jet_rgb(0)).all()
    assert hot[0, 0, 0] > hot[0, 0, 2] and cold[0, 0, 2] > cold[0, 0, 0]  # RGB: hot is red
    with pytest.raises(ValueError, match="opacity"):
        overlay_heatmap(image, np.ones((5, 5)), opacity=1.5)
