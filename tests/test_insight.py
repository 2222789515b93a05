"""Mistake analysis, perturbations and sensitivity maps, against scikit-learn and toy models."""

import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.metrics import adjusted_rand_score, silhouette_score
from sklearn.preprocessing import StandardScaler

from vision import insight
from vision.errors import InvalidImageError, WeightsMissingError


def blobs(n: int = 30, features: int = 16, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.normal(0, 1, (n, features)), rng.normal(8, 1, (n, features))])
    return x.astype(np.float16), np.repeat([0, 1], n)


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
    ev = insight.load_eval(tmp_path / "m_eval.npz")
    assert ev.y_true.dtype == np.int64 and ev.embeddings.dtype == np.float32
    assert ev.misclassified_images.shape == (5, 28, 28) and ev.test_files is None
    np.testing.assert_array_equal(insight.images_for_cell(ev, 0, 1), [1, 7])
    np.testing.assert_array_equal(insight.images_for_cell(ev, 2, 2), [6])
    np.testing.assert_array_equal(insight.images_for_cell({"y_true": y_true, "y_pred": y_pred}, 1, 2), [])
    # positions of test images among the mistakes: 7 is the 5th mistake, 6 was right
    np.testing.assert_array_equal(ev.mistake_positions([7, 6, 1]), [4, -1, 0])


def test_load_eval_missing_file_is_a_typed_error(tmp_path):
    with pytest.raises(WeightsMissingError, match="fashion_cnn"):
        insight.load_eval(tmp_path / "fashion_cnn_eval.npz")
    np.savez(tmp_path / "bad_eval.npz", y_true=np.zeros(3))
    with pytest.raises(WeightsMissingError):
        insight.load_eval(tmp_path / "bad_eval.npz")


def test_mistakes_by_pair_groups_and_orders():
    y_true = np.array([0, 0, 1, 1, 2, 2, 2, 0])
    y_pred = np.array([0, 1, 1, 0, 1, 1, 2, 1])
    pairs = insight.mistakes_by_pair(y_true, y_pred)
    assert list(pairs) == [(0, 1), (2, 1), (1, 0)]  # most frequent first, ties by class
    np.testing.assert_array_equal(pairs[(0, 1)], [1, 7])
    np.testing.assert_array_equal(pairs[(2, 1)], [4, 5])
    assert insight.mistakes_by_pair(y_true, y_true) == {}


# ---------------------------------------------------------------- embeddings
def test_project_2d_matches_sklearn():
    x, _ = blobs()
    expected = PCA(n_components=2, random_state=0).fit_transform(
        StandardScaler().fit_transform(x.astype(np.float64)))
    out = insight.project_2d(x)
    assert out.dtype == np.float32 and out.shape == (60, 2)
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("n", [0, 1])
def test_project_2d_tiny_inputs(n):
    out = insight.project_2d(np.ones((n, 8), np.float16))
    assert out.shape == (n, 2) and not out.any()


def test_kmeans_separates_two_blobs_and_silhouette_matches_sklearn():
    x, truth = blobs()
    result = insight.cluster_mistakes(x, k=2)
    assert result.n_clusters == 2 and result.method == "kmeans"
    assert adjusted_rand_score(truth, result.labels) == 1.0
    # PCA with every component is a rotation, so distances are those of the standardised data.
    reference = silhouette_score(StandardScaler().fit_transform(x.astype(np.float64)), result.labels)
    assert result.silhouette == pytest.approx(reference, abs=1e-6)
    assert result.silhouette > 0.7


def test_dbscan_marks_noise_and_separates_blobs():
    x, truth = blobs(features=4)
    x = np.concatenate([x, np.full((1, 4), 60, np.float16)])  # one far-away outlier
    result = insight.cluster_mistakes(x, method="dbscan", eps=1.0, min_samples=3)
    assert result.labels[-1] == -1
    assert result.n_clusters == 2
    assert adjusted_rand_score(truth, result.labels[:-1]) == 1.0
    kept = result.labels >= 0
    scaled = StandardScaler().fit_transform(x.astype(np.float64))
    assert result.silhouette == pytest.approx(silhouette_score(scaled[kept], result.labels[kept]))


