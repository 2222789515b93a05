"""Teaching the doodle model a new class.

The unit tests use the doodle architecture with untrained weights and a synthetic feature bank
(no data, seconds). The `weights` test uses the shipped doodle CNN, the shipped feature bank, and
generated house drawings through the user's path (canvas RGBA -> doodle preprocessing -> model);
the old classes are measured on the Quick, Draw! test split."""

from __future__ import annotations

import io

import cv2
import keras
import numpy as np
import pytest

import drawn_shapes
from vision import registry, teach
from vision.data import DOODLE_CLASSES
from vision.explain import CAM, GradCAM
from vision.preprocess import doodle_from_canvas
from vision.user_models import keras_bytes, load_user_model


def drawings(count: int, seed: int) -> list[np.ndarray]:
    return [doodle_from_canvas(canvas).model_input[..., 0] for canvas in drawn_shapes.houses(count, seed)]


@pytest.fixture(scope="module")
def untrained_base():
    keras.utils.set_random_seed(3)
    return registry.get_spec("doodle_cnn").build()


@pytest.fixture(scope="module")
def synthetic_bank(untrained_base):
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (90, 28, 28)).astype(np.float32) * (rng.uniform(size=(90, 28, 28)) > 0.8)
    extractor = teach.feature_model(untrained_base)
    return teach.FeatureBank(teach.features(extractor, images), np.arange(90) % 9)


def test_augmentation_varies_a_drawing_but_keeps_it_a_centred_doodle():
    source = drawings(1, 5)[0]
    out = teach.augment(source, 20, np.random.default_rng(0))
    assert out.shape == (20, 28, 28) and out.dtype == np.uint8
    assert all(not np.array_equal(image, source.astype(np.uint8)) for image in out)
    assert len({image.tobytes() for image in out}) == 20
    for image in out:
        rows, cols = np.flatnonzero((image > 40).any(1)), np.flatnonzero((image > 40).any(0))
        assert abs((rows[0] + rows[-1]) / 2 - 13.5) <= 1 and abs((cols[0] + cols[-1]) / 2 - 13.5) <= 1
        assert 0.3 < image.sum() / source.sum() < 3  # still about as much ink


@pytest.mark.parametrize("name, count, message", [
    ("", 8, "Give the new thing a name"),
    ("Cat", 8, "already knows 'Cat'"),
    ("house", 7, "at least 8 examples of house (7 so far)"),
])
def test_teaching_needs_a_new_name_and_eight_drawings(name, count, message, untrained_base,
                                                      synthetic_bank):
    with pytest.raises(teach.TeachError, match=message.replace("(", r"\(").replace(")", r"\)")):
        teach.teach(untrained_base, name, drawings(count, 1), bank=synthetic_bank)


def test_taught_model_keeps_the_old_head_adds_a_class_and_round_trips(untrained_base,
                                                                     synthetic_bank, tmp_path):
    taught = teach.teach(untrained_base, "house", drawings(8, 1), bank=synthetic_bank)
    model = taught.model
    assert taught.labels == (*DOODLE_CLASSES, "house") and model.output_shape == (None, 10)
    old_kernel, old_bias = untrained_base.get_layer("logits").get_weights()
    new_kernel, new_bias = model.get_layer("logits").get_weights()
    np.testing.assert_array_equal(new_kernel[:, :9], old_kernel)
    np.testing.assert_array_equal(new_bias[:9], old_bias)
    # CAM, as for the shipped doodle model: for the new class too
    image = drawings(1, 9)[0][..., None]
    explanation = CAM(model, teach.CAM_LAYER).explain(image, taught.new_index)
    assert explanation.class_index == 9 and explanation.heatmap.shape == (28, 28)
    # GAP + one dense layer: Grad-CAM's weights are the kernel column over h*w, the same map
    grad_cam = GradCAM(model, teach.CAM_LAYER).explain(image, taught.new_index)
    np.testing.assert_allclose(explanation.heatmap, grad_cam.heatmap, atol=1e-4)
    # a .keras file that plain Keras loads (safe mode) and that "Your model" accepts
    data = keras_bytes(model)
    path = tmp_path / "doodle_house.keras"
    path.write_bytes(data)
    plain = keras.saving.load_model(path, safe_mode=True, compile=False)
    expected = model.predict(image[None], verbose=0)
    np.testing.assert_allclose(plain.predict(image[None], verbose=0), expected, rtol=1e-5, atol=1e-6)
    user = load_user_model(data, "doodle_house.keras", "\n".join(taught.labels).encode())
    assert user.labels[-1] == "house" and user.rescaling is not None
    np.testing.assert_allclose(user.probabilities(image), expected[0], rtol=1e-5, atol=1e-6)
    assert type(user.explainer(teach.CAM_LAYER)).__name__ == "CAM"


