"""Classification figures per window and per clip: by majority vote over a clip's windows
('clip') and, where scores are known, by the clip's mean class probability ('clip_mean')."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Predictions:
    """What an stm32-asc engine returns: per window truth, prediction, clip index and scores."""

    y_true: np.ndarray
    y_pred: np.ndarray
    clip: np.ndarray
    scores: np.ndarray | None = None


def scores_report(y_true: np.ndarray, y_pred: np.ndarray, class_names) -> dict:
    """accuracy, macro-F1, UAR, per-class recall and the confusion matrix (rows = truth).

    UAR averages the classes present in the truth; macro-F1 those present in the truth or the
    predictions (a class a set lacks — EmoDB has no surprise — and nothing predicted as it does
    not count as an F1 of 0; predicting a class the set lacks still does)."""
    from sklearn.metrics import confusion_matrix, f1_score, recall_score

    labels = list(range(len(class_names)))
    recall = recall_score(y_true, y_pred, labels=labels, average=None, zero_division=0)
    present = np.isin(labels, y_true)
    seen = [c for c in labels if present[c] or np.any(y_pred == c)]
    return {
        "n": int(len(y_true)),
        "accuracy": float(np.mean(y_true == y_pred)) if len(y_true) else 0.0,
        "macro_f1": float(f1_score(y_true, y_pred, labels=seen, average="macro", zero_division=0))
        if seen else 0.0,
        "uar": float(np.mean(recall[present])) if present.any() else 0.0,
        "per_class_recall": {c: float(r) for c, r in zip(class_names, recall)},
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
    }


def clip_votes(y_true: np.ndarray, y_pred: np.ndarray, clip: np.ndarray,
               scores: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per clip: its label and the majority vote of its windows (ties: highest summed score)."""
    clips = np.unique(clip)
    truth, vote = np.empty(len(clips), np.int64), np.empty(len(clips), np.int64)
    n_classes = int(max(y_true.max(), y_pred.max())) + 1 if scores is None else scores.shape[1]
    for i, c in enumerate(clips):
        sel = clip == c
        counts = np.bincount(y_pred[sel], minlength=n_classes).astype(np.float64)
        if scores is not None:
            counts += 1e-6 * scores[sel].sum(axis=0) / max(1, sel.sum())
        truth[i], vote[i] = y_true[sel][0], int(np.argmax(counts))
    return truth, vote


def clip_means(y_true: np.ndarray, scores: np.ndarray, clip: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per clip: its label and the argmax of its windows' mean probability."""
    clips, inverse = np.unique(clip, return_inverse=True)
    sums = np.zeros((len(clips), scores.shape[1]), np.float64)
    np.add.at(sums, inverse, scores)
    truth = np.empty(len(clips), np.int64)
    truth[inverse] = y_true
    return truth, sums.argmax(axis=1)


def full_report(y_true, y_pred, clip, class_names, scores=None) -> dict:
    """Window-level and clip-level reports in one dict ('clip_mean' too when scores are given)."""
    t, v = clip_votes(np.asarray(y_true), np.asarray(y_pred), np.asarray(clip), scores)
    report = {
        "class_names": list(class_names),
        "window": scores_report(np.asarray(y_true), np.asarray(y_pred), class_names),
        "clip": scores_report(t, v, class_names),
    }
    if scores is not None:
        t, m = clip_means(np.asarray(y_true), np.asarray(scores, np.float64), np.asarray(clip))
        report["clip_mean"] = scores_report(t, m, class_names)
    return report
