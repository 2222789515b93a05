"""The mistakes' penultimate-layer embeddings, in 2-D and in groups: PCA projection, k-means and
DBSCAN clustering, and a starting DBSCAN `eps`. Pure numpy and scikit-learn."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.cluster import DBSCAN, KMeans
from sklearn.decomposition import PCA
from sklearn.metrics import silhouette_score
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import StandardScaler

CLUSTER_DIMENSIONS = 20

def _standardised(embeddings: np.ndarray) -> np.ndarray:
    x = np.asarray(embeddings, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"embeddings must be (N, features), got shape {x.shape}")
    if len(x) == 0:
        return x
    # Units have very different scales after ReLU / pooling; without this a few loud units decide.
    return StandardScaler().fit_transform(x)


def _pca(x: np.ndarray, dimensions: int, seed: int) -> np.ndarray:
    n_components = min(dimensions, x.shape[0], x.shape[1])
    if n_components < 1:
        return np.zeros((x.shape[0], 0))
    return PCA(n_components=n_components, random_state=seed).fit_transform(x)


def project_2d(embeddings: np.ndarray, seed: int = 0) -> np.ndarray:
    """The embeddings projected to 2-D with PCA, float32 (N, 2).

    The features are standardised first, as in `cluster_mistakes`, so the scatter plot and the
    clusters are drawn from the same space. Fewer than 2 images (or features) give zero columns.
    """
    x = _standardised(embeddings)
    out = np.zeros((len(x), 2), dtype=np.float32)
    if len(x) < 2:
        return out
    projected = _pca(x, 2, seed)
    out[:, :projected.shape[1]] = projected
    return out


@dataclass(frozen=True)
class Clustering:
    """Cluster labels of the mistakes (-1 = DBSCAN noise) and how well separated they are."""

    labels: np.ndarray
    silhouette: float | None  # in [-1, 1]; None when it is undefined
    method: str
    n_clusters: int  # clusters found, noise not counted


def cluster_mistakes(embeddings: np.ndarray, method: str = "kmeans", k: int = 5, eps: float = 0.5,
                     min_samples: int = 5, seed: int = 0) -> Clustering:
    """Group the mistakes' embeddings with k-means or DBSCAN.

    The features are standardised, then reduced with PCA to at most 20 dimensions. Why: the
    penultimate layers have 64 to 1280 units, many nearly constant, and in that many dimensions all
    distances look alike, so k-means splits on noise and no DBSCAN `eps` works; 20 principal
    components keep most of the variance and make `eps` a distance one can reason about (the
    components of standardised data have variance of order 1). As PCA with all components is only
    a rotation, small embeddings are clustered exactly as standardised.

    `k` is clamped to 1..N-1. The silhouette is computed in the space that was clustered, on the
    non-noise points; it is None with fewer than 2 clusters or when every point is its own cluster.
    """
    if method not in ("kmeans", "dbscan"):
        raise ValueError(f"unknown clustering method {method!r}: use 'kmeans' or 'dbscan'")
    x = _standardised(embeddings)
    n = len(x)
    if n == 0:
        return Clustering(np.zeros(0, dtype=np.int64), None, method, 0)
    if n == 1:
        return Clustering(np.zeros(1, dtype=np.int64), None, method, 1)
    reduced = _pca(x, CLUSTER_DIMENSIONS, seed)
    if method == "kmeans":
        k = int(max(1, min(k, n - 1)))
        labels = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(reduced)
    else:
        labels = DBSCAN(eps=eps, min_samples=min_samples).fit_predict(reduced)
    labels = labels.astype(np.int64)
    kept = labels >= 0
    found = len(np.unique(labels[kept]))
    silhouette = None
    if 2 <= found <= kept.sum() - 1:
        silhouette = float(silhouette_score(reduced[kept], labels[kept]))
    return Clustering(labels, silhouette, method, found)


def suggested_eps(embeddings: np.ndarray, min_samples: int = 5, seed: int = 0) -> float:
    """A starting DBSCAN `eps` for `cluster_mistakes`: the median distance from each point to its
    `min_samples`-th nearest neighbour, in the space that is clustered (0.0 with fewer than 2
    points). With 20 standardised components typical distances are several units, so a fixed
    small `eps` would call every mistake noise."""
    x = _standardised(embeddings)
    if len(x) < 2:
        return 0.0
    reduced = _pca(x, CLUSTER_DIMENSIONS, seed)
    neighbours = min(min_samples, len(x) - 1)
    # Each point is its own nearest neighbour, hence the + 1.
    distances, _ = NearestNeighbors(n_neighbors=neighbours + 1).fit(reduced).kneighbors(reduced)
    return float(np.median(distances[:, -1]))
