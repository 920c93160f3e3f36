"""jetson-ser features: numpy-only channels vs librosa (stated tolerances), shapes and edge cases.

Tolerances (float32 audio, per window, channels scaled to [0, 1]):
- mel filterbank: max |Δ| ≤ 1e-6 (librosa.filters.mel, Slaney, 50–8,000 Hz);
- log-mel channel: max |Δ| ≤ 1e-4 (librosa melspectrogram + power_to_db, then the same scaling);
- RMS channel: max |Δ| ≤ 1e-5 (librosa.feature.rms, center=False);
- YIN f0 (before scaling): relative |Δ| ≤ 1e-3 on ≥ 97 % of all frames and on ≥ 99 % of the frames
  librosa finds voiced (f0 ≤ 500 Hz). The rest are unvoiced/near-silent frames where the trough
  choice flips on rounding (a different FFT size and library); the scaled pitch channel inherits that.
"""

from __future__ import annotations

import numpy as np
import pytest

from asc_toolchain.ser import features as F
from conftest import SER_META, require_shared


def _librosa_channels(y):
    import librosa

    mel = librosa.feature.melspectrogram(y=y, sr=16000, n_fft=1024, hop_length=320, center=False,
                                         n_mels=128, fmin=50, fmax=8000, power=2.0)
    f0 = librosa.yin(y, fmin=50, fmax=8000, sr=16000, frame_length=1024, hop_length=320, center=False)
    rms = librosa.feature.rms(y=y, frame_length=1024, hop_length=320, center=False)[0]
    return F.unit_scale(librosa.power_to_db(mel)), f0, F.unit_scale(rms)


def test_mel_filterbank_equals_librosa():
    import librosa

    ref = librosa.filters.mel(sr=16000, n_fft=1024, n_mels=128, fmin=50, fmax=8000)
    ours = F.mel_filterbank()
    assert ours.shape == (128, 513) and ours.dtype == np.float32
    assert np.max(np.abs(ours - ref)) <= 1e-6


def test_window_is_41664_samples_and_3x128x128_in_unit_range():
    assert F.WINDOW_SAMPLES == 41_664
    rng = np.random.default_rng(0)
    x = F.window_features(0.1 * rng.standard_normal(F.WINDOW_SAMPLES).astype(np.float32))
    assert x.shape == (3, 128, 128) and x.dtype == np.float32
    assert x.min() >= 0.0 and x.max() <= 1.0
    # pitch and RMS are 1-D tracks broadcast over the rows
    assert np.all(x[1] == x[1][:1]) and np.all(x[2] == x[2][:1])


def test_silence_gives_zeros_not_nan():
    x = F.window_features(np.zeros(F.WINDOW_SAMPLES, np.float32))
    assert np.all(x == 0.0)


def test_wrong_window_length_is_refused():
    with pytest.raises(ValueError, match="41664"):
        F.window_features(np.zeros(16000, np.float32))


def test_short_clip_is_centred_in_one_window_and_long_clip_gives_several():
    short = np.ones(16000, np.float32)
    padded = F.pad_to_window(short)
    assert len(padded) == F.WINDOW_SAMPLES
    left = (F.WINDOW_SAMPLES - 16000) // 2
    assert padded[left - 1] == 0 and padded[left] == 1 and padded[left + 15999] == 1
    assert F.clip_features(short).shape == (1, 3, 128, 128)
    four_s = np.random.default_rng(1).standard_normal(64000).astype(np.float32)
    # starts 0, 8000, 16000 and the flush last one 22336
    assert F.window_starts(64000, 8000) == [0, 8000, 16000, 22336]
    assert F.clip_features(four_s, max_windows=2).shape == (2, 3, 128, 128)


def test_numpy_fft_path_matches_scipy_path(monkeypatch):
    """The device has numpy's FFT only; both paths must give the same features."""
    t = np.arange(F.WINDOW_SAMPLES) / 16000
    y = (0.3 * np.sin(2 * np.pi * 180 * t) + 0.05 * np.sin(2 * np.pi * 2300 * t)).astype(np.float32)
    host = F.window_features(y)
    monkeypatch.setattr(F, "_fft", np.fft)
    device = F.window_features(y)
    assert np.max(np.abs(host[0] - device[0])) <= 1e-4
    assert np.max(np.abs(host[2] - device[2])) <= 1e-5
    assert np.max(np.abs(host[1] - device[1])) <= 1e-3


@pytest.mark.data
def test_each_channel_matches_librosa_on_real_speech():
    require_shared(SER_META)
    from asc_toolchain.data.audio import load_audio

    root = SER_META.parent
    files = sorted(root.glob("ravdess/Actor_0[12]/*.flac"))[:8] + sorted(root.glob("emodb/*.flac"))[:8]
    assert len(files) == 16
    f0_close, voiced_close, voiced_total, frames = 0, 0, 0, 0
    for path in files:
        y = F.pad_to_window(load_audio(path))[:F.WINDOW_SAMPLES]
        ours = F.window_features(y)
        mel_ref, f0_ref, rms_ref = _librosa_channels(y)
        assert np.max(np.abs(ours[0] - mel_ref)) <= 1e-4, path.name
        assert np.max(np.abs(ours[2][0] - rms_ref)) <= 1e-5, path.name
        f0 = F.yin_f0(F.frames_of(y, F.N_FRAMES))
        close = np.abs(f0 - f0_ref) <= 1e-3 * f0_ref
        voiced = f0_ref <= 500
        f0_close += int(close.sum())
        voiced_close += int((close & voiced).sum())
        voiced_total += int(voiced.sum())
        frames += len(f0)
    assert f0_close >= 0.97 * frames
    assert voiced_total > 200 and voiced_close >= 0.99 * voiced_total
