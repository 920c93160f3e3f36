"""Training-time augmentation (the recipe) and the validation-UAR callback.

Gain is not offered: features are divided by each window's maximum, so a gain change leaves them
unchanged. Time shift is already in the data (a window every 512 samples). Each element is an
option (core.config); the defaults are the recipe measured best so far:
- specaugment: one time mask (≤ 4 columns) and one frequency mask (≤ 4 mels) per window, set to 0
  (the training mean after standardization);
- mixup: a window mixed with another window of the same class (weight 0.6–1.0 on the original);
- eq_db: a random smooth equaliser (a level curve over the mel bands, ±eq_db dB at most, a
  different microphone or room) added before the window's normalisation;
- time_roll: each window rolled in time by up to this many columns (circularly);
- freq_mixstyle: with this probability per window, its per-band mean and spread over time are
  mixed with another window's (Beta(0.4, 0.4) weights): device and room colouring swapped;
- reverb: with this probability per window, a generated room (see :func:`_reverberate`).
With every element off except the default, batches are those of earlier versions, bit for bit.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import keras
import numpy as np

AUGMENT_MODES = ("none", "specaugment", "mixup", "both")
MIXSTYLE_ALPHA = 0.4


@dataclass(frozen=True)
class Recipe:
    """The augmentation elements of one training (see the module doc)."""

    augment: str = "specaugment"
    freq_mixstyle: float = 0.0
    eq_db: float = 0.0
    time_roll: int = 0
    reverb: float = 0.0

    @classmethod
    def from_cfg(cls, cfg: dict) -> "Recipe":
        return cls(cfg["augment"], float(cfg.get("freq_mixstyle") or 0.0), float(cfg.get("eq_db") or 0.0),
                   int(cfg.get("time_roll") or 0), float(cfg.get("reverb") or 0.0))


class AugmentedBatches(keras.utils.PyDataset):
    """Shuffled batches of (standardised windows[..., None], y) cut from ``index`` (a
    pipeline.WindowIndex), augmented afresh each epoch, seeded."""

    def __init__(self, index, scaler, batch_size: int, recipe: Recipe, seed: int):
        super().__init__()
        self.index, self.scaler, self.y = index, scaler, index.y
        self.batch_size, self.recipe, self.seed = batch_size, recipe, seed
        self.epoch = 0
        self._by_class = {c: np.flatnonzero(self.y == c) for c in np.unique(self.y)}
        self.on_epoch_end()

    def __len__(self) -> int:
        return int(np.ceil(len(self.y) / self.batch_size))

    def on_epoch_end(self) -> None:
        self.rng = np.random.default_rng([self.seed, self.epoch])
        self.order = self.rng.permutation(len(self.y))
        self.epoch += 1

    def __getitem__(self, i: int):
        idx = self.order[i * self.batch_size:(i + 1) * self.batch_size]
        y, r = self.y[idx], self.recipe
        rng = np.random.default_rng([self.seed, self.epoch, i])
        raw = self.index.windows(idx)
        if r.eq_db > 0:
            raw = _equalise(raw, rng, r.eq_db, self.index.params.top_db)
        if r.time_roll > 0:
            raw = _roll(raw, rng, r.time_roll)
        if r.reverb > 0:
            raw = _reverberate(raw, rng, r.reverb, self.index.params)
        x = self.scaler.transform(raw)
        if r.augment in ("mixup", "both"):
            x = self._mix(x, y, rng)
        if r.augment in ("specaugment", "both"):
            _mask(x, rng)
        if r.freq_mixstyle > 0:
            x = _freq_mixstyle(x, rng, r.freq_mixstyle)
        return x[..., None], y

    def _mix(self, x, y, rng):
        partners = np.array([rng.choice(self._by_class[c]) for c in y])
        lam = rng.uniform(0.6, 1.0, size=(len(y), 1, 1)).astype(np.float32)
        return lam * x + (1.0 - lam) * self.scaler.transform(self.index.windows(partners))


def _mask(x: np.ndarray, rng: np.random.Generator, max_width: int = 4) -> None:
    n, mels, cols = x.shape
    for k in range(n):
        w = rng.integers(0, max_width + 1)
        t0 = rng.integers(0, cols - w + 1)
        x[k, :, t0:t0 + w] = 0.0
        h = rng.integers(0, max_width + 1)
        f0 = rng.integers(0, mels - h + 1)
        x[k, f0:f0 + h, :] = 0.0


def _equalise(raw: np.ndarray, rng: np.random.Generator, max_db: float, top_db: float) -> np.ndarray:
    """A random smooth level curve over the bands (cubic through 4 random points), then the
    window's own normalisation again (peak at 0 dB, floor at -top_db)."""
    n, mels, _ = raw.shape
    knots = rng.uniform(-max_db, max_db, size=(n, 4))
    at = np.linspace(0.0, 3.0, mels)
    curve = np.stack([np.polyval(np.polyfit(np.arange(4), k, 3), at) for k in knots])
    out = raw + np.clip(curve, -max_db, max_db)[:, :, None].astype(np.float32)
    out -= out.max(axis=(1, 2), keepdims=True)
    return np.maximum(out, -top_db).astype(np.float32)