@pytest.mark.weights
@pytest.mark.data  # the Quick, Draw! test split
def test_a_taught_house_is_recognised_and_the_old_classes_survive():
    from vision import data
    from vision.models import load_model

    base = load_model("doodle_cnn")
    taught = teach.teach(base, "house", drawings(8, seed=1))
    held_back = np.stack(drawings(50, seed=2))  # other hands, never seen in teaching
    recall = float(np.mean(teach.predictions(taught.model, held_back) == taught.new_index))

    images, labels = data.load_doodle_arrays()
    test = data.doodle_test_indices()
    before = float(np.mean(teach.predictions(base, images[test]) == labels[test]))
    after = float(np.mean(teach.predictions(taught.model, images[test]) == labels[test]))
    print(f"new class recall on 50 held-back houses: {recall:.1%}; old classes on the "
          f"{len(test)} test doodles: {before:.2%} before, {after:.2%} after "
          f"(taught in {taught.seconds:.1f} s)")
    assert recall >= 0.8
    assert after >= before - 0.02
    # CAM for the new class lights up the drawing, not the empty background: over the held-back
    # houses (one house alone says little: its 7x7 map is coarse), the map is warmer on the lines
    # than off them, and its peak lies on or next to a line in most of them
    cam = CAM(taught.model, teach.CAM_LAYER)
    warmer, peaks = [], []
    for house in held_back:
        heatmap = cam(house[..., None], taught.new_index)
        ink = house > 60
        near = cv2.dilate(ink.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
        assert heatmap.max() == pytest.approx(1.0)
        warmer.append(heatmap[ink].mean() / heatmap[~ink].mean())
        peaks.append(near.flat[np.argmax(heatmap)])
    print(f"CAM of the new class: on the lines / off them {np.mean(warmer):.2f} (mean of "
          f"{len(warmer)} houses); peak next to a line in {np.mean(peaks):.0%}")
    assert np.mean(warmer) > 1.0 and np.mean(peaks) > 0.5


@pytest.mark.weights
@pytest.mark.data  # the Quick, Draw! training split
def test_the_shipped_feature_bank_belongs_to_the_shipped_doodle_model():
    """A retrained doodle CNN needs a new bank (`python -m vision.teach`): its features moved."""
    from vision import data
    from vision.models import load_model

    bank = teach.load_bank()
    assert np.bincount(bank.labels).tolist() == [teach.BANK_PER_CLASS] * len(DOODLE_CLASSES)
    dataset = data.load_doodles()
    rng = np.random.default_rng(teach.SEED)  # the rows write_bank draws
    rows = np.concatenate([rng.choice(np.flatnonzero(dataset.train.y == c), teach.BANK_PER_CLASS,
                                      replace=False) for c in range(len(DOODLE_CLASSES))])
    fresh = teach.features(teach.feature_model(load_model(teach.BASE_MODEL)), dataset.train.x[rows])
    np.testing.assert_allclose(bank.features, fresh, rtol=1e-2, atol=1e-2)
