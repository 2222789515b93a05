"""Small pure helpers behind the study pages (Model report, Mistakes map, Compare models,
Playground, How a CNN works): reading a training history, ordering the cells of a confusion
matrix, finding test images again, summarising groups of mistakes. No Streamlit, no TensorFlow.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np


CURVE_KEYS = ("loss", "val_loss", "accuracy", "val_accuracy")
FINE_TUNE_KEY = "fine_tune_starts_at_epoch"
# Validation loss must rise by this fraction of its minimum before we call it overfitting:
# smaller wiggles are the noise of one epoch.
OVERFIT_RISE = 0.02
ACCURACY_GAP = 0.03  # train minus validation accuracy worth a remark


# ---------------------------------------------------------------- training history
def curves(history: Mapping[str, Sequence[float]]) -> dict[str, np.ndarray]:
    """The per-epoch curves of a Keras history (loss, val_loss, accuracy, val_accuracy) that are
    present, as float arrays; other keys (e.g. `fine_tune_starts_at_epoch`) are left out."""
    return {key: np.asarray(history[key], dtype=np.float64) for key in CURVE_KEYS
            if key in history and len(history[key]) > 0}


def fine_tune_epoch(history: Mapping[str, Sequence[float] | float]) -> int | None:
    """The first epoch (1-based) of fine-tuning in a transfer model's history, or None.

    Training writes `fine_tune_starts_at_epoch: [n]` where n is the number of head-only epochs,
    so fine-tuning starts at epoch n + 1.
    """
    value = history.get(FINE_TUNE_KEY)
    if value is None:
        return None
    head_epochs = int(value[0] if isinstance(value, Sequence) else value)
    return head_epochs + 1


@dataclass(frozen=True)
class Overfitting:
    """What the loss curves say about overfitting. Epochs are 1-based."""

    epochs: int
    best_val_epoch: int | None  # epoch of the lowest validation loss
    overfits: bool  # validation loss rose after its minimum while training loss kept falling
    val_loss_rise: float  # last minus lowest validation loss
    train_loss_drop: float  # training loss at the best epoch minus at the last epoch
    accuracy_gap: float | None  # last training accuracy minus last validation accuracy
    message: str


def overfitting(history: Mapping[str, Sequence[float]]) -> Overfitting:
    """Find where the training and validation curves part.

    The turning point is the epoch of the lowest validation loss. The model overfits when, after
    it, the validation loss rises by more than 2% of its minimum while the training loss keeps
    falling: the network improves on the images it learns from and gets worse on new ones.
    """
    series = curves(history)
    loss, val_loss = series.get("loss"), series.get("val_loss")
    epochs = len(loss) if loss is not None else 0
    gap = None
    if "accuracy" in series and "val_accuracy" in series:
        gap = float(series["accuracy"][-1] - series["val_accuracy"][-1])
    if loss is None or val_loss is None or epochs == 0 or len(val_loss) != epochs:
        return Overfitting(epochs, None, False, 0.0, 0.0, gap,
                           "This history has no validation loss, so overfitting cannot be judged.")
    best = int(np.argmin(val_loss))
    rise = float(val_loss[-1] - val_loss[best])
    drop = float(loss[best] - loss[-1])
    overfits = best < epochs - 1 and rise > OVERFIT_RISE * float(val_loss[best]) and drop > 0
    if overfits:
        message = (
            f"The curves part after epoch {best + 1}: the validation loss is lowest there "
            f"({val_loss[best]:.3f}) and rises to {val_loss[-1]:.3f} by epoch {epochs}, while the "
            f"training loss keeps falling ({loss[best]:.3f} to {loss[-1]:.3f}). From there the model "
            "overfits: it keeps learning details of its training images that do not help on new ones.")
    elif best >= epochs - 2:
        message = (f"No sign of overfitting: the validation loss is still at its lowest near the "
                   f"last epoch ({best + 1} of {epochs}).")
    else:
        message = (f"Hardly any overfitting: the validation loss is lowest at epoch {best + 1} "
                   f"({val_loss[best]:.3f}) and stays close to it ({val_loss[-1]:.3f} at the end).")
    if gap is not None and gap > ACCURACY_GAP:
        message += (f" At the end, training accuracy is {gap:.1%} above validation accuracy.")
    return Overfitting(epochs, best + 1, bool(overfits), rise, drop, gap, message)


# ---------------------------------------------------------------- confusion matrix
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


# ---------------------------------------------------------------- comparing and displaying
def disagreement(predictions: Mapping[str, str]) -> str | None:
    """None when every model predicts the same class; otherwise the majority class (ties: the
    first model's answer), so the dissenters can be highlighted."""
    answers = list(predictions.values())
    if len(set(answers)) <= 1:
        return None
    counts = Counter(answers)
    best = max(counts.values())
    return next(answer for answer in answers if counts[answer] == best)


def truncate(values: np.ndarray | float, decimals: int = 2) -> np.ndarray:
    """Cut numbers to `decimals` places, towards zero (7/9 = 0.777... shows as 0.77, not 0.78).

    A tiny tolerance keeps values that are exact in decimal but not in binary (0.29 stored as
    0.28999...) from losing their last digit.
    """
    x = np.asarray(values, dtype=np.float64)
    factor = 10.0 ** decimals
    return np.trunc(x * factor + np.sign(x) * 1e-9) / factor + 0.0  # + 0.0: no "-0.00"


def flip_pixel(image: np.ndarray, row: int, col: int) -> np.ndarray:
    """A copy of a +1/-1 image with one pixel flipped (+1 becomes -1 and back)."""
    out = np.array(image, dtype=np.float64, copy=True)
    out[row, col] = -1.0 if out[row, col] > 0 else 1.0
    return out


def steady_range(angles: np.ndarray, predicted: np.ndarray, class_index: int) -> tuple[float, float] | None:
    """The widest run of consecutive angles around the one closest to 0 over which the prediction
    stays `class_index`, as (first angle, last angle); None when it is not predicted there."""
    angles = np.asarray(angles, dtype=np.float64)
    predicted = np.asarray(predicted)
    if len(angles) == 0:
        return None
    centre = int(np.argmin(np.abs(angles)))
    if predicted[centre] != class_index:
        return None
    low = high = centre
    while low > 0 and predicted[low - 1] == class_index:
        low -= 1
    while high < len(angles) - 1 and predicted[high + 1] == class_index:
        high += 1
    return float(angles[low]), float(angles[high])
