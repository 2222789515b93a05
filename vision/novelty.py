"""How unlike its training data an input is, in the model's own feature space.

A low top probability is one sign that a model is out of its depth; an input far from every
class it was trained on is another, and it catches what the first misses: a network can be very
sure of a picture that looks like nothing it has seen. The features are the model's
penultimate-layer embedding (the space the Mistakes map draws). The profile is a Gaussian per
class with one covariance shared by all (Lee et al., 2018, "A simple unified framework for
detecting out-of-distribution samples"): an input's score is its squared Mahalanobis distance to
the nearest class mean, and it is unfamiliar above the QUANTILE-th quantile of the training
images' own scores. On the Fashion CNNs it flagged about 1% of the Fashion-MNIST test split and
78-83% of Quick, Draw! doodles (not clothes at all); the Euclidean distance to the class centres,
at the same rate on the test split, flagged 3-29% of the doodles.

The profile is fitted on what the model trained on (its training split, and the clothing photos it
saw, made by the app's own upload path), never on a validation or test set:
`python -m vision.novelty MODEL` writes `weights/MODEL_novelty.npz`, and training writes it too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

QUANTILE = 0.99  # 1% of the training images score above the threshold
FIT_IMAGES = 12_000  # a seeded sample of the training split is enough for means and a covariance
RIDGE = 1e-3  # added to the covariance's diagonal: dead ReLU features have zero variance
SEED = 0


def profile_path(name: str) -> Path:
    from vision.registry import WEIGHTS_DIR

    return WEIGHTS_DIR / f"{name}_novelty.npz"


@dataclass(frozen=True)
class NoveltyProfile:
    """The class means of the training embeddings, their shared precision matrix (the inverse
    covariance) and the score above which an input is unfamiliar."""

    means: np.ndarray  # (C, D) float32; rows of zeros for a class with no training image
    precision: np.ndarray  # (D, D) float32
    threshold: float
    present: np.ndarray  # (C,) bool: the class had training images
    quantile: float = QUANTILE

    def scores(self, embeddings: np.ndarray) -> np.ndarray:
        """(N, C) or (C,): squared Mahalanobis distance of each input to each class mean
        (infinite for a class with no training image)."""
        e = np.asarray(embeddings, dtype=np.float64)
        single = e.ndim == 1
        diff = np.atleast_2d(e)[:, None, :] - self.means[None].astype(np.float64)
        scores = np.einsum("nkd,de,nke->nk", diff, self.precision.astype(np.float64), diff)
        scores[:, ~self.present] = np.inf
        return scores[0] if single else scores

    def unfamiliar(self, embeddings: np.ndarray) -> np.ndarray | bool:
        """True where an input is farther than the threshold from every class."""
        nearest = np.min(self.scores(embeddings), axis=-1)
        return bool(nearest > self.threshold) if np.ndim(nearest) == 0 else nearest > self.threshold

    def save(self, path: Path) -> None:
        np.savez_compressed(path, means=self.means.astype(np.float32),
                            precision=self.precision.astype(np.float32),
                            threshold=np.float64(self.threshold), present=self.present,
                            quantile=np.float64(self.quantile))

    @classmethod
    def load(cls, path: Path) -> "NoveltyProfile":
        with np.load(path) as stored:
            return cls(stored["means"].astype(np.float32), stored["precision"].astype(np.float32),
                       float(stored["threshold"]), stored["present"].astype(bool),
                       float(stored["quantile"]))


def fit(embeddings: np.ndarray, labels: np.ndarray, num_classes: int,
        quantile: float = QUANTILE) -> NoveltyProfile:
    """The profile of training embeddings (N, D) with their classes (N,)."""
    e = np.asarray(embeddings, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    means = np.zeros((num_classes, e.shape[1]))
    present = np.zeros(num_classes, bool)
    for c in range(num_classes):
        members = e[labels == c]
        if len(members):  # (a tiny slice in a test of the training code may miss a class)
            means[c], present[c] = members.mean(axis=0), True
    centred = e - means[labels]
    covariance = centred.T @ centred / max(1, len(e)) + RIDGE * np.eye(e.shape[1])
    precision = np.linalg.inv(covariance)
    profile = NoveltyProfile(means.astype(np.float32), precision.astype(np.float32), 0.0, present,
                             quantile)
    nearest = np.min(profile.scores(e), axis=1)
    return NoveltyProfile(profile.means, profile.precision, float(np.quantile(nearest, quantile)),
                          present, quantile)


def unfamiliar_message(label: str) -> str:
    """What the page says next to the guess for an input unlike every class."""
    return (f"This input is unlike anything the model was trained on: it is far from every class "
            f"in the model's own feature space, so its answer ({label}) means little. It works "
            "best on one item, photographed whole, on a plain background.")


def fit_model(predictor, x: np.ndarray, y: np.ndarray) -> NoveltyProfile:
    """The profile of a model (a `vision.models.Predictor`) on what it trained on: a seeded
    sample of FIT_IMAGES of the training images x (N, H, W, C) with labels y."""
    if len(x) > FIT_IMAGES:
        keep = np.sort(np.random.default_rng(SEED).choice(len(x), FIT_IMAGES, replace=False))
        x, y = x[keep], y[keep]
    return fit(predictor.embeddings(x), y, int(predictor.model.output_shape[-1]))


def build(name: str, limit: int | None = None, out: Path | None = None) -> NoveltyProfile:
    """Fit and write the profile of a trained model, on its training split as its recipe makes
    it (with the photo-like images and the clothing photos, when the recipe mixes them in)."""
    from vision import train
    from vision.models import Predictor
    from vision.registry import get_spec

    spec = get_spec(name)
    data = (train.recipe_data(spec, train.RECIPES[name], limit) if name in train.RECIPES
            else train.load_training_data(spec, limit))
    profile = fit_model(Predictor.load(name), data.train.x, data.train.y)
    profile.save(out or profile_path(name))
    return profile


def load(name: str) -> NoveltyProfile | None:
    """The shipped profile of a model, or None when it has none."""
    path = profile_path(name)
    return NoveltyProfile.load(path) if path.is_file() else None


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+", help="registered model names")
    args = parser.parse_args(argv)
    for name in args.models:
        profile = build(name)
        print(f"{name}: threshold {profile.threshold:.1f} -> {profile_path(name)}", flush=True)


if __name__ == "__main__":
    main()
