"""The shipped Fashion models on real clothing photos (markers `weights`, `data`): the 264
`clothing_photos/validation/` photos, never used to train or tune, through the exact upload path
(bytes -> decode_image -> fashion preprocessing -> model, `vision.evaluate_photos`).

The Fashion page must open with the model that is right most often on them (issue 10), and the
figures the README gives must be the ones the shipped weights make."""

from __future__ import annotations

import pytest

from vision.evaluate_photos import evaluate_models
from vision.explain import explainer_for
from vision.models import load_model
from vision.registry import get_dataset, get_spec, models_for_dataset

pytestmark = [pytest.mark.weights, pytest.mark.data]

# (6-way accuracy at least, every class's recall at least). The shipped weights measure 0.428 /
# 0.773 / 0.818, lowest class 0.207 / 0.583 / 0.688 (README "Real clothing photos"); the
# evaluation is deterministic (GrabCut seeded).
FLOORS = {
    "fashion_mlp": (0.40, 0.15),   # not retrained for photos
    "fashion_cnn": (0.75, 0.55),   # the CAM model: the issue asks for 0.70 (no per-class figure)
    "fashion_deep": (0.80, 0.60),  # the best: the issue asks for 0.80, every class 0.60
}


@pytest.fixture(scope="module")
def scores():
    names = [spec.name for spec in models_for_dataset("fashion_mnist")]
    return {score.model: score for score in evaluate_models(names, "validation")}


def test_the_fashion_page_opens_with_the_model_right_most_often_on_photos(scores):
    default = get_dataset("fashion_mnist").default_model
    best = max(scores.values(), key=lambda score: score.accuracy_6way)
    assert default == best.model, {name: round(s.accuracy_6way, 3) for name, s in scores.items()}
    # and it has a heat map: CAM for the GAP model, Grad-CAM for any other CNN
    assert explainer_for(load_model(default), get_spec(default)) is not None


@pytest.mark.parametrize("name", sorted(FLOORS))
def test_photo_figures_of_each_model(scores, name):
    score = scores[name]
    accuracy, recall = FLOORS[name]
    print(f"{name}: 6-way {score.accuracy_6way:.3f}, recall {score.recall_6way}, "
          f"refused {score.refused}")
    assert score.photos == 264
    assert score.refused <= 0.02 * score.photos
    assert score.accuracy_6way >= accuracy
    assert min(score.recall_6way.values()) >= recall