def _roll(raw: np.ndarray, rng: np.random.Generator, max_shift: int) -> np.ndarray:
    shifts = rng.integers(-max_shift, max_shift + 1, size=len(raw))
    cols = (np.arange(raw.shape[2])[None, :] - shifts[:, None]) % raw.shape[2]
    return np.take_along_axis(raw, cols[:, None, :].repeat(raw.shape[1], axis=1), axis=2)


def _reverberate(raw: np.ndarray, rng: np.random.Generator, p: float, params) -> np.ndarray:
    """A generated room on a share ``p`` of the windows, in the mel power domain.

    Late reverberation is modelled by its energy envelope (the statistical room model): the
    power of column t becomes P(t) + g · Σ_{k≥1} exp(−6·ln10 · k·hop / RT60_band) · P(t − k), with
    RT60 drawn from 0.2–1.2 s at the lowest band, falling linearly to half of that at the highest
    (air and walls absorb high frequencies faster), and g set by a direct-to-reverberant ratio
    drawn from 0–15 dB at the lowest band. Causal within the window (its first columns get no
    tail from before it), then the window's own normalisation again (peak at 0 dB, floor at
    −top_db)."""
    n, mels, cols = raw.shape
    chosen = np.flatnonzero(rng.random(n) < p)
    if not len(chosen):
        return raw
    rt60 = rng.uniform(0.2, 1.2, size=len(chosen))
    drr_db = rng.uniform(0.0, 15.0, size=len(chosen))
    lag_s = np.arange(cols) * (params.hop_length / params.sample_rate)
    band_rt60 = rt60[:, None] * np.linspace(1.0, 0.5, mels)[None, :]
    tail = np.exp(-6.0 * np.log(10.0) * lag_s[None, None, :] / band_rt60[:, :, None])
    tail[:, :, 0] = 0.0
    tail *= (10.0 ** (-drr_db / 10.0) / tail.sum(axis=2).max(axis=1))[:, None, None]
    tail[:, :, 0] = 1.0                                                  # the direct sound
    size = 2 * cols                                                      # linear, not circular
    power = 10.0 ** (raw[chosen].astype(np.float64) / 10.0)
    wet = np.fft.irfft(np.fft.rfft(power, size, axis=2) * np.fft.rfft(tail, size, axis=2), size, axis=2)
    db = 10.0 * np.log10(np.maximum(wet[:, :, :cols], 1e-30))
    db -= db.max(axis=(1, 2), keepdims=True)
    out = raw.copy()
    out[chosen] = np.maximum(db, -params.top_db)
    return out


def _freq_mixstyle(x: np.ndarray, rng: np.random.Generator, p: float) -> np.ndarray:
    """Freq-MixStyle: per band, normalise over time and re-colour with mixed band statistics."""
    mu = x.mean(axis=2, keepdims=True)
    sig = np.sqrt(x.var(axis=2, keepdims=True) + 1e-6)
    perm = rng.permutation(len(x))
    lam = rng.beta(MIXSTYLE_ALPHA, MIXSTYLE_ALPHA, size=(len(x), 1, 1)).astype(np.float32)
    mixed = (x - mu) / sig * (lam * sig + (1 - lam) * sig[perm]) + lam * mu + (1 - lam) * mu[perm]
    apply = rng.random(len(x)) < p
    return np.where(apply[:, None, None], mixed, x).astype(np.float32)


class ValidationUAR(keras.callbacks.Callback):
    """Adds val_uar (unweighted average recall) to the logs and prints one line per epoch."""

    def __init__(self, val_batches, y_val: np.ndarray, log=None):
        super().__init__()
        self.val_batches, self.y_val = val_batches, y_val
        self.log = log or (lambda m: print(m, file=sys.stderr))

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        pred = self.model.predict(self.val_batches, verbose=0).argmax(axis=1)
        recalls = [np.mean(pred[self.y_val == c] == c) for c in np.unique(self.y_val)]
        logs["val_uar"] = float(np.mean(recalls))
        self.log(f"epoch {epoch + 1}: loss {logs.get('loss', 0):.4f} acc {logs.get('accuracy', 0):.3f} "
                 f"val_loss {logs.get('val_loss', 0):.4f} val_acc {logs.get('val_accuracy', 0):.3f} "
                 f"val_uar {logs['val_uar']:.3f}")
