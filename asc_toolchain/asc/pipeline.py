"""Windows cut in the input pipeline from per-recording columns: memory grows with the columns
(~14 MB per hour of audio), not with the windows (~32× more).

A ``WindowIndex`` holds the distinct recordings' dB columns end to end in one array, each
window's peak (its normalisation reference) aligned with its first column, and per window only
its first column, class and clip. ``windows(idx)`` cuts and normalises the windows asked for,
bit-identical to features.logmel_windows; ``WindowBatches`` adds the scaler and feeds Keras.

Every stage that reads recordings (training, evaluation, quantization, validation) goes through
``stream_index`` (or the training cache) and takes windows a chunk at a time, so a long
recording costs its columns, never all of its windows. Keras is imported only for
``WindowBatches``/``predict_scores``: the int8 and C stages do not load TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.errors import AscError, DataError
from ..core.progress import progress
from .features import FeatureParams, Scaler, cut_windows, window_peaks
from .windows import skip_or_raise


CHUNK = 2000          # windows at a time when fitting the scaler: 7.7 MB of float32


@dataclass
class WindowIndex:
    """Windows of ``items``: ``start`` (row of ``db``), class ``y``, clip index ``clip`` (into
    ``items``), ``source`` (index of each kept item in the list given to ``build``)."""

    db: np.ndarray
    peaks: np.ndarray
    start: np.ndarray
    y: np.ndarray
    clip: np.ndarray
    items: list
    source: np.ndarray
    params: FeatureParams

    def __len__(self) -> int:
        return len(self.y)

    @classmethod
    def build(cls, items: list, class_names, cache, skip_bad: bool = False, skipped: list | None = None,
              desc: str = "features") -> "WindowIndex":
        """Columns of every item from ``cache``; an unusable item raises, or with ``skip_bad`` is
        left out and (path, reason) goes to ``skipped``. Recordings with one content share rows."""
        index = {c: i for i, c in enumerate(class_names)}
        cache.prefetch(items)
        parts, offsets, rows = [], {}, 0
        starts, ys, clips, kept, source = [], [], [], [], []
        for n, item in enumerate(progress(items, desc=desc, unit="file")):
            try:
                db = cache.columns(item)
            except AscError as exc:
                skip_or_raise(exc, item, skip_bad, skipped)
                continue
            if id(db) not in offsets:
                offsets[id(db)] = rows
                parts.append(db)
                rows += len(db)
            count = len(db) - cache.params.n_columns + 1
            starts.append(offsets[id(db)] + np.arange(count, dtype=np.int64))
            ys.append(np.full(count, index[item.label], np.int64))
            clips.append(np.full(count, len(kept), np.int64))
            kept.append(item)
            source.append(n)
        if not kept:
            raise DataError("no recording yielded a window", "check the data list or drop --skip-bad to see why")
        db_peaks = _joined(parts, cache.params)
        cache.release()                 # the columns now live once, in the joined array
        return cls(*db_peaks, np.concatenate(starts), np.concatenate(ys),
                   np.concatenate(clips), kept, np.array(source), cache.params)

    def subset(self, chosen) -> "WindowIndex":
        """The windows of the items whose ``source`` position is set in ``chosen`` (a bool per
        item given to build), sharing this index's columns; clips renumbered from 0."""
        keep_item = np.asarray(chosen, bool)[self.source]
        renumber = np.cumsum(keep_item) - 1
        mask = keep_item[self.clip]
        return WindowIndex(self.db, self.peaks, self.start[mask], self.y[mask], renumber[self.clip[mask]],
                           [it for it, k in zip(self.items, keep_item) if k], self.source[keep_item],
                           self.params)

    def strided(self, step: int) -> "WindowIndex":
        """Every ``step``-th window of each clip, from its first (all of them when ``step`` is 1):
        consecutive windows share all but one column, so a step of a few loses little."""
        if step <= 1 or len(self) == 0:
            return self
        first = np.searchsorted(self.clip, self.clip, side="left")     # windows of a clip are contiguous
        keep = (np.arange(len(self)) - first) % step == 0
        return WindowIndex(self.db, self.peaks, self.start[keep], self.y[keep], self.clip[keep], self.items,
                           self.source, self.params)

    def windows(self, idx) -> np.ndarray:
        """Windows number ``idx`` as (n, n_mels, n_columns) float32 dB in [-top_db, 0]."""
        return cut_windows(self.db, self.peaks, self.start[np.asarray(idx)], self.params)

    def chunks(self, size: int = CHUNK):
        """All windows in order, ``size`` at a time (bounded memory for fitting and scoring)."""
        for first in range(0, len(self), size):
            yield self.windows(np.arange(first, min(first + size, len(self))))


