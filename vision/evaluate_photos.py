"""Accuracy on real clothing photos, through the exact upload path: `python -m vision.evaluate_photos`.

Every photo of `../shared/data/clothing_photos/<split>/` is read as bytes, decoded by
`vision.images.decode_image` (as an upload is), preprocessed by the model's registered
preprocessing (`fashion_from_photo`) and classified. The photos hold only six of the ten
Fashion-MNIST classes (no shoes, no bags), so two figures are printed:

- **6-way** (the headline): the argmax is taken over the six classes present in the photos only;
  a model is not blamed for "Bag" when no photo can be a bag, but it is blamed for every other
  confusion (Shirt for T-shirt...).
- **10-way**: the plain argmax over all ten classes, as the page shows it.

A photo the preprocessing refuses (no object found) counts as wrong in both, and is counted
under "refused". `validation/` is the yardstick and must never be used to train or tune; tune on
`--split train`.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from vision import novelty
from vision.data import FASHION_CLASSES, shared_data_dir
from vision.errors import DatasetMissingError, InvalidImageError
from vision.images import decode_image
from vision.photo_confidence import LOW_CONFIDENCE
from vision.preprocess import preprocess
from vision.registry import MODELS, get_spec, models_for_dataset

# The Fashion-MNIST classes that the clothing photos hold (see the folder's README).
PHOTO_CLASSES = (0, 1, 2, 3, 4, 6)


def clothing_photos_dir() -> Path:
    """The `clothing_photos` folder of the shared data."""
    folder = shared_data_dir() / "clothing_photos"
    if not (folder / "labels.csv").is_file():
        raise DatasetMissingError(
            f"The clothing photos are not here: expected {folder / 'labels.csv'} (set "
            "VISION_LAB_DATA to the folder that holds clothing_photos/).")
    return folder


def photo_list(split: str = "validation") -> list[tuple[Path, int]]:
    """(path, Fashion-MNIST label) of every photo of one split, in labels.csv order."""
    folder = clothing_photos_dir()
    with open(folder / "labels.csv", newline="", encoding="utf-8") as f:
        rows = [row for row in csv.DictReader(f) if row["split"] == split]
    if not rows:
        raise DatasetMissingError(f"labels.csv lists no photo in the split {split!r}.")
    return [(folder / row["file"], int(row["label_index"])) for row in rows]


@dataclass(frozen=True)
class PreparedPhotos:
    """The model inputs of a list of photos, made once through the upload path."""

    inputs: np.ndarray          # (N, 28, 28, 1) float32; zeros where refused
    labels: np.ndarray          # (N,) Fashion-MNIST class indices
    refused: np.ndarray         # (N,) bool: the preprocessing raised InvalidImageError
    notes: tuple[str, ...]      # per photo: "" or the preprocessing's note (pair of shoes, ...)
    files: tuple[str, ...]


def prepare_photos(photos: list[tuple[Path, int]], preprocessing: str = "fashion",
                   log=print) -> PreparedPhotos:
    """bytes -> decode_image -> preprocess(preprocessing) for each photo, as an upload goes.
    Says how far it is every 250 photos (GrabCut takes a few minutes for the training photos)."""
    inputs, refused, notes = [], [], []
    start = time.time()
    for done, (path, _) in enumerate(photos):
        if done and done % 250 == 0:
            log(f"  {done}/{len(photos)} photos through the upload path ({time.time() - start:.0f}s)")
        pixels = decode_image(path.read_bytes())
        try:
            prepared = preprocess(preprocessing, pixels)
        except InvalidImageError:
            inputs.append(np.zeros((28, 28, 1), np.float32))
            refused.append(True)
            notes.append("refused")
            continue
        inputs.append(prepared.model_input)
        refused.append(False)
        notes.append(_note(prepared))
    return PreparedPhotos(np.stack(inputs), np.array([label for _, label in photos]),
                          np.array(refused), tuple(notes), tuple(p.name for p, _ in photos))


def _note(prepared) -> str:
    """What the preprocessing said about the photo ("" when it says nothing)."""
    note = getattr(prepared, "note", None)
    return "" if note is None else str(getattr(note, "kind", note))


@dataclass
class PhotoScore:
    """One model's figures on one split of the clothing photos."""

    model: str
    photos: int
    refused: int
    accuracy_6way: float
    accuracy_10way: float
    recall_6way: dict[str, float] = field(default_factory=dict)  # class name -> recall
    confusion_6way: list[list[int]] = field(default_factory=list)  # rows: truth, cols: guess
    # What the Fashion page says next to the guess: photos it warns about (top probability below
    # photo_confidence.LOW_CONFIDENCE, or unfamiliar to the model's novelty profile), and the
    # 6-way accuracy on those and on the rest. NaN where a group is empty.
    warned: int = 0
    unfamiliar: int = 0
    accuracy_warned: float = float("nan")
    accuracy_trusted: float = float("nan")


