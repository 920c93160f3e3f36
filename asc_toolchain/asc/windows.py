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
    """Load every item, slice its windows and compute their log-mel features, all held at once
    (for small sets; the stages read recordings through pipeline.stream_index instead)."""
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
            xs.append(windows_of(item))
        except AscError as exc:
            skip_or_raise(exc, item, skip_bad, skipped)
            continue
        ys.append(np.full(len(xs[-1]), index[item.label], np.int64))
        clips.append(np.full(len(xs[-1]), len(kept), np.int64))
        kept.append(item)
    if not xs:
        raise DataError("no recording yielded a window", "check the data list or drop --skip-bad to see why")
    return _stack_releasing(xs), np.concatenate(ys), np.concatenate(clips), kept


def _stack_releasing(parts: list) -> np.ndarray:
    """np.concatenate(parts), releasing each part once copied: the peak is the result plus one
    recording's windows, not twice the result (a 30-minute file alone is 216 MB of windows)."""
    if len(parts) == 1:
        return parts.pop()
    out = np.empty((sum(len(p) for p in parts),) + parts[0].shape[1:], parts[0].dtype)
    start = 0
    for i, part in enumerate(parts):
        out[start:start + len(part)] = part
        start += len(part)
        parts[i] = None
    return out


def recording_windows(item: Item, params: FeatureParams = SEED_PARAMS,
                      max_seconds: float | None = None) -> np.ndarray:
    """All feature windows of one recording; DataError if it is shorter than one window."""
    signal = load_audio(item.path, params.sample_rate, max_seconds)
    if len(signal) < params.window_samples:
        raise DataError(_too_short(item, len(signal), params),
                        "remove the clip, pass --skip-bad, or use a run with fewer --columns")
    return logmel_windows(signal, params)


def screen_items(items: list[Item], params: FeatureParams = SEED_PARAMS, max_seconds: float | None = None,
                 skipped: list | None = None) -> list[Item]:
    """The items that yield at least one window; the others go to ``skipped`` as (path, reason).

    For --skip-bad ahead of a stage that computes features its own way (the int8, C and
    emulated-board engines), so a bad recording is left out there too; DataError if none is left.
    Each recording is read through by blocks (every sample checked, none held).
    """
    from ..data.audio_stream import audio_blocks

    kept = []
    for item in items:
        try:
            n_samples = sum(len(b) for b in audio_blocks(item.path, params.sample_rate, max_seconds))
            if n_samples < params.window_samples:
                raise DataError(_too_short(item, n_samples, params), "")
        except AscError as exc:
            if skipped is not None:
                skipped.append((str(item.path), exc.message))
            continue
        kept.append(item)
    if not kept:
        raise DataError("no recording yielded a window", "check the data list; every recording was skipped")
    return kept


def _too_short(item: Item, n_samples: int, params: FeatureParams) -> str:
    return (f"{item.path}: {n_samples / params.sample_rate:.3f} s is shorter than one window "
            f"({params.window_samples / params.sample_rate:.3f} s)")


def skip_or_raise(exc, item, skip_bad: bool, skipped: list | None) -> None:
    """With ``skip_bad`` list ``item`` (and why) in ``skipped``; otherwise re-raise ``exc``."""
    if not skip_bad:
        raise exc
    if skipped is not None:
        skipped.append((str(item.path), exc.message))
