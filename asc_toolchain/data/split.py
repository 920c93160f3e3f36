"""Leak-free splits: whole groups (recording, location, speaker) go to one split only,
stratified by class where the groups allow it."""

from __future__ import annotations

import numpy as np

from .datasets import Item
from ..core.errors import DataError

MIN_GROUPS = 3          # a class needs a group for each of train, val and test


def split_by_group(items: list[Item], seed: int = 0, test_fraction: float = 0.2,
                   val_fraction: float = 0.15, test_fold: str | None = None,
                   classes=None, where=None) -> list[str]:
    """Return 'train' / 'val' / 'test' for each item; no group is in two splits.

    With ``test_fold`` the items whose fold column equals it form the test split. DataError
    (naming ``where``, the list) unless every class in ``classes`` (default: the labels present)
    can be trained: see check_classes; and after splitting, unless every class is in train.
    """
    check_classes(items, classes, where, need_groups=1 if test_fold is not None else MIN_GROUPS)
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
    _check_splits(out, labels, groups, where, test_fold)
    return out.tolist()


def _check_splits(out: np.ndarray, labels: np.ndarray, groups: np.ndarray, where, test_fold) -> None:
    """DataError when a split is empty or a class has no training recording."""
    for name in ("train", "val", "test"):
        if not np.any(out == name):
            raise DataError(f"too few recording groups ({len(set(groups))}) for a train/val/test split",
                            "add recordings (at least 3 groups per class helps)")
    untrained = sorted(set(labels) - set(labels[out == "train"]))
    if untrained:
        label = untrained[0]
        raise DataError(f"{where or 'the data'}: no recording of class {label!r} is left for training "
                        f"(its {len(set(groups[labels == label]))} group(s) all went to "
                        f"{'/'.join(sorted(set(out[labels == label])))})",
                        f"add recordings of {label} from more groups" +
                        (", or choose another --test-fold" if test_fold is not None else ""))


def check_classes(items: list[Item], classes=None, where=None, need_groups: int = MIN_GROUPS) -> None:
    """DataError unless the list can train a classifier of ``classes``: each has recordings, there
    are at least two, and each spans ``need_groups`` groups (one for each of train/val/test)."""
    where = where or "the data"
    groups: dict[str, set] = {}
    for it in items:
        groups.setdefault(it.label, set()).add(it.group)
    classes = list(classes) if classes is not None else sorted(groups)
    missing = [c for c in classes if c not in groups]
    if missing:
        raise DataError(f"{where}: no recordings of class {', '.join(map(repr, missing))} "
                        f"(it has {', '.join(sorted(groups))})",
                        f"add recordings of {missing[0]}, or train only the classes you have with "
                        "--label-map FILE whose classes: lists them")
    if len(classes) < 2:
        raise DataError(f"{where}: every recording is of class {classes[0]!r}; a classifier needs two or more",
                        "add recordings of the other classes")
    for c in classes:
        if len(groups[c]) < need_groups:
            raise DataError(f"{where}: class {c!r} has {len(groups[c])} recording group(s) "
                            f"({', '.join(sorted(groups[c])[:3])}); a leak-free train/val/test split "
                            f"needs {need_groups}",
                            f"add recordings of {c} from {need_groups - len(groups[c])} more group(s) "
                            "(other recordings, places or speakers)")


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


def assign_folds(items: list[Item], folds: int | None = None, seed: int = 0, where=None) -> list[str]:
    """Each item's cross-validation fold (as text): the data's fold column when every item has
    one, otherwise ``folds`` (default 5) grouped folds stratified by class (StratifiedGroupKFold).

    ConfigError when ``folds`` disagrees with the fold column, or there are fewer groups than folds.
    """
    from ..core.errors import ConfigError

    column = [it.fold for it in items]
    if all(column):
        present = sorted(set(column))
        if folds is not None and folds != len(present):
            raise ConfigError(f"--folds {folds}: {where or 'the data'} has {len(present)} folds in its fold "
                              f"column ({', '.join(present)})",
                              f"pass --folds {len(present)} or leave it out")
        return column
    folds = 5 if folds is None else folds
    labels = np.array([it.label for it in items])
    groups = np.array([it.group for it in items])
    if folds < 2 or len(set(groups)) < folds:
        raise ConfigError(f"--folds {folds}: {where or 'the data'} has {len(set(groups))} recording groups",
                          "use 2 or more folds and at most one fold per group")
    return _grouped_folds(labels, groups, folds, seed)


def _grouped_folds(labels: np.ndarray, groups: np.ndarray, folds: int, seed: int) -> list[str]:
    import warnings

    from sklearn.model_selection import StratifiedGroupKFold

    out = np.empty(len(labels), object)
    cv = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # classes with fewer groups than folds
        for k, (_, test) in enumerate(cv.split(np.zeros(len(labels)), labels, groups)):
            out[test] = str(k + 1)
    return out.tolist()