def score(name: str, photos: PreparedPhotos, probabilities: np.ndarray,
          unfamiliar: np.ndarray | None = None) -> PhotoScore:
    """Accuracy (6-way and 10-way), per-class recall and refusals from a model's probabilities;
    `unfamiliar` (one bool per photo, from the model's novelty profile) adds the warnings."""
    present = np.array(PHOTO_CLASSES)
    guess10 = probabilities.argmax(axis=1)
    guess6 = present[probabilities[:, present].argmax(axis=1)]
    ok = ~photos.refused
    right6 = (guess6 == photos.labels) & ok
    right10 = (guess10 == photos.labels) & ok
    recall = {FASHION_CLASSES[c]: float(right6[photos.labels == c].mean())
              for c in PHOTO_CLASSES if (photos.labels == c).any()}
    index = {c: i for i, c in enumerate(PHOTO_CLASSES)}
    confusion = np.zeros((len(present), len(present)), int)
    for truth, guess, kept in zip(photos.labels, guess6, ok):
        if kept:
            confusion[index[int(truth)], index[int(guess)]] += 1
    unfamiliar = np.zeros(len(ok), bool) if unfamiliar is None else np.asarray(unfamiliar, bool)
    warned = ok & ((probabilities.max(axis=1) < LOW_CONFIDENCE) | unfamiliar)
    trusted = ok & ~warned

    def share(mask: np.ndarray) -> float:
        return float(right6[mask].mean()) if mask.any() else float("nan")

    return PhotoScore(name, len(photos.labels), int(photos.refused.sum()),
                      float(right6.mean()), float(right10.mean()), recall, confusion.tolist(),
                      int(warned.sum()), int((ok & unfamiliar).sum()), share(warned), share(trusted))


def evaluate_models(names: list[str], split: str = "validation") -> list[PhotoScore]:
    """Each model's figures on one split (photos are preprocessed once per preprocessing)."""
    from vision.models import Predictor  # TensorFlow is imported only here

    photos = photo_list(split)
    prepared: dict[str, PreparedPhotos] = {}
    scores = []
    for name in names:
        spec = get_spec(name)
        if spec.preprocessing not in prepared:
            prepared[spec.preprocessing] = prepare_photos(photos, spec.preprocessing)
        batch = prepared[spec.preprocessing]
        predictor = Predictor.load(name)
        profile = novelty.load(name)
        unfamiliar = None if profile is None else profile.unfamiliar(predictor.embeddings(batch.inputs))
        scores.append(score(name, batch, predictor.probabilities(batch.inputs), unfamiliar))
    return scores


def report(scores: list[PhotoScore], split: str) -> str:
    """The figures as plain text: one table of accuracy, one of per-class recall."""
    names = [FASHION_CLASSES[c] for c in PHOTO_CLASSES]
    lines = [f"Clothing photos, {split}/ ({scores[0].photos} photos), through bytes -> decode_image "
             "-> fashion preprocessing -> model.",
             "6-way: argmax restricted to the 6 classes the photos hold "
             f"({', '.join(names)}); 10-way: plain argmax over all 10.",
             "Refused photos (no object found) count as wrong.", "",
             f"{'model':<14} {'6-way':>7} {'10-way':>7} {'refused':>8}"]
    for s in scores:
        lines.append(f"{s.model:<14} {s.accuracy_6way:>7.4f} {s.accuracy_10way:>7.4f} "
                     f"{s.refused:>4} ({s.refused / s.photos:.1%})")
    lines += ["", "What the page says: photos it warns about (unsure, or unlike the training data) "
              "and the 6-way accuracy on those and on the rest:",
              f"{'model':<14} {'warned':>7} {'unlike':>7} {'right when warned':>18} "
              f"{'right otherwise':>16}"]
    for s in scores:
        lines.append(f"{s.model:<14} {s.warned:>7} {s.unfamiliar:>7} {s.accuracy_warned:>18.3f} "
                     f"{s.accuracy_trusted:>16.3f}")
    lines += ["", "Per-class recall (6-way):",
              f"{'model':<14} " + " ".join(f"{n[:11]:>11}" for n in names)]
    for s in scores:
        lines.append(f"{s.model:<14} " + " ".join(f"{s.recall_6way.get(n, float('nan')):>11.3f}"
                                                  for n in names))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m vision.evaluate_photos",
                                     description=__doc__.split("\n")[0])
    fashion = [s.name for s in models_for_dataset("fashion_mnist") if s.weights_available]
    parser.add_argument("--models", nargs="+", default=fashion, choices=list(MODELS))
    parser.add_argument("--split", default="validation", choices=["validation", "train"])
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    scores = evaluate_models(args.models, args.split)
    print(report(scores, args.split))
    if args.json:
        args.json.write_text(json.dumps([asdict(s) for s in scores], indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