def test_suggested_eps_lets_dbscan_find_the_blobs():
    x, truth = blobs(features=32)
    eps = insight.suggested_eps(x, min_samples=5)
    assert eps > 0.5  # the default eps would be too small in 20 standardised dimensions
    result = insight.cluster_mistakes(x, method="dbscan", eps=1.5 * eps, min_samples=5)
    assert result.n_clusters == 2
    assert adjusted_rand_score(truth[result.labels >= 0], result.labels[result.labels >= 0]) == 1.0
    assert insight.suggested_eps(x[:1]) == 0.0


def test_clustering_edge_cases():
    x, _ = blobs(n=2)
    small = insight.cluster_mistakes(x[:2], k=5)  # k clamps to 1: silhouette undefined
    assert small.n_clusters == 1 and small.silhouette is None
    four = insight.cluster_mistakes(x, k=10)
    assert four.n_clusters <= 3 and four.silhouette is not None
    assert insight.cluster_mistakes(x[:0]).labels.shape == (0,)
    assert insight.cluster_mistakes(x[:1]).silhouette is None
    one_cluster = insight.cluster_mistakes(x, method="dbscan", eps=100, min_samples=1)
    assert one_cluster.n_clusters == 1 and one_cluster.silhouette is None
    with pytest.raises(ValueError):
        insight.cluster_mistakes(x, method="spectral")


# ---------------------------------------------------------------- perturbations
def square_image(shape=(28, 28)) -> np.ndarray:
    image = np.zeros(shape, np.uint8)
    image[6:20, 9:17] = 200
    image[8, 10] = 255
    return image


@pytest.mark.parametrize("shape", [(28, 28), (28, 28, 1), (28, 28, 3)])
def test_perturb_defaults_and_full_turn_are_identities(shape):
    image = np.broadcast_to(square_image().reshape(28, 28, *([1] * (len(shape) - 2))), shape).copy()
    for kwargs in ({}, {"rotate_deg": 360}, {"rotate_deg": -720}):
        out = insight.perturb(image, **kwargs)
        assert out.shape == image.shape and out.dtype == image.dtype
        np.testing.assert_array_equal(out, image)
    turned = insight.perturb(image, rotate_deg=37, blur_sigma=1.0, shift=(0.1, 0), noise_std=0.05)
    assert turned.shape == image.shape and turned.dtype == np.uint8


def test_perturb_rotation_and_shift_against_numpy():
    image = square_image()
    np.testing.assert_array_equal(insight.perturb(image, rotate_deg=90), np.rot90(image))
    shifted = insight.perturb(image, shift=(2 / 28, -3 / 28))  # 2 px right, 3 px up
    expected = np.zeros_like(image)
    expected[:-3, 2:] = image[3:, :-2]
    np.testing.assert_array_equal(shifted, expected)


def test_perturb_fills_with_the_border_median():
    white = np.full((28, 28), 250, np.uint8)
    white[10:18, 10:18] = 0
    rotated = insight.perturb(white, rotate_deg=45, scale=0.5)
    assert rotated[0, 0] == 250 and rotated[-1, -1] == 250  # white background stays white
    dark = insight.perturb(square_image(), rotate_deg=45)
    assert dark[0, 0] == 0 and dark[-1, -1] == 0  # Fashion's black stays black


def test_perturb_brightness_clips_and_noise_is_seeded():
    image = square_image()
    assert (insight.perturb(image, brightness=1.0) == 255).all()
    assert (insight.perturb(image, brightness=-1.0) == 0).all()
    half = insight.perturb(image, brightness=0.5)
    assert half[0, 0] == 128 and half[10, 10] == 255  # 0 + 127.5 rounds to 128; 200 + 127.5 clips
    a = insight.perturb(image, noise_std=0.1, seed=3)
    np.testing.assert_array_equal(a, insight.perturb(image, noise_std=0.1, seed=3))
    assert (a != insight.perturb(image, noise_std=0.1, seed=4)).any()
    assert 5 < np.std(a.astype(float) - image) < 30  # about 0.1 * 255, less where clipped


