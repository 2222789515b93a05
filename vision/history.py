"""A model's training history: the per-epoch curves Keras recorded, where fine-tuning started,
and the overfitting verdict (where the training and validation curves part)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

CURVE_KEYS = ("loss", "val_loss", "accuracy", "val_accuracy")
FINE_TUNE_KEY = "fine_tune_starts_at_epoch"
# Validation loss must rise by this fraction of its minimum before we call it overfitting:
# smaller wiggles are the noise of one epoch.
OVERFIT_RISE = 0.02
ACCURACY_GAP = 0.03  # train minus validation accuracy worth a remark


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
