"""PCA and clustering of the mistakes' embeddings (vision.embeddings), against scikit-learn."""

import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.metrics import adjusted_rand_score, silhouette_score
from sklearn.preprocessing import StandardScaler

from vision import embeddings


def blobs(n: int = 30, features: int = 16, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.normal(0, 1, (n, features)), rng.normal(8, 1, (n, features))])
    return x.astype(np.float16), np.repeat([0, 1], n)


# ---------------------------------------------------------------- embeddings
def test_project_2d_matches_sklearn():
    x, _ = blobs()
    expected = PCA(n_components=2, random_state=0).fit_transform(
        StandardScaler().fit_transform(x.astype(np.float64)))
    out = embeddings.project_2d(x)
    assert out.dtype == np.float32 and out.shape == (60, 2)
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("n", [0, 1])
def test_project_2d_tiny_inputs(n):
    out = embeddings.project_2d(np.ones((n, 8), np.float16))
    assert out.shape == (n, 2) and not out.any()


def test_kmeans_separates_two_blobs_and_silhouette_matches_sklearn():
    x, truth = blobs()
    result = embeddings.cluster_mistakes(x, k=2)
    assert result.n_clusters == 2 and result.method == "kmeans"
    assert adjusted_rand_score(truth, result.labels) == 1.0
    # PCA with every component is a rotation, so distances are those of the standardised data.
    reference = silhouette_score(StandardScaler().fit_transform(x.astype(np.float64)), result.labels)
    assert result.silhouette == pytest.approx(reference, abs=1e-6)
    assert result.silhouette > 0.7


def test_dbscan_marks_noise_and_separates_blobs():
    x, truth = blobs(features=4)
    x = np.concatenate([x, np.full((1, 4), 60, np.float16)])  # one far-away outlier
    result = embeddings.cluster_mistakes(x, method="dbscan", eps=1.0, min_samples=3)
    assert result.labels[-1] == -1
    assert result.n_clusters == 2
    assert adjusted_rand_score(truth, result.labels[:-1]) == 1.0
    kept = result.labels >= 0
    scaled = StandardScaler().fit_transform(x.astype(np.float64))
    assert result.silhouette == pytest.approx(silhouette_score(scaled[kept], result.labels[kept]))


def test_suggested_eps_lets_dbscan_find_the_blobs():
    x, truth = blobs(features=32)
    eps = embeddings.suggested_eps(x, min_samples=5)
    assert eps > 0.5  # the default eps would be too small in 20 standardised dimensions
    result = embeddings.cluster_mistakes(x, method="dbscan", eps=1.5 * eps, min_samples=5)
    assert result.n_clusters == 2
    assert adjusted_rand_score(truth[result.labels >= 0], result.labels[result.labels >= 0]) == 1.0
    assert embeddings.suggested_eps(x[:1]) == 0.0


def test_clustering_edge_cases():
    x, _ = blobs(n=2)
    small = embeddings.cluster_mistakes(x[:2], k=5)  # k clamps to 1: silhouette undefined
    assert small.n_clusters == 1 and small.silhouette is None
    four = embeddings.cluster_mistakes(x, k=10)
    assert four.n_clusters <= 3 and four.silhouette is not None
    assert embeddings.cluster_mistakes(x[:0]).labels.shape == (0,)
    assert embeddings.cluster_mistakes(x[:1]).silhouette is None
    one_cluster = embeddings.cluster_mistakes(x, method="dbscan", eps=100, min_samples=1)
    assert one_cluster.n_clusters == 1 and one_cluster.silhouette is None
    with pytest.raises(ValueError):
        embeddings.cluster_mistakes(x, method="spectral")
