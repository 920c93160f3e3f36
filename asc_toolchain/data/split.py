"""Leak-free splits: whole groups (recording, location, speaker) go to one split only,
stratified by class where the groups allow it."""

from __future__ import annotations

import numpy as np

from .datasets import Item
from ..core.errors import DataError


def split_by_group(items: list[Item], seed: int = 0, test_fraction: float = 0.2,
                   val_fraction: float = 0.15, test_fold: str | None = None) -> list[str]:
    """Return 'train' / 'val' / 'test' for each item; no group is in two splits.

    With ``test_fold`` the items whose fold column equals it form the test split.
    """
    labels = np.array([it.label for it in items])
    groups = np.array([it.group for it in items])
    idx = np.arange(len(items))
    if test_fold is not None:
        folds = np.array([it.fold for it in items])
        if not np.any(folds == str(test_fold)):
            raise DataError(f"no recording has fold {test_fold!r}", "check the fold column or drop --test-fold")
        test_mask = folds == str(test_fold)
    else:
        test_mask = _pick(idx, labels, groups, test_fraction, seed)
    rest = idx[~test_mask]
    val_mask = np.zeros(len(items), bool)
    val_mask[rest[_pick(rest, labels[rest], groups[rest], val_fraction, seed + 1)]] = True
    out = np.where(test_mask, "test", np.where(val_mask, "val", "train"))
    for name in ("train", "val", "test"):
        if not np.any(out == name):
            raise DataError(f"too few recording groups ({len(set(groups))}) for a train/val/test split",
                            "add recordings (at least 3 groups per class helps)")
    return out.tolist()


def _pick(idx: np.ndarray, labels: np.ndarray, groups: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """A mask over idx choosing about ``fraction`` of the groups, stratified by class."""
    import warnings

    from sklearn.model_selection import StratifiedGroupKFold

    n_groups = len(set(groups))
    if n_groups < 2:
        return np.zeros(len(idx), bool)
    smallest_class = min(np.unique(labels, return_counts=True)[1])
    # sklearn needs every class to have at least n_splits members; fewer folds = a larger share.
    n_splits = min(max(2, int(round(1.0 / fraction))), n_groups, max(2, smallest_class))
    cv = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # classes with fewer groups than folds
        _, chosen = next(cv.split(np.zeros(len(idx)), labels, groups))
    mask = np.zeros(len(idx), bool)
    mask[chosen] = True
    return mask
