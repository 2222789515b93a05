"""Evaluation of a classifier on a test set: accuracy, loss, confusion matrix, per-class report,
top-3 predictions and the penultimate-layer embeddings of the mistakes."""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from vision.models import Predictor


@dataclass(frozen=True)
class ClassReport:
    """Per-class precision, recall, F1 and support, as arrays indexed by class."""

    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray
    support: np.ndarray

    def as_rows(self, classes: tuple[str, ...]) -> list[dict]:
        return [{"class": c, "precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
                for c, p, r, f, s in zip(classes, self.precision, self.recall, self.f1, self.support)]


@dataclass(frozen=True)
class Evaluation:
    """What a model did on a test set."""

    y_true: np.ndarray
    y_pred: np.ndarray
    top3_indices: np.ndarray
    top3_probabilities: np.ndarray
    loss: float
    confusion: np.ndarray
    report: ClassReport
    misclassified: np.ndarray  # indices into the test set
    embeddings: np.ndarray  # penultimate-layer features of the misclassified images

    @property
    def accuracy(self) -> float:
        return float(np.mean(self.y_true == self.y_pred))


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts[i, j] of images of true class i predicted as class j."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(y_true, int), np.asarray(y_pred, int)), 1)
    return matrix


def class_report(confusion: np.ndarray) -> ClassReport:
    """Precision, recall and F1 per class from a confusion matrix (0 where undefined)."""
    true_positive = np.diag(confusion).astype(float)
    predicted = confusion.sum(axis=0)
    support = confusion.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, true_positive / predicted, 0.0)
        recall = np.where(support > 0, true_positive / support, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    return ClassReport(precision, recall, f1, support)


def embedding_model(model: keras.Model) -> keras.Model:
    """A model giving the penultimate-layer features: the input of the `logits` layer."""
    return keras.Model(model.inputs, model.get_layer("logits").input)


def evaluate(predictor: Predictor, x: np.ndarray, y: np.ndarray, batch_size: int = 128) -> Evaluation:
    """Evaluate a model on images x (N, H, W, C), 0-255 pixels, with integer labels y."""
    probs = predictor.probabilities(x) if len(x) else np.zeros((0, predictor.model.output_shape[-1]))
    y = np.asarray(y, dtype=np.int64)
    y_pred = probs.argmax(axis=1)
    top3 = np.argsort(-probs, axis=1, kind="stable")[:, :3]
    eps = 1e-7
    loss = float(-np.mean(np.log(np.clip(probs[np.arange(len(y)), y], eps, 1.0)))) if len(y) else 0.0
    confusion = confusion_matrix(y, y_pred, probs.shape[1])
    wrong = np.flatnonzero(y_pred != y)
    features = embedding_model(predictor.model)
    call = tf.function(lambda t: features(t, training=False))
    embeddings = [call(tf.constant(np.asarray(x[wrong[i:i + batch_size]], np.float32))).numpy()
                  for i in range(0, len(wrong), batch_size)]
    embeddings = (np.concatenate(embeddings) if embeddings
                  else np.zeros((0, features.output_shape[-1]), np.float32))
    return Evaluation(y, y_pred, top3, np.take_along_axis(probs, top3, axis=1), loss, confusion,
                      class_report(confusion), wrong, embeddings)
