"""The seed's log-mel features, vectorized: one STFT per recording, windows sliced from it.

Per window of 16,896 samples (every 512 samples): mel power spectrogram (n_fft 1024, hop 512,
30 Slaney mels, periodic Hann, no centering) → 30×32, divided by the window's maximum, to dB
with top_db 80, so every value lies in [-80, 0].

Silent windows: a window whose maximum mel power is 0 (all-zero audio) has no reference; the
seed divides by zero and gets NaN. Here every element of such a window is -80 dB (the floor),
and so is every element whose mel power is exactly 0 in a non-silent window. The C front end
applies the same two rules.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache

import numpy as np


@dataclass(frozen=True)
class FeatureParams:
    """Log-mel parameters; the defaults are the seed's and the firmware's."""

    sample_rate: int = 16000
    n_fft: int = 1024
    hop_length: int = 512
    n_mels: int = 30
    n_columns: int = 32
    top_db: float = 80.0

    @property
    def window_samples(self) -> int:
        """Samples in one classification window: 16,896 for the seed."""
        return (self.n_columns - 1) * self.hop_length + self.n_fft

    @property
    def window_hop(self) -> int:
        """Training windows are taken every hop_length samples (one new column)."""
        return self.hop_length

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "FeatureParams":
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


SEED_PARAMS = FeatureParams()


@lru_cache(maxsize=8)
def mel_filterbank(params: FeatureParams = SEED_PARAMS) -> np.ndarray:
    """Slaney-normalised mel filterbank (n_mels × n_fft/2+1), float32, as librosa's default."""
    import librosa

    return librosa.filters.mel(sr=params.sample_rate, n_fft=params.n_fft,
                               n_mels=params.n_mels, dtype=np.float32)


@lru_cache(maxsize=8)
def _mel_matrix(params: FeatureParams) -> np.ndarray:
    """The filterbank transposed and contiguous, for a fast (frames × bins) @ (bins × mels)."""
    return np.ascontiguousarray(mel_filterbank(params).T)


@lru_cache(maxsize=8)
def hann_window(n_fft: int) -> np.ndarray:
    """Periodic Hann window of n_fft points, float32."""
    n = np.arange(n_fft, dtype=np.float64)
    return (0.5 - 0.5 * np.cos(2.0 * np.pi * n / n_fft)).astype(np.float32)


def n_windows(n_samples: int, params: FeatureParams = SEED_PARAMS) -> int:
    """How many full windows a recording of n_samples yields (0 if it is too short)."""
    if n_samples < params.window_samples:
        return 0
    return 1 + (n_samples - params.window_samples) // params.window_hop


def mel_columns(signal: np.ndarray, params: FeatureParams = SEED_PARAMS,
                block: int = 128) -> np.ndarray:
    """Mel power of every STFT column of ``signal``: (n_frames, n_mels) float32.

    Frames go through the FFT ``block`` at a time so the temporaries stay small (cache-sized and
    reused by the allocator instead of fresh pages on every call).
    """
    from scipy import fft

    x = np.ascontiguousarray(signal, dtype=np.float32)
    frames = np.lib.stride_tricks.sliding_window_view(x, params.n_fft)[::params.hop_length]
    window, mel_matrix = hann_window(params.n_fft), _mel_matrix(params)
    out = np.empty((len(frames), params.n_mels), np.float32)
    with _one_blas_thread():
        for start in range(0, len(frames), block):
            spectrum = fft.rfft(frames[start:start + block] * window, axis=-1)
            power = np.square(spectrum.real)
            power += np.square(spectrum.imag)
            np.matmul(power, mel_matrix, out=out[start:start + block])
    return out


@lru_cache(maxsize=1)
def _blas_controller():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def _one_blas_thread():
    """The mel products on one BLAS thread: a float32 matrix product's last bits depend on how
    many threads share it, and features must be the same in every process (extraction workers,
    Ray tasks, machines with other core counts) for the cache to hold one answer per recording."""
    return _blas_controller().limit(limits=1, user_api="blas")


def logmel_columns(signal: np.ndarray, params: FeatureParams = SEED_PARAMS) -> np.ndarray:
    """dB (10·log10 of the mel power) of the STFT columns the full windows of ``signal`` use:
    (n_frames, n_mels) float32, -inf where the power is 0; (0, n_mels) when no window fits.

    This is what the feature cache stores per recording: a window is 32 consecutive columns,
    so the columns are ~32× smaller than the windows they make (cut_windows)."""
    count = n_windows(len(signal), params)
    if count == 0:
        return np.empty((0, params.n_mels), np.float32)
    mel = mel_columns(signal[: (count - 1) * params.window_hop + params.window_samples], params)
    with np.errstate(divide="ignore"):
        return (10.0 * np.log10(mel)).astype(np.float32)


