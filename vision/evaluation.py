"""What a model did on its test set: one `Evaluation` record (written by `vision.train` to
`weights/MODEL_eval.npz`, read by the study pages), its metrics (scikit-learn), the cells of its
confusion matrix, its mistakes grouped, and whether several models agree.

Only `evaluate` runs a model (TensorFlow is imported there, when it is called); reading and
analysing a record is numpy and scikit-learn.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from vision.errors import WeightsMissingError


# ---------------------------------------------------------------- metrics
@dataclass(frozen=True)
class ClassReport:
    """Per-class precision, recall, F1 and support, as arrays indexed by class."""

    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray
    support: np.ndarray

    def as_rows(self, classes: Sequence[str]) -> list[dict]:
        return [{"class": c, "precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
                for c, p, r, f, s in zip(classes, self.precision, self.recall, self.f1, self.support)]


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts[i, j] of images of true class i predicted as class j."""
    from sklearn.metrics import confusion_matrix as sk_confusion

    return sk_confusion(np.asarray(y_true, int), np.asarray(y_pred, int),
                        labels=np.arange(num_classes)).astype(np.int64)


def class_report(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> ClassReport:
    """Precision, recall and F1 per class (0 where undefined, e.g. a class never predicted)."""
    from sklearn.metrics import precision_recall_fscore_support

    precision, recall, f1, support = precision_recall_fscore_support(
        np.asarray(y_true, int), np.asarray(y_pred, int), labels=np.arange(num_classes),
        zero_division=0)
    return ClassReport(precision, recall, f1, support.astype(np.int64))


# ---------------------------------------------------------------- the record
_REQUIRED = ("y_true", "y_pred", "top3_indices", "top3_probabilities", "misclassified", "embeddings")
_REFERENCES = ("misclassified_images", "test_rows", "test_files",
               "thumbnail_indices", "thumbnail_bytes", "thumbnail_offsets", "thumbnail_shape")
THUMBNAILS_PER_CELL = 12  # the first page of a cell on the Model report
THUMBNAIL_SIDE = 128  # the longer side of a shipped colour thumbnail (JPEG)


@dataclass(frozen=True)
class Evaluation:
    """A model's predictions on its test set.

    `embeddings` are the penultimate-layer features of the mistakes, in the order of
    `misclassified`. The references find the test images again, one kind per dataset (see
    `vision.data.DatasetSource.test_references`); the others are None. `loss` is the mean
    cross-entropy (None in files written before it was stored there: it is in MODEL.json).
    """

    y_true: np.ndarray
    y_pred: np.ndarray
    top3_indices: np.ndarray
    top3_probabilities: np.ndarray
    misclassified: np.ndarray  # indices into the test set
    embeddings: np.ndarray
    loss: float | None = None
    num_classes: int | None = None  # None: one more than the largest class seen
    misclassified_images: np.ndarray | None = None  # Fashion-MNIST: (M, 28, 28) uint8
    test_rows: np.ndarray | None = None  # doodles: row of each test image in the dataset
    test_files: np.ndarray | None = None  # flowers: file of each test image
    # Small pictures of the test images the study pages show (the mistakes and the first images
    # of each confusion cell), so they work without the dataset: PNG (grey) or JPEG (colour)
    # bytes, one after the other, and the shape of the images they were made from.
    thumbnail_indices: np.ndarray | None = None  # test-set index of each thumbnail
    thumbnail_bytes: np.ndarray | None = None  # uint8, every encoded thumbnail back to back
    thumbnail_offsets: np.ndarray | None = None  # where each starts (one more, for the end)
    thumbnail_shape: np.ndarray | None = None  # (H, W) or (H, W, 3) of the original images
    _positions: dict = field(default_factory=dict, repr=False, compare=False)
    _thumbnail_positions: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def accuracy(self) -> float:
        return float(np.mean(self.y_true == self.y_pred)) if len(self.y_true) else 0.0

    @property
    def classes(self) -> int:
        if self.num_classes is not None:
            return int(self.num_classes)
        seen = [int(a.max()) + 1 for a in (self.y_true, self.y_pred) if len(a)]
        return max(seen, default=0)

    @cached_property
    def confusion(self) -> np.ndarray:
        return confusion_matrix(self.y_true, self.y_pred, self.classes)

    @cached_property
    def report(self) -> ClassReport:
        return class_report(self.y_true, self.y_pred, self.classes)

    def cell(self, actual: int, predicted: int) -> np.ndarray:
        """Test-set indices of the images in one confusion-matrix cell; a diagonal cell gives the
        correctly classified images of that class."""
        return np.flatnonzero((self.y_true == actual) & (self.y_pred == predicted)).astype(np.int64)

    def mistake_positions(self, test_indices: np.ndarray) -> np.ndarray:
        """Positions in `misclassified` (and so in `embeddings`, `misclassified_images`) of some
        test-set indices; -1 for those the model got right."""
        if not self._positions:
            self._positions.update({int(index): i for i, index in enumerate(self.misclassified)})
        return np.array([self._positions.get(int(index), -1) for index in np.ravel(test_indices)],
                        dtype=np.int64)

    # ------------------------------------------------------------ thumbnails
    def has_thumbnails(self, test_indices: np.ndarray) -> np.ndarray:
        """Whether each of these test images has a thumbnail in the record."""
        if self.thumbnail_indices is None:
            return np.zeros(len(np.ravel(test_indices)), dtype=bool)
        if not self._thumbnail_positions:
            self._thumbnail_positions.update(
                {int(index): i for i, index in enumerate(self.thumbnail_indices)})
        return np.array([int(i) in self._thumbnail_positions for i in np.ravel(test_indices)],
                        dtype=bool)

    def thumbnail_images(self, test_indices: np.ndarray) -> list[np.ndarray | None]:
        """The thumbnails of some test images, decoded and resized back to the shape of the
        original images (so a model takes them as they are); None where there is none."""
        has = self.has_thumbnails(test_indices)
        out: list[np.ndarray | None] = []
        for index, present in zip(np.ravel(test_indices), has):
            if not present:
                out.append(None)
                continue
            i = self._thumbnail_positions[int(index)]
            start, end = int(self.thumbnail_offsets[i]), int(self.thumbnail_offsets[i + 1])
            out.append(decode_thumbnail(self.thumbnail_bytes[start:end].tobytes(),
                                        tuple(int(n) for n in self.thumbnail_shape)))
        return out

    def with_thumbnails(self, images: np.ndarray, per_cell: int = THUMBNAILS_PER_CELL,
                        side: int = THUMBNAIL_SIDE) -> "Evaluation":
        """The record with thumbnails of what the study pages show: every mistake (unless the
        record already holds their pixels) and the first `per_cell` images of each cell.
        `images` is the test set the record was computed on, (N, H, W[, 1 or 3]) uint8."""
        from dataclasses import replace

        images = np.asarray(images)
        if images.ndim == 4 and images.shape[-1] == 1:
            images = images[..., 0]
        chosen = set(self.misclassified.tolist())
        for actual in range(self.classes):
            for predicted in range(self.classes):
                chosen.update(self.cell(actual, predicted)[:per_cell].tolist())
        if self.misclassified_images is not None:  # the mistakes' pixels are there already
            chosen -= set(self.misclassified.tolist())
        indices = np.array(sorted(chosen), dtype=np.int32)
        encoded = [encode_thumbnail(images[i], side) for i in indices]
        offsets = np.cumsum([0] + [len(b) for b in encoded]).astype(np.int64)
        payload = np.frombuffer(b"".join(encoded), dtype=np.uint8)
        return replace(self, thumbnail_indices=indices, thumbnail_bytes=payload,
                       thumbnail_offsets=offsets,
                       thumbnail_shape=np.array(images.shape[1:], dtype=np.int32),
                       _positions={}, _thumbnail_positions={})

    # ------------------------------------------------------------ file
    def save(self, path: str | Path) -> None:
        """Write the record as a compressed `.npz` (labels as uint16, probabilities and embeddings
        as float16, to keep the file small)."""
        arrays = dict(
            y_true=self.y_true.astype(np.uint16), y_pred=self.y_pred.astype(np.uint16),
            top3_indices=self.top3_indices.astype(np.uint16),
            top3_probabilities=self.top3_probabilities.astype(np.float16),
            misclassified=self.misclassified.astype(np.int32),
            embeddings=self.embeddings.astype(np.float16))
        if self.loss is not None:
            arrays["loss"] = np.float64(self.loss)
        if self.num_classes is not None:
            arrays["num_classes"] = np.int32(self.num_classes)
        for key in _REFERENCES:
            if getattr(self, key) is not None:
                arrays[key] = getattr(self, key)
        np.savez_compressed(path, **arrays)

    @classmethod
    def load(cls, path: str | Path) -> "Evaluation":
        """Read a `MODEL_eval.npz` (also those written before `loss` and `num_classes` were
        stored); labels and indices become int64, probabilities and embeddings float32.

        Raises:
            WeightsMissingError: the file is missing or unreadable, with what to do about it.
        """
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
                arrays = {key: npz[key] for key in (*_REQUIRED, *_REFERENCES) if key in npz.files}
                loss = float(npz["loss"]) if "loss" in npz.files else None
                classes = int(npz["num_classes"]) if "num_classes" in npz.files else None
        except (OSError, ValueError, KeyError) as err:
            raise WeightsMissingError(
                f"The evaluation file {path.name} could not be read ({err}); re-create it by training "
                "the model again.") from err
        for key in ("y_true", "y_pred", "top3_indices", "misclassified"):
            arrays[key] = arrays[key].astype(np.int64)
        for key in ("top3_probabilities", "embeddings"):
            arrays[key] = arrays[key].astype(np.float32)
        return cls(**arrays, loss=loss, num_classes=classes)


def encode_thumbnail(image: np.ndarray, side: int = THUMBNAIL_SIDE) -> bytes:
    """A grey image as lossless PNG at its own size (28x28 is already small); a colour photo
    shrunk so its longer side is at most `side`, as JPEG."""
    import io

    from PIL import Image

    picture = Image.fromarray(np.asarray(image, np.uint8))
    buffer = io.BytesIO()
    if picture.mode == "L":
        picture.save(buffer, format="PNG", optimize=True)
    else:
        picture.thumbnail((side, side), Image.LANCZOS)
        picture.convert("RGB").save(buffer, format="JPEG", quality=85, optimize=True)
    return buffer.getvalue()


def decode_thumbnail(data: bytes, shape: tuple[int, ...]) -> np.ndarray:
    """A thumbnail back as uint8 pixels of `shape` (a shrunk photo is enlarged again)."""
    import io

    from PIL import Image

    with Image.open(io.BytesIO(data)) as picture:
        picture = picture.convert("L" if len(shape) == 2 else "RGB")
        if picture.size != (shape[1], shape[0]):
            picture = picture.resize((shape[1], shape[0]), Image.BICUBIC)
        return np.asarray(picture, dtype=np.uint8)


def evaluate(predictor, x: np.ndarray, y: np.ndarray) -> Evaluation:
    """Evaluate a `vision.models.Predictor` on images x (N, H, W, C), 0-255 pixels, with integer
    labels y: predictions, top 3, loss and the penultimate-layer embeddings of the mistakes."""
    num_classes = int(predictor.model.output_shape[-1])
    probs = predictor.probabilities(x) if len(x) else np.zeros((0, num_classes))
    y = np.asarray(y, dtype=np.int64)
    y_pred = probs.argmax(axis=1)
    top3 = np.argsort(-probs, axis=1, kind="stable")[:, :3]
    eps = 1e-7
    loss = float(-np.mean(np.log(np.clip(probs[np.arange(len(y)), y], eps, 1.0)))) if len(y) else 0.0
    wrong = np.flatnonzero(y_pred != y)
    embeddings = predictor.embeddings(x[wrong])
    return Evaluation(y, y_pred.astype(np.int64), top3, np.take_along_axis(probs, top3, axis=1),
                      wrong.astype(np.int64), embeddings, loss=loss, num_classes=num_classes)


# ---------------------------------------------------------------- confusion-matrix cells
def cell_order(matrix: np.ndarray) -> list[tuple[int, int]]:
    """Every (actual, predicted) cell of a confusion matrix, in the order a student wants them:
    the mistakes, most frequent first; then the correct cells, by class; then the empty cells."""
    matrix = np.asarray(matrix)
    n = matrix.shape[0]
    cells = [(a, p) for a in range(n) for p in range(n)]
    mistakes = sorted((c for c in cells if c[0] != c[1] and matrix[c] > 0),
                      key=lambda c: (-int(matrix[c]), c))
    correct = [(a, a) for a in range(n) if matrix[a, a] > 0]
    empty = [c for c in cells if matrix[c] == 0]
    return mistakes + correct + empty


# ---------------------------------------------------------------- groups of mistakes
@dataclass(frozen=True)
class Group:
    """A group of mistakes (a cluster, or all those predicted as one class)."""

    label: int  # cluster number (-1: DBSCAN noise) or predicted class
    members: np.ndarray  # positions in the list of mistakes
    top_pairs: tuple[tuple[int, int, int], ...]  # (actual, predicted, count), most frequent first

    @property
    def size(self) -> int:
        return len(self.members)

    def purity(self) -> float:
        """The share of the group's most frequent (actual, predicted) pair."""
        return self.top_pairs[0][2] / self.size if self.size and self.top_pairs else 0.0


def group_mistakes(group_labels: np.ndarray, y_true: np.ndarray, y_pred: np.ndarray,
                   top: int = 3) -> list[Group]:
    """Mistakes grouped by `group_labels` (one per mistake), largest group first (DBSCAN noise,
    label -1, last), each with its `top` most frequent (actual, predicted) pairs."""
    group_labels = np.asarray(group_labels, dtype=np.int64)
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    groups = []
    for label in np.unique(group_labels):
        members = np.flatnonzero(group_labels == label)
        pairs = Counter(zip(y_true[members].tolist(), y_pred[members].tolist()))
        ranked = sorted(pairs.items(), key=lambda item: (-item[1], item[0]))[:top]
        groups.append(Group(int(label), members, tuple((a, p, n) for (a, p), n in ranked)))
    return sorted(groups, key=lambda g: (g.label < 0, -g.size, g.label))


def describe_group(group: Group, class_names: Sequence[str]) -> str:
    """One line saying what a group of mistakes is mostly made of."""
    if not group.top_pairs:
        return "empty"
    parts = [f"{class_names[a]} → {class_names[p]} ({n})" for a, p, n in group.top_pairs]
    return f"mostly {parts[0]}" + (f", then {', '.join(parts[1:])}" if len(parts) > 1 else "")


# ---------------------------------------------------------------- several models
def disagreement(predictions: Mapping[str, str]) -> str | None:
    """None when every model predicts the same class; otherwise the majority class (ties: the
    first model's answer), so the dissenters can be highlighted."""
    answers = list(predictions.values())
    if len(set(answers)) <= 1:
        return None
    counts = Counter(answers)
    best = max(counts.values())
    return next(answer for answer in answers if counts[answer] == best)


# ---------------------------------------------------------------- writing the file
def write_record(path: str | Path, spec, data, result: Evaluation) -> Evaluation:
    """Write a model's evaluation file: the record, what finds its test images again in the
    dataset (`DatasetSource.test_references`) and thumbnails of the images the study pages show,
    so they work on a machine without the dataset. `spec` is a `vision.registry.ModelSpec`,
    `data` the `vision.data.Dataset` the record was computed on. Returns what was written."""
    from dataclasses import replace

    from vision.registry import get_dataset

    source = get_dataset(spec.dataset).source
    record = replace(result, **source.test_references(data, result.misclassified))
    if source.thumbnails_licensed:
        record = record.with_thumbnails(data.test.x)
    record.save(path)
    return record


def refresh(name: str, out_dir: Path | None = None) -> Evaluation:
    """Evaluate a model's shipped weights on its test split again and rewrite its evaluation
    file (`weights/MODEL_eval.npz`), e.g. after the thumbnails' format changed or a model was
    retrained elsewhere. Needs the model's dataset on this machine."""
    from vision.models import Predictor
    from vision.registry import WEIGHTS_DIR, get_dataset, get_spec

    spec = get_spec(name)
    data = get_dataset(spec.dataset).source.training_data()
    result = evaluate(Predictor.load(name), data.test.x, data.test.y)
    path = (out_dir or WEIGHTS_DIR) / spec.eval_path.name
    return write_record(path, spec, data, result)


def main(argv: list[str] | None = None) -> None:
    import argparse

    from vision.registry import trained_models

    parser = argparse.ArgumentParser(
        prog="python -m vision.evaluation",
        description="Re-evaluate the shipped weights on the test split and rewrite MODEL_eval.npz "
                    "(with the thumbnails the study pages show without the dataset).")
    parser.add_argument("--refresh", required=True, metavar="MODEL|all",
                        choices=[*trained_models(), "all"])
    args = parser.parse_args(argv)
    for name in trained_models() if args.refresh == "all" else [args.refresh]:
        record = refresh(name)
        if record.thumbnail_indices is None:
            print(f"[{name}] test accuracy {record.accuracy:.4f}; no thumbnails (the dataset's "
                  "licences do not allow shipping its images)", flush=True)
            continue
        size = int(record.thumbnail_offsets[-1])
        print(f"[{name}] test accuracy {record.accuracy:.4f}; "
              f"{len(record.thumbnail_indices)} thumbnails ({size / 1024:.0f} KiB)", flush=True)


if __name__ == "__main__":
    main()
