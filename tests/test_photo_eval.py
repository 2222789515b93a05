"""The real-photo evaluation's arithmetic and the photo-like augmentation, on cases with a known
answer (no dataset needed)."""

from pathlib import Path

import numpy as np

from vision.evaluate_photos import PHOTO_CLASSES, PreparedPhotos, score
from vision.photo_augment import photo_like, photo_like_copies
from vision.photo_confidence import out_of_depth
from vision.data import FASHION_CLASSES


def prepared(labels, refused) -> PreparedPhotos:
    n = len(labels)
    return PreparedPhotos(np.zeros((n, 28, 28, 1), np.float32), np.array(labels),
                          np.array(refused), ("",) * n, tuple(f"{i}.jpg" for i in range(n)))


def test_six_way_ignores_absent_classes_and_refused_photos_count_as_wrong():
    # Four photos: a T-shirt the model calls Bag first and T-shirt second (wrong 10-way, right
    # 6-way), a right Trouser, a Shirt called Coat (wrong both ways), and a refused Dress.
    probabilities = np.zeros((4, 10), np.float32)
    probabilities[0, [8, 0]] = [0.6, 0.3]
    probabilities[1, 1] = 0.9
    probabilities[2, [4, 6]] = [0.7, 0.2]
    probabilities[3, 3] = 0.99
    result = score("m", prepared([0, 1, 6, 3], [False, False, False, True]), probabilities)
    assert result.accuracy_10way == 0.25 and result.accuracy_6way == 0.5
    assert result.refused == 1 and result.photos == 4
    assert result.recall_6way == {"T-shirt/top": 1.0, "Trouser": 1.0, "Dress": 0.0, "Shirt": 0.0}
    confusion = np.array(result.confusion_6way)
    assert confusion.sum() == 3  # the refused photo has no guess
    assert confusion[PHOTO_CLASSES.index(6), PHOTO_CLASSES.index(4)] == 1


def test_photo_like_augmentation_is_seeded_and_looks_like_the_photo_path():
    rng = np.random.default_rng(0)
    item = np.zeros((28, 28), np.uint8)
    item[4:24, 8:20] = 180  # a trouser-ish block
    images = np.stack([item] * 50)[..., None]
    (first, chosen), (second, again) = (photo_like_copies(images, 0.6, seed=3),
                                        photo_like_copies(images, 0.6, seed=3))
    assert np.array_equal(first, second) and np.array_equal(chosen, again)
    assert 0.4 < len(chosen) / len(images) < 0.8  # about the asked fraction gets a copy
    assert first.shape == (len(chosen), 28, 28, 1) and len(np.unique(chosen)) == len(chosen)
    assert all(not np.array_equal(a, item) for a in first[..., 0])  # each copy is photo-like
    assert np.array_equal(images[:, :, :, 0], np.stack([item] * 50))  # originals untouched
    for _ in range(30):
        out = photo_like(item, rng)
        rows, cols = np.nonzero(out > 8)
        assert out[0, 0] == 0 and out.max() >= 150  # light on black, brightest part near white
        assert max(np.ptp(rows), np.ptp(cols)) + 1 >= 26  # fitted to the frame, as the path does


def test_out_of_depth_message_only_below_the_threshold():
    sure = np.array([0.9, 0.05] + [0.05 / 8] * 8)
    unsure = np.array([0.35, 0.3] + [0.35 / 8] * 8)
    assert out_of_depth(sure, FASHION_CLASSES) is None
    message = out_of_depth(unsure, FASHION_CLASSES)
    assert "out of its depth" in message and "T-shirt/top" in message and "Trouser" in message


def test_novelty_profile_knows_its_classes_and_flags_what_is_far_from_all():
    from vision import novelty

    # Three classes, each a cloud around its own centre in 16 dimensions, stretched along one
    # shared direction (the shared covariance the profile models).
    rng = np.random.default_rng(0)
    centres = np.eye(16)[:3] * 10
    stretch = np.diag([1.0] * 15 + [4.0])
    labels = np.repeat(np.arange(3), 2000)
    embeddings = centres[labels] + rng.normal(0, 1, (6000, 16)) @ stretch
    profile = novelty.fit(embeddings, labels, 3, quantile=0.99)
    assert 0.005 <= np.mean(profile.unfamiliar(embeddings)) <= 0.015  # 1% of its own images
    fresh = centres[np.arange(900) % 3] + rng.normal(0, 1, (900, 16)) @ stretch
    assert np.mean(profile.unfamiliar(fresh)) <= 0.025  # new members of the classes
    assert profile.scores(fresh).argmin(axis=1).tolist() == (np.arange(900) % 3).tolist()
    # 8 units along the stretched direction is ordinary; 8 units across it is not
    along, across = centres[0] + 8 * np.eye(16)[15], centres[0] + 8 * np.eye(16)[5]
    assert profile.unfamiliar(along) is False and profile.unfamiliar(across) is True


def test_novelty_profile_round_trips_and_a_class_without_images_is_never_near(tmp_path):
    from vision import novelty

    rng = np.random.default_rng(1)
    embeddings = rng.normal(0, 1, (300, 8))
    profile = novelty.fit(embeddings, np.zeros(300, int), 2)  # class 1 has no images
    profile.save(tmp_path / "p.npz")
    again = novelty.NoveltyProfile.load(tmp_path / "p.npz")
    assert np.array_equal(again.means, profile.means)
    assert np.array_equal(again.precision, profile.precision)
    assert again.threshold == profile.threshold and again.quantile == profile.quantile
    assert again.present.tolist() == [True, False]
    assert np.all(np.isinf(again.scores(embeddings)[:, 1]))


def test_photo_score_counts_what_the_page_warns_about():
    # Three kept photos: a sure right T-shirt, an unsure wrong Shirt (warned: low probability),
    # a sure right Trouser the novelty profile finds unlike the training data (warned too).
    probabilities = np.zeros((3, 10), np.float32)
    probabilities[0, 0] = 0.95
    probabilities[1, [4, 6]] = [0.4, 0.35]
    probabilities[2, 1] = 0.9
    result = score("m", prepared([0, 6, 1], [False] * 3), probabilities,
                   unfamiliar=np.array([False, False, True]))
    assert result.warned == 2 and result.unfamiliar == 1
    assert result.accuracy_warned == 0.5 and result.accuracy_trusted == 1.0
