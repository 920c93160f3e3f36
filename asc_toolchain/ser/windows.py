"""Utterances → 3×128×128 feature windows with labels, clip indices and corpora."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..data.audio import load_audio
from . import features as F


@dataclass
class SerWindows:
    """``x`` (n, 3, 128, 128) float32, class index ``y``, clip index ``clip`` into ``items``."""

    x: np.ndarray
    y: np.ndarray
    clip: np.ndarray
    items: list

    def __len__(self) -> int:
        return len(self.y)

    def nhwc(self) -> np.ndarray:
        """The windows as the Keras model takes them: (n, 128, 128, 3)."""
        return np.ascontiguousarray(self.x.transpose(0, 2, 3, 1))


def utterance_windows(path, step_s: float = 0.5, max_windows: int | None = 4) -> np.ndarray:
    """Feature windows of one file every ``step_s`` s (a short clip gives one padded window)."""
    signal = load_audio(path, F.SAMPLE_RATE)
    return F.clip_features(signal, step=int(round(step_s * F.SAMPLE_RATE)), max_windows=max_windows)


def ser_windows(items: list, class_names, step_s: float = 0.5, max_windows: int | None = 4,
                skip_bad: bool = False, skipped: list | None = None, desc: str = "features") -> SerWindows:
    """Windows of every item; unreadable files raise, or with ``skip_bad`` go to ``skipped``."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):            # per-window matrix products: threads only cost time
        return _windows(items, class_names, step_s, max_windows, skip_bad, skipped, desc)


def _windows(items, class_names, step_s, max_windows, skip_bad, skipped, desc) -> SerWindows:
    from ..asc.windows import collect_windows

    x, y, clip, kept = collect_windows(items, class_names,
                                       lambda item: utterance_windows(item.path, step_s, max_windows),
                                       skip_bad, skipped, desc)
    return SerWindows(x, y, clip, kept)
