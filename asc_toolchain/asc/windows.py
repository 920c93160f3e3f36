"""Recordings → windows of features with labels and clip indices."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..data.audio import load_audio
from ..data.datasets import Item
from ..core.errors import AscError, DataError
from .features import SEED_PARAMS, FeatureParams, Scaler, logmel_windows
from ..core.progress import progress


@dataclass
class WindowSet:
    """Per-window features ``x`` (n, mels, columns), class index ``y`` and clip index ``clip``."""

    x: np.ndarray
    y: np.ndarray
    clip: np.ndarray
    items: list[Item]

    def __len__(self) -> int:
        return len(self.y)


def window_features(items: list[Item], class_names, params: FeatureParams = SEED_PARAMS,
                    scaler: Scaler | None = None, max_seconds: float | None = None,
                    skip_bad: bool = False, skipped: list | None = None,
                    desc: str = "features") -> WindowSet:
    """Load every item, slice its windows and compute their log-mel features."""
    x, y, clip, kept = collect_windows(items, class_names,
                                       lambda item: recording_windows(item, params, max_seconds),
                                       skip_bad, skipped, desc)
    if scaler is not None:
        x = scaler.transform(x)
    return WindowSet(x, y, clip, kept)


def collect_windows(items: list, class_names, windows_of, skip_bad: bool = False,
                    skipped: list | None = None, desc: str = "features"):
    """Stack ``windows_of(item)`` over items → (x, y class index, clip index, kept items).

    An item whose windows cannot be made raises, or with ``skip_bad`` is left out and
    (path, reason) goes to ``skipped``.
    """
    index = {c: i for i, c in enumerate(class_names)}
    xs, ys, clips, kept = [], [], [], []
    for item in progress(items, desc=desc, unit="file"):
        try:
            x = windows_of(item)
        except AscError as exc:
            if not skip_bad:
                raise
            if skipped is not None:
                skipped.append((str(item.path), exc.message))
            continue
        xs.append(x)
        ys.append(np.full(len(x), index[item.label], np.int64))
        clips.append(np.full(len(x), len(kept), np.int64))
        kept.append(item)
    if not xs:
        raise DataError("no recording yielded a window", "check the data list or drop --skip-bad to see why")
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(clips), kept


def recording_windows(item: Item, params: FeatureParams = SEED_PARAMS,
                      max_seconds: float | None = None) -> np.ndarray:
    """All feature windows of one recording; DataError if it is shorter than one window."""
    signal = load_audio(item.path, params.sample_rate, max_seconds)
    if len(signal) < params.window_samples:
        need = params.window_samples / params.sample_rate
        raise DataError(f"{item.path}: {len(signal) / params.sample_rate:.3f} s is shorter than one "
                        f"window ({need:.3f} s)", "remove the clip or pass --skip-bad")
    return logmel_windows(signal, params)
