"""How unlike its training data an input is, in the model's own embedding space.

A low top probability is one sign that a model is out of its depth; an input far from every
class it was trained on is another, and it catches what the first misses: a network can be very
sure of a picture that looks like nothing it has seen. The embedding is the model's
penultimate-layer features (the space the Mistakes map draws), L2-normalised. For each class, the
profile holds the centroid of its training images' embeddings and a radius: the QUANTILE-th
quantile of their cosine distances to it. An input is unfamiliar when it is farther than the
radius from every centroid (its `distance ratio`, distance / radius, is above 1 for every class).

The profile is fitted on what the model trained on (its training split, and the clothing photos it
saw, made by the app's own upload path), never on a validation or test set:
`python -m vision.novelty MODEL` writes `weights/MODEL_novelty.npz`, and training writes it too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

QUANTILE = 0.99  # 1% of a class's own training images lie beyond its radius
FIT_IMAGES = 12_000  # a seeded sample of the training split is enough for a centroid and a quantile
SEED = 0


def profile_path(name: str) -> Path:
    from vision.registry import WEIGHTS_DIR

    return WEIGHTS_DIR / f"{name}_novelty.npz"


def _normalised(embeddings: np.ndarray) -> np.ndarray:
    embeddings = np.asarray(embeddings, dtype=np.float32)
    norms = np.linalg.norm(embeddings, axis=-1, keepdims=True)
    return embeddings / np.maximum(norms, 1e-12)


@dataclass(frozen=True)
class NoveltyProfile:
    """Per class: the centroid of the training embeddings (unit length) and its radius."""

    centroids: np.ndarray  # (C, D) float32, unit length
    radii: np.ndarray  # (C,) cosine distances
    quantile: float = QUANTILE

    def distance_ratios(self, embeddings: np.ndarray) -> np.ndarray:
        """(N, C) or (C,): each input's cosine distance to each centroid over that class's
        radius; 1 is the edge of the class."""
        e = _normalised(embeddings)
        single = e.ndim == 1
        e = np.atleast_2d(e)
        distances = 1.0 - e @ self.centroids.T
        ratios = distances / np.maximum(self.radii, 1e-6)
        return ratios[0] if single else ratios

    def unfamiliar(self, embeddings: np.ndarray) -> np.ndarray | bool:
        """True where an input is beyond the radius of every class."""
        nearest = np.min(self.distance_ratios(embeddings), axis=-1)
        return bool(nearest > 1.0) if np.ndim(nearest) == 0 else nearest > 1.0

    def save(self, path: Path) -> None:
        np.savez_compressed(path, centroids=self.centroids.astype(np.float32),
                            radii=self.radii.astype(np.float32), quantile=np.float64(self.quantile))

    @classmethod
    def load(cls, path: Path) -> "NoveltyProfile":
        with np.load(path) as stored:
            return cls(stored["centroids"].astype(np.float32), stored["radii"].astype(np.float32),
                       float(stored["quantile"]))


def fit(embeddings: np.ndarray, labels: np.ndarray, num_classes: int,
        quantile: float = QUANTILE) -> NoveltyProfile:
    """The profile of training embeddings (N, D) with their classes (N,)."""
    e = _normalised(embeddings)
    labels = np.asarray(labels, dtype=np.int64)
    centroids = np.zeros((num_classes, e.shape[1]), np.float32)
    radii = np.zeros(num_classes, np.float32)
    for c in range(num_classes):
        members = e[labels == c]
        if not len(members):  # (a tiny slice in a test of the training code) no input is near it
            continue
        centroid = _normalised(members.mean(axis=0))
        centroids[c] = centroid
        radii[c] = np.quantile(1.0 - members @ centroid, quantile)
    return NoveltyProfile(centroids, radii, quantile)


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
    data = train.load_training_data(spec, limit)
    recipe = train.RECIPES.get(name)
    if recipe is not None and (recipe.photo_like_fraction or recipe.photo_copies):
        data = train.with_photos(data, recipe, limit)
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
        print(f"{name}: radii {np.round(profile.radii, 3).tolist()} -> {profile_path(name)}")


if __name__ == "__main__":
    main()