def window_peaks(db: np.ndarray, params: FeatureParams = SEED_PARAMS) -> np.ndarray:
    """Each window's maximum dB over its columns (-inf for a silent window): (n_windows,)."""
    if len(db) < params.n_columns:
        return np.empty(0, np.float32)
    col_max = db.max(axis=1)
    return np.lib.stride_tricks.sliding_window_view(col_max, params.n_columns).max(axis=1)


def cut_windows(db: np.ndarray, peaks: np.ndarray, starts: np.ndarray,
                params: FeatureParams = SEED_PARAMS) -> np.ndarray:
    """The windows whose first column is at ``starts`` (rows of ``db``; ``peaks`` indexed the
    same way), normalised as logmel_windows does and bit-identical to it: (n, n_mels, n_columns)."""
    starts = np.asarray(starts, np.int64)
    cols = db[starts[:, None] + np.arange(params.n_columns)]         # (n, columns, mels)
    peak = peaks[starts]
    silent = ~np.isfinite(peak)
    peak = np.where(silent, np.float32(0.0), peak).astype(np.float32)
    out = np.empty((len(starts), params.n_mels, params.n_columns), np.float32)
    np.subtract(cols.transpose(0, 2, 1), peak[:, None, None], out=out)
    np.maximum(out, -params.top_db, out=out)
    out[silent] = -params.top_db
    return out


def logmel_windows(signal: np.ndarray, params: FeatureParams = SEED_PARAMS) -> np.ndarray:
    """All windows of a recording as (n_windows, n_mels, n_columns) float32 dB in [-top_db, 0]."""
    count = n_windows(len(signal), params)
    if count == 0:
        return np.empty((0, params.n_mels, params.n_columns), np.float32)
    db = logmel_columns(signal, params)                           # -inf where power is 0
    win_max = window_peaks(db, params)
    silent = ~np.isfinite(win_max)
    win_max[silent] = 0.0
    db_t = np.ascontiguousarray(db.T)                              # (mels, frames): windows read rows
    view = np.lib.stride_tricks.sliding_window_view(db_t, params.n_columns, axis=1)
    out = np.empty((count, params.n_mels, params.n_columns), np.float32)
    np.subtract(view.transpose(1, 0, 2), win_max[:, None, None], out=out)
    np.maximum(out, -params.top_db, out=out)
    out[silent] = -params.top_db
    return out


def logmel_window_reference(window: np.ndarray, params: FeatureParams = SEED_PARAMS) -> np.ndarray:
    """The seed's per-window librosa computation (slow; the reference for tests and benchmarks).

    Silent windows follow this module's rule instead of producing NaN.
    """
    import librosa

    s_mel = librosa.feature.melspectrogram(
        y=np.asarray(window, np.float32), sr=params.sample_rate, n_mels=params.n_mels,
        n_fft=params.n_fft, hop_length=params.hop_length, center=False)
    peak = s_mel.max()
    if peak == 0:
        return np.full_like(s_mel, -params.top_db)
    return librosa.power_to_db(s_mel / peak, top_db=params.top_db)


class Scaler:
    """Per-element standardization (one mean and one std per feature element).

    Fitted on the training split only; a constant element gets std 1, as scikit-learn does.
    """

    def __init__(self, mean: np.ndarray, scale: np.ndarray):
        self.mean = np.asarray(mean, np.float32)
        self.scale = np.asarray(scale, np.float32)

    @classmethod
    def fit(cls, features: np.ndarray) -> "Scaler":
        flat = features.reshape(len(features), -1).astype(np.float64)
        mean = flat.mean(axis=0)
        std = flat.std(axis=0)
        std[std < 1e-8] = 1.0
        return cls(mean.reshape(features.shape[1:]), std.reshape(features.shape[1:]))

    def transform(self, features: np.ndarray) -> np.ndarray:
        return ((features - self.mean) / self.scale).astype(np.float32)

    def save(self, path) -> None:
        np.savez(path, mean=self.mean, scale=self.scale)

    @classmethod
    def load(cls, path) -> "Scaler":
        with np.load(path) as z:
            return cls(z["mean"], z["scale"])
