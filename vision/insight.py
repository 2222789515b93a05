"""The computations behind the insight pages: where a model's mistakes lie, and how its prediction
changes when the image is perturbed.

Everything here is a pure function over numpy arrays (no TensorFlow): models enter only as a
`predict` callable taking a batch (N, H, W, C) of raw 0-255 pixels and returning probabilities
(N, classes), e.g. `vision.models.Predictor(model, spec).probabilities`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from sklearn.cluster import DBSCAN, KMeans
from sklearn.decomposition import PCA
from sklearn.metrics import silhouette_score
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import StandardScaler

from vision.errors import InvalidImageError, WeightsMissingError
from vision.heatmaps import border_pixels

Predict = Callable[[np.ndarray], np.ndarray]
Progress = Callable[[float], None]

PIXEL_RANGE = 255.0  # every model takes raw 0-255 pixels, so perturbations are sized on that range
GREY = PIXEL_RANGE / 2
CLUSTER_DIMENSIONS = 20


# ---------------------------------------------------------------- the evaluation file
@dataclass(frozen=True)
class EvalFile:
    """A model's test-set predictions as written by `vision.train` (`weights/MODEL_eval.npz`).

    `embeddings` are the penultimate-layer features of the mistakes, in the order of
    `misclassified`; the image references exist for one dataset each (the others are None).
    """

    y_true: np.ndarray
    y_pred: np.ndarray
    top3_indices: np.ndarray
    top3_probabilities: np.ndarray
    misclassified: np.ndarray
    embeddings: np.ndarray
    misclassified_images: np.ndarray | None = None  # Fashion-MNIST: (M, 28, 28) uint8
    test_rows: np.ndarray | None = None  # doodles: row of each test image in the dataset
    test_files: np.ndarray | None = None  # flowers: file of each test image

    def mistake_positions(self, test_indices: np.ndarray) -> np.ndarray:
        """Positions in `misclassified` (and so in `embeddings`, `misclassified_images`) of some
        test-set indices; -1 for those the model got right."""
        position = {int(index): i for i, index in enumerate(self.misclassified)}
        return np.array([position.get(int(index), -1) for index in np.ravel(test_indices)],
                        dtype=np.int64)


_REQUIRED = ("y_true", "y_pred", "top3_indices", "top3_probabilities", "misclassified", "embeddings")
_OPTIONAL = ("misclassified_images", "test_rows", "test_files")


def load_eval(path: str | Path) -> EvalFile:
    """Read a `MODEL_eval.npz`; labels and indices become int64, probabilities and embeddings
    float32 (they are stored as uint16 / float16 to keep the file small)."""
    path = Path(path)
    if not path.is_file():
        raise WeightsMissingError(
            f"The evaluation file {path.name} is missing; it is written when the model is trained "
            f"(`python -m vision.train {path.name.removesuffix('_eval.npz')}`).")
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [key for key in _REQUIRED if key not in npz.files]
            if missing:
                raise KeyError(", ".join(missing))
            arrays = {key: npz[key] for key in (*_REQUIRED, *_OPTIONAL) if key in npz.files}
    except (OSError, ValueError, KeyError) as err:
        raise WeightsMissingError(
            f"The evaluation file {path.name} could not be read ({err}); re-create it by training "
            "the model again.") from err
    for key in ("y_true", "y_pred", "top3_indices", "misclassified"):
        arrays[key] = arrays[key].astype(np.int64)
    for key in ("top3_probabilities", "embeddings"):
        arrays[key] = arrays[key].astype(np.float32)
    return EvalFile(**arrays)


def mistakes_by_pair(y_true: np.ndarray, y_pred: np.ndarray) -> dict[tuple[int, int], np.ndarray]:
    """Test-set indices of the mistakes grouped by (actual, predicted) class, most frequent pair
    first (ties by class numbers); correct predictions are left out."""
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    wrong = np.flatnonzero(y_true != y_pred)
    groups: dict[tuple[int, int], list[int]] = {}
    for index in wrong:
        groups.setdefault((int(y_true[index]), int(y_pred[index])), []).append(int(index))
    ordered = sorted(groups.items(), key=lambda item: (-len(item[1]), item[0]))
    return {pair: np.asarray(indices, dtype=np.int64) for pair, indices in ordered}


def images_for_cell(eval_arrays: EvalFile | Mapping[str, np.ndarray], true_class: int,
                    predicted_class: int) -> np.ndarray:
    """Test-set indices of the images in one confusion-matrix cell (actual, predicted); a diagonal
    cell gives the correctly classified images of that class."""
    if isinstance(eval_arrays, EvalFile):
        y_true, y_pred = eval_arrays.y_true, eval_arrays.y_pred
    else:
        y_true, y_pred = eval_arrays["y_true"], eval_arrays["y_pred"]
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    return np.flatnonzero((y_true == true_class) & (y_pred == predicted_class)).astype(np.int64)


# ---------------------------------------------------------------- embeddings
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


# ---------------------------------------------------------------- perturbations
def _border_median(image: np.ndarray) -> np.ndarray:
    """Per-channel median of the outermost pixels: the background the image is drawn on."""
    border = border_pixels(image)
    return np.median(border.reshape(len(border), -1), axis=0)


def _check_image(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim not in (2, 3) or image.shape[0] < 1 or image.shape[1] < 1:
        raise InvalidImageError(f"Expected an image of shape (H, W) or (H, W, C), got {image.shape}.")
    if not np.issubdtype(image.dtype, np.number):
        raise InvalidImageError("The image must hold numbers (pixel values 0-255).")
    return image


def _occlusion_box(height: int, width: int, x: float, y: float, size: float) -> tuple[int, int, int, int]:
    side = max(1, int(round(size * min(height, width))))
    centre_row, centre_col = y * height, x * width
    top = int(np.clip(round(centre_row - side / 2), 0, max(height - side, 0)))
    left = int(np.clip(round(centre_col - side / 2), 0, max(width - side, 0)))
    return top, min(top + side, height), left, min(left + side, width)


def perturb(image: np.ndarray, rotate_deg: float = 0.0, shift: tuple[float, float] = (0.0, 0.0),
            scale: float = 1.0, blur_sigma: float = 0.0, noise_std: float = 0.0,
            brightness: float = 0.0, occlusion: tuple[float, float, float] | None = None,
            seed: int = 0) -> np.ndarray:
    """A perturbed copy of an image of shape (H, W) or (H, W, C), same shape and dtype.

    Applied in this order: rotation (degrees, counter-clockwise), zoom `scale` and `shift` (dx, dy
    as fractions of width and height, right and down positive), all about the centre in one warp,
    with uncovered pixels filled by the median of the image's border (Fashion's black stays
    black); a Gaussian blur of `blur_sigma` pixels; `brightness` added as a fraction of the 0-255
    range (-1..1); Gaussian noise of standard deviation `noise_std` (fraction of the range, seeded);
    a mid-grey square `occlusion` = (x, y, size): centre as fractions of width and height, side as
    a fraction of the shorter side. The result is clipped to 0-255. All defaults return an exact copy.
    """
    image = _check_image(image)
    dtype = image.dtype
    height, width = image.shape[:2]
    out = image.astype(np.float32)
    dx, dy = shift
    if rotate_deg % 360 != 0 or scale != 1.0 or dx != 0 or dy != 0:
        if scale <= 0:
            raise ValueError("scale must be positive")
        matrix = cv2.getRotationMatrix2D(((width - 1) / 2, (height - 1) / 2), float(rotate_deg),
                                         float(scale))
        matrix[:, 2] += (dx * width, dy * height)
        fill = tuple(float(v) for v in _border_median(out))
        warped = cv2.warpAffine(out, matrix, (width, height), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_CONSTANT, borderValue=fill)
        out = warped.reshape(out.shape)  # OpenCV drops a single channel axis
    if blur_sigma > 0:
        out = cv2.GaussianBlur(out, (0, 0), sigmaX=float(blur_sigma),
                               borderType=cv2.BORDER_REPLICATE).reshape(out.shape)
    if brightness:
        out = out + float(brightness) * PIXEL_RANGE
    if noise_std > 0:
        out = out + np.random.default_rng(seed).normal(0.0, noise_std * PIXEL_RANGE, out.shape)
    if occlusion is not None:
        top, bottom, left, right = _occlusion_box(height, width, *occlusion)
        out[top:bottom, left:right] = GREY
    out = np.clip(out, 0.0, PIXEL_RANGE)
    if np.issubdtype(dtype, np.integer):
        out = np.rint(out)
    return out.astype(dtype)


# ---------------------------------------------------------------- sensitivity
def _positions(length: int, patch: int, stride: int) -> list[int]:
    starts = list(range(0, length - patch + 1, stride))
    if starts[-1] != length - patch:  # the last patch reaches the edge, so every pixel is covered
        starts.append(length - patch)
    return starts


def occlusion_sensitivity(predict: Predict, image: np.ndarray, class_index: int | None, patch: int,
                          stride: int, fill: float | None = None, progress: Progress | None = None,
                          batch_size: int = 64) -> np.ndarray:
    """How much the probability of `class_index` drops when each region is hidden.

    A `patch` x `patch` square of value `fill` (None: mid-grey, 127.5) slides over the image (H, W)
    or (H, W, C) with `stride`; the occluded copies go to `predict` in batches of `batch_size`. The
    result is a float32 map (H, W): for each pixel, the mean over the patches covering it of
    (baseline - occluded) probability; positive where hiding the region hurts the class.
    `class_index` None means the class predicted for the unoccluded image.
    """
    image = _check_image(image)
    x = image.astype(np.float32)
    if x.ndim == 2:
        x = x[..., None]
    height, width = x.shape[:2]
    if patch < 1 or stride < 1:
        raise ValueError("patch and stride must be at least 1")
    patch = min(patch, height, width)
    fill = GREY if fill is None else float(fill)
    boxes = [(top, left) for top in _positions(height, patch, stride)
             for left in _positions(width, patch, stride)]

    drops = np.zeros((height, width), dtype=np.float64)
    counts = np.zeros((height, width), dtype=np.float64)
    baseline = None
    done = 0
    total = len(boxes)
    # The unoccluded image rides along in the first batch: its probability is the baseline.
    chunks = [boxes[:max(batch_size - 1, 1)]]
    chunks += [boxes[i:i + batch_size] for i in range(len(chunks[0]), total, batch_size)]
    for number, chunk in enumerate(chunks):
        batch = np.repeat(x[None], len(chunk) + (number == 0), axis=0)
        for i, (top, left) in enumerate(chunk, start=(number == 0)):
            batch[i, top:top + patch, left:left + patch] = fill
        probs = np.asarray(predict(batch), dtype=np.float64)
        if number == 0:
            if class_index is None:
                class_index = int(np.argmax(probs[0]))
            baseline = probs[0, class_index]
            probs = probs[1:]
        for (top, left), p in zip(chunk, probs[:, class_index]):
            drops[top:top + patch, left:left + patch] += baseline - p
            counts[top:top + patch, left:left + patch] += 1
        done += len(chunk)
        if progress is not None:
            progress(done / total)
    return (drops / np.maximum(counts, 1)).astype(np.float32)


@dataclass(frozen=True)
class RotationSweep:
    """The model's probabilities for copies of one image rotated by each angle."""

    angles: np.ndarray  # (A,) degrees
    probabilities: np.ndarray  # (A, classes)
    predicted: np.ndarray  # (A,) predicted class per angle
    class_index: int  # the class followed (given, or predicted at the angle closest to 0)

    @property
    def class_probabilities(self) -> np.ndarray:
        """The probability of `class_index` at each angle, (A,)."""
        return self.probabilities[:, self.class_index]


def rotation_sweep(predict: Predict, image: np.ndarray, class_index: int | None = None,
                   angles: np.ndarray = np.arange(-180, 181, 15), progress: Progress | None = None
                   ) -> RotationSweep:
    """Predict copies of an image (H, W) or (H, W, C) rotated by each angle (degrees,
    counter-clockwise, background filled as in `perturb`) in one batched call."""
    image = _check_image(image)
    angles = np.asarray(angles, dtype=np.float64).reshape(-1)
    rotated = []
    for i, angle in enumerate(angles):
        rotated.append(perturb(image, rotate_deg=float(angle)).astype(np.float32))
        if progress is not None:
            progress(0.5 * (i + 1) / len(angles))
    batch = np.stack(rotated) if rotated else np.zeros((0, *image.shape), np.float32)
    if batch.ndim == 3:
        batch = batch[..., None]
    probs = np.asarray(predict(batch), dtype=np.float32)
    predicted = probs.argmax(axis=1) if len(probs) else np.zeros(0, dtype=np.int64)
    if class_index is None:
        class_index = int(predicted[np.argmin(np.abs(angles))]) if len(angles) else 0
    if progress is not None:
        progress(1.0)
    return RotationSweep(angles, probs, predicted.astype(np.int64), int(class_index))
