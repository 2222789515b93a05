"""The training command, run for a few steps on a small slice of the real data (seconds, not a
full training), writes files that plain Keras can load without this project's code."""

import json
import subprocess
import sys

import numpy as np
import pytest

from vision import novelty, train
from vision.registry import get_spec

QUICK = {"epochs": 1, "limit": 48}
pytestmark = pytest.mark.data  # a few steps on slices of the real datasets


@pytest.mark.parametrize("name", train.TRAINABLE)
def test_training_writes_model_metrics_and_eval_file(name, tmp_path):
    options = dict(QUICK, fine_tune_epochs=1) if name == "flowers_mobilenet" else QUICK
    document = train.train(name, out_dir=tmp_path, **options)
    spec = get_spec(name)

    written = json.loads((tmp_path / f"{name}.json").read_text())
    assert written == json.loads(json.dumps(document))
    assert written["dataset"] == spec.dataset and written["classes"] == list(spec.labels)
    # Fashion recipes add photo-like copies of a seeded share of the 48 training images, and the
    # clothing_photos/train photos (48 of them here), each in `photo_copies` views, to the
    # training split only.
    recipe = train.RECIPES[name]
    photos = 48 * recipe.photo_copies
    copies = 0
    if recipe.photo_like_fraction:
        copies = int(np.sum(np.random.default_rng(train.SEED).random(48) < recipe.photo_like_fraction))
        assert copies > 0
    assert written["split_sizes"] == {"train": 48 + copies + photos, "val": 48, "test": 48}
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert len(written["history"][key]) >= 1
    matrix = np.array(written["test"]["confusion_matrix"])
    assert matrix.shape == (spec.num_classes, spec.num_classes) and matrix.sum() == 48
    assert written["test"]["accuracy"] == pytest.approx(np.trace(matrix) / 48)
    assert written["command"].startswith("python -m vision.train")
    assert {"tensorflow", "keras", "numpy"} <= written["versions"].keys()

    with np.load(tmp_path / f"{name}_eval.npz") as ev:
        assert len(ev["y_true"]) == 48 and ev["top3_indices"].shape == (48, 3)
        assert np.array_equal(ev["y_pred"], ev["top3_indices"][:, 0])
        assert np.all(np.diff(ev["top3_probabilities"].astype(float), axis=1) <= 1e-3)
        wrong = np.flatnonzero(ev["y_pred"] != ev["y_true"])
        assert np.array_equal(ev["misclassified"], wrong)
        assert len(ev["embeddings"]) == len(wrong)

    # every recipe trains on images in memory: the novelty profile is written too
    profile = novelty.NoveltyProfile.load(tmp_path / f"{name}_novelty.npz")
    assert profile.means.shape[0] == spec.num_classes and profile.threshold > 0
    assert np.allclose(profile.precision, profile.precision.T, atol=1e-3 * np.abs(
        profile.precision).max())  # the inverse of a covariance: symmetric


def test_saved_model_is_self_contained(tmp_path):
    """Loads with Keras' safe mode in a fresh interpreter that never imports `vision`, and
    takes raw 0-255 pixels."""
    train.train("fashion_cnn", out_dir=tmp_path, **QUICK)
    script = f"""
import sys, numpy as np, keras
model = keras.saving.load_model({str(tmp_path / 'fashion_cnn.keras')!r}, safe_mode=True)
probs = model.predict(np.full((2, 28, 28, 1), 255.0, "float32"), verbose=0)
assert probs.shape == (2, 10) and abs(probs.sum() - 2) < 1e-4
assert not any(m == "vision" or m.startswith("vision.") for m in sys.modules)
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path)
    assert done.stdout.strip().endswith("ok"), done.stderr[-2000:]


def test_training_is_repeatable(tmp_path):
    first = train.train("fashion_mlp", out_dir=tmp_path / "a", **QUICK)
    second = train.train("fashion_mlp", out_dir=tmp_path / "b", **QUICK)
    assert first["history"]["loss"] == pytest.approx(second["history"]["loss"], rel=1e-5)
    assert first["test"]["confusion_matrix"] == second["test"]["confusion_matrix"]