def _joined(parts: list, params: FeatureParams) -> tuple[np.ndarray, np.ndarray]:
    """Columns end to end, and each window's peak at its first column's row (NaN elsewhere)."""
    db = np.concatenate(parts) if len(parts) > 1 else parts[0]
    peaks = np.full(len(db), np.nan, np.float32)
    row = 0
    for part in parts:
        p = window_peaks(part, params)
        peaks[row:row + len(p)] = p
        row += len(part)
    return db, peaks


def fit_scaler(index: WindowIndex, chunk: int = CHUNK) -> Scaler:
    """Scaler.fit over every window of ``index`` without materialising them (two passes, float64)."""
    shape = (index.params.n_mels, index.params.n_columns)
    total = np.zeros(shape, np.float64)
    for x in index.chunks(chunk):
        total += x.sum(axis=0, dtype=np.float64)
    mean = total / len(index)
    spread = np.zeros(shape, np.float64)
    for x in index.chunks(chunk):
        spread += np.square(x - mean).sum(axis=0)
    std = np.sqrt(spread / len(index))
    std[std < 1e-8] = 1.0
    return Scaler(mean, std)


def stream_index(items: list, class_names, params: FeatureParams, max_seconds: float | None = None,
                 skip_bad: bool = False, skipped: list | None = None, desc: str = "features") -> WindowIndex:
    """The windows of ``items`` for scoring: columns read by blocks (cache.recording_columns),
    held in this process only; windows are cut later, a chunk at a time."""
    from .cache import FeatureCache

    return WindowIndex.build(items, class_names, FeatureCache(params, max_seconds, None), skip_bad, skipped, desc)


def scaled_chunks(index: WindowIndex, scaler: Scaler, size: int = CHUNK):
    """(window numbers, standardised windows) of ``index`` in order, ``size`` at a time."""
    for first in range(0, len(index), size):
        idx = np.arange(first, min(first + size, len(index)))
        yield idx, scaler.transform(index.windows(idx))


def _window_batches_class():
    import keras

    class WindowBatches(keras.utils.PyDataset):
        """(standardised windows[..., None], y) in order, ``batch_size`` at a time: for validation
        and prediction without holding every window."""

        def __init__(self, index: WindowIndex, scaler: Scaler, batch_size: int = 1024):
            super().__init__()
            self.index, self.scaler, self.batch_size = index, scaler, batch_size

        def __len__(self) -> int:
            return int(np.ceil(len(self.index) / self.batch_size))

        def __getitem__(self, i: int):
            idx = np.arange(i * self.batch_size, min((i + 1) * self.batch_size, len(self.index)))
            return self.scaler.transform(self.index.windows(idx))[..., None], self.index.y[idx]

    return WindowBatches


def __getattr__(name: str):
    if name == "WindowBatches":          # defined on first use: importing keras loads TensorFlow
        globals()[name] = cls = _window_batches_class()
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


PREDICT_BATCH = 256   # the network's activations per batch dominate: ~16 MB per Conv2D at 256


def predict_scores(model, index: WindowIndex, scaler: Scaler, batch_size: int = PREDICT_BATCH) -> np.ndarray:
    """The model's class scores for every window of ``index`` (n, n_classes)."""
    if len(index) == 0:
        return np.zeros((0, int(model.outputs[0].shape[-1])), np.float32)
    batches = __getattr__("WindowBatches")(index, scaler, batch_size)
    return model.predict(batches, verbose=0)
