"""Utterances → 3×128×128 feature windows with labels, clip indices and corpora.

Training-time variants of an utterance (speed/pitch perturbation by resampling, additive noise at
a random SNR) are made on the waveform before the features and computed once per utterance and
variant, so every epoch draws from a fixed set of windows (:func:`with_variants`).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from fractions import Fraction

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
    variant: np.ndarray | None = None      # per window: 0 = the utterance as recorded, k = k-th variant

    def __len__(self) -> int:
        return len(self.y)

    def originals(self) -> int:
        """How many windows come from the utterances as recorded (variant 0)."""
        return len(self.y) if self.variant is None else int(np.sum(self.variant == 0))

    def subset(self, keep) -> "SerWindows":
        """The windows of the items at indices ``keep`` (items renumbered in that order)."""
        keep = np.asarray(keep, np.int64)
        remap = np.full(len(self.items), -1, np.int64)
        remap[keep] = np.arange(len(keep))
        sel = remap[self.clip] >= 0
        return SerWindows(self.x[sel], self.y[sel], remap[self.clip[sel]], [self.items[i] for i in keep],
                          None if self.variant is None else self.variant[sel])

    def join(self, other: "SerWindows") -> "SerWindows":
        """These windows followed by ``other``'s windows of the same items (variants numbered on)."""
        if [it.clip_id for it in other.items] != [it.clip_id for it in self.items]:
            raise ValueError("joined window sets must hold the same items")
        mine = np.zeros(len(self), np.int64) if self.variant is None else self.variant
        theirs = np.zeros(len(other), np.int64) if other.variant is None else other.variant
        return SerWindows(np.concatenate([self.x, other.x]), np.concatenate([self.y, other.y]),
                          np.concatenate([self.clip, other.clip]), self.items,
                          np.concatenate([mine, theirs + (mine.max() + 1 if len(mine) else 0)]))

    def nhwc(self) -> np.ndarray:
        """The windows as the Keras model takes them: (n, 128, 128, 3)."""
        return np.ascontiguousarray(self.x.transpose(0, 2, 3, 1))


def utterance_windows(path, step_s: float = 0.5, max_windows: int | None = 4, speed: float = 1.0,
                      snr_db: float | None = None, rng: np.random.Generator | None = None) -> np.ndarray:
    """Feature windows of one file every ``step_s`` s (a short clip gives one padded window);
    with ``speed`` ≠ 1 or ``snr_db`` the waveform is perturbed first (:func:`perturb`)."""
    signal = load_audio(path, F.SAMPLE_RATE)
    if speed != 1.0 or snr_db is not None:
        signal = perturb(signal, speed, snr_db, rng)
    return F.clip_features(signal, step=int(round(step_s * F.SAMPLE_RATE)), max_windows=max_windows)


def perturb(signal: np.ndarray, speed: float = 1.0, snr_db: float | None = None,
            rng: np.random.Generator | None = None) -> np.ndarray:
    """Speed/pitch perturbation and additive noise of a 16 kHz waveform (float32).

    ``speed`` f: resampled by the ratio 1/f (polyphase, the ratio as a fraction with denominator
    ≤ 50) and read at 16 kHz again, so duration scales by 1/f and pitch by f (Kaldi-style).
    ``snr_db``: white Gaussian noise at this signal-to-noise ratio over the whole utterance.
    """
    from scipy.signal import resample_poly

    out = np.asarray(signal, np.float32)
    if speed != 1.0:
        ratio = Fraction(1.0 / speed).limit_denominator(50)
        out = resample_poly(out, ratio.numerator, ratio.denominator).astype(np.float32)
    if snr_db is not None:
        power = float(np.mean(np.square(out, dtype=np.float64)))
        if power > 0:
            rng = rng if rng is not None else np.random.default_rng(0)
            noise = rng.standard_normal(len(out)) * np.sqrt(power / 10.0 ** (snr_db / 10.0))
            out = (out + noise).astype(np.float32)
    return out


def recipe_variants(speed=(1.0,), noise_snr=None) -> list:
    """The training variants of each utterance besides the recording itself: (speed, SNR range or
    None) per speed factor ≠ 1, then (1.0, (lo, hi)) with ``noise_snr``. ConfigError for factors
    outside 0.5–2 or an SNR range that is not LO,HI."""
    from ..core.errors import ConfigError

    factors = tuple(float(f) for f in (speed or (1.0,)))
    if any(not 0.5 <= f <= 2.0 for f in factors):
        raise ConfigError(f"--ser-speed {','.join(map(str, factors))}: factors must lie in 0.5–2",
                          "use a few factors near 1, e.g. 0.9,1.0,1.1")
    out = [(f, None) for f in dict.fromkeys(factors) if f != 1.0]
    if noise_snr:
        lo_hi = tuple(float(v) for v in noise_snr)
        if len(lo_hi) != 2 or lo_hi[0] > lo_hi[1]:
            raise ConfigError(f"--ser-noise-snr {','.join(map(str, lo_hi))}: expected LO,HI in dB with LO ≤ HI",
                              "e.g. --ser-noise-snr 5,30")
        out.append((1.0, lo_hi))
    return out


def with_variants(ws: SerWindows, variants: list, step_s: float = 0.5, max_windows: int | None = 4,
                  seed: int = 0, desc: str = "variants") -> SerWindows:
    """``ws`` followed by the windows of each of ``variants`` (see :func:`recipe_variants`) of its
    items. The SNR of an utterance's noisy copy and its noise are seeded by ``seed``, the variant
    and the clip id, so a clip gets the same copy in every fold and run."""
    for k, (speed, snr) in enumerate(variants, start=1):
        def windows_of(item, speed=speed, snr=snr, k=k):
            rng = np.random.default_rng([seed, k, zlib.crc32(str(item.clip_id).encode())])
            db = None if snr is None else float(rng.uniform(*snr))
            return utterance_windows(item.path, step_s, max_windows, speed, db, rng)

        label = f"{desc} speed {speed:g}" + ("" if snr is None else f", noise {snr[0]:g}–{snr[1]:g} dB")
        class_of = np.zeros(len(ws.items), np.int64)
        class_of[ws.clip] = ws.y                         # the class index each item has in ws
        extra = _with_threads_limited(ws.items, sorted({it.label for it in ws.items}), windows_of, label)
        extra.y = class_of[extra.clip]
        ws = ws.join(extra)
    return ws


def _with_threads_limited(items, names, windows_of, desc) -> SerWindows:
    from threadpoolctl import threadpool_limits

    from ..asc.windows import collect_windows

    with threadpool_limits(1):
        x, y, clip, kept = collect_windows(items, names, windows_of, False, None, desc)
    return SerWindows(x, y, clip, kept)


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
