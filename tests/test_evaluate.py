"""Evaluation metrics agree with scikit-learn; evaluate() agrees with the model's own outputs."""

import numpy as np
from sklearn import metrics as skm

from vision.evaluate import class_report, confusion_matrix


def test_confusion_matrix_and_report_match_scikit_learn():
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 6, 500)
    y_pred = np.where(rng.random(500) < 0.6, y_true, rng.integers(0, 6, 500))
    y_pred[y_pred == 5] = 4  # class 5 is never predicted: precision must be 0, not NaN
    matrix = confusion_matrix(y_true, y_pred, 6)
    assert np.array_equal(matrix, skm.confusion_matrix(y_true, y_pred, labels=range(6)))
    report = class_report(matrix)
    p, r, f, s = skm.precision_recall_fscore_support(y_true, y_pred, labels=range(6), zero_division=0)
    assert np.allclose(report.precision, p) and np.allclose(report.recall, r)
    assert np.allclose(report.f1, f) and np.array_equal(report.support, s)
    assert report.precision[5] == 0.0