def test_perturb_occlusion_and_blur():
    image = square_image()
    occluded = insight.perturb(image, occlusion=(0.5, 0.5, 0.25))  # 7x7 at the centre
    changed = occluded != image
    assert (occluded[changed] == 128).all()
    assert occluded[14, 14] == 128 and (occluded[:10] == image[:10]).all()
    blurred = insight.perturb(image, blur_sigma=2.0)
    assert blurred.std() < image.std() and abs(blurred.mean() - image.mean()) < 2
    with pytest.raises(InvalidImageError):
        insight.perturb(np.zeros((2, 3, 4, 5), np.uint8))


# ---------------------------------------------------------------- sensitivity
class RegionModel:
    """A toy classifier: class 0's probability is the brightness of one region, class 1 the rest."""

    region = (slice(4, 8), slice(10, 14))

    def __init__(self):
        self.calls = 0

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        self.calls += 1
        assert batch.ndim == 4 and batch.dtype == np.float32
        p0 = batch[:, self.region[0], self.region[1], 0].mean(axis=(1, 2)) / 255
        return np.stack([p0, 1 - p0], axis=1)


def test_occlusion_map_is_high_exactly_on_the_region_that_matters():
    image = np.zeros((20, 20), np.uint8)
    image[RegionModel.region] = 255
    image[15:19, 1:5] = 255  # bright, but the model ignores it
    model = RegionModel()
    steps = []
    heat = insight.occlusion_sensitivity(model, image, 0, patch=2, stride=2, fill=0,
                                         progress=steps.append)
    expected = np.zeros((20, 20), np.float32)
    expected[RegionModel.region] = 4 / 16  # each 2x2 patch hides a quarter of the region
    assert heat.dtype == np.float32 and heat.shape == (20, 20)
    np.testing.assert_allclose(heat, expected, atol=1e-6)
    assert model.calls == 2  # 100 patches + the baseline in batches of 64
    assert steps == sorted(steps) and steps[-1] == 1.0


def test_occlusion_averages_overlaps_and_defaults_to_grey_and_the_prediction():
    image = np.zeros((20, 20, 1), np.uint8)
    image[RegionModel.region] = 255
    model = RegionModel()
    heat = insight.occlusion_sensitivity(model, image, None, patch=4, stride=1, batch_size=1000)
    assert model.calls == 1
    assert heat.shape == (20, 20)
    # mid-grey hides half the brightness; the centre of the region is hidden by more patches
    assert heat[5, 11] > heat[4, 10] > 0
    assert heat.max() <= 0.5 + 1e-6
    assert heat[15, 2] == 0  # no patch reaching this pixel touches the region


def softmax_model(seed: int = 0, classes: int = 3):
    weights = np.random.default_rng(seed).normal(size=(28 * 28, classes)) / 255

    def predict(batch: np.ndarray) -> np.ndarray:
        logits = batch.reshape(len(batch), -1) @ weights
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    return predict


def test_rotation_sweep_at_zero_is_the_plain_prediction():
    predict = softmax_model()
    calls = []
    image = square_image()
    sweep = insight.rotation_sweep(lambda b: calls.append(len(b)) or predict(b), image, None)
    assert calls == [25]  # one batched call for -180..180 every 15 degrees
    assert sweep.probabilities.shape == (25, 3) and sweep.predicted.shape == (25,)
    zero = int(np.flatnonzero(sweep.angles == 0)[0])
    plain = predict(image[None, ..., None].astype(np.float32))[0]
    np.testing.assert_allclose(sweep.probabilities[zero], plain, rtol=1e-6)
    assert sweep.class_index == int(np.argmax(plain))
    half_turn = predict(np.rot90(image, 2)[None, ..., None].astype(np.float32))[0]
    np.testing.assert_allclose(sweep.probabilities[0], half_turn, rtol=1e-5)
    np.testing.assert_array_equal(sweep.predicted, sweep.probabilities.argmax(axis=1))
    np.testing.assert_allclose(sweep.class_probabilities, sweep.probabilities[:, sweep.class_index])
    assert insight.rotation_sweep(predict, image, 2, angles=[0, 90]).class_index == 2
