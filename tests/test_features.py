"""The vectorized log-mel equals the seed's per-window librosa computation."""

import numpy as np
import pytest

from asc_toolchain.data.audio import load_audio
from asc_toolchain.asc.features import (Scaler, logmel_window_reference, logmel_windows,
                                    n_windows)
from conftest import SHARED_DATA, require_shared


def _reference(signal):
    import librosa

    frames = librosa.util.frame(signal, frame_length=16896, hop_length=512).T
    return np.stack([logmel_window_reference(w) for w in frames])


def test_window_count_matches_librosa_framing():
    for n in (16895, 16896, 16896 + 511, 16896 + 512, 160000):
        expected = 0 if n < 16896 else 1 + (n - 16896) // 512
        assert n_windows(n) == expected


@pytest.mark.data
@pytest.mark.parametrize("rel", ["asc/indoor/moodist__places__cafe.flac",
                                 "asc/vehicle/moodist__transport__train.flac",
                                 "asc/outdoor/moodist__animals__birds.flac"])
def test_matches_seed_librosa_on_real_audio(rel):
    require_shared(SHARED_DATA / rel)
    signal = load_audio(SHARED_DATA / rel, max_seconds=6)
    ours = logmel_windows(signal)
    ref = _reference(signal)
    assert ours.shape == ref.shape == (n_windows(len(signal)), 30, 32)
    assert np.max(np.abs(ours - ref)) <= 1e-3


def test_matches_seed_on_synthetic_audio_and_stays_in_range():
    rng = np.random.default_rng(0)
    signal = (rng.standard_normal(16000 * 3) * np.linspace(0.01, 1, 48000)).astype(np.float32)
    ours = logmel_windows(signal)
    assert np.max(np.abs(ours - _reference(signal))) <= 1e-3
    assert ours.max() == 0.0 and ours.min() >= -80.0


def test_silent_windows_are_the_floor_not_nan():
    signal = np.zeros(16000 * 3, np.float32)
    signal[30000:] = np.random.default_rng(1).standard_normal(18000).astype(np.float32)
    out = logmel_windows(signal)
    assert not np.isnan(out).any()
    silent = n_windows(30000)                       # windows that end before the noise starts
    assert silent > 0 and np.all(out[:silent] == -80.0)
    assert np.all(out[silent:].max(axis=(1, 2)) == 0.0)
    assert np.max(np.abs(out - _reference(signal))) <= 1e-3


def test_too_short_signal_gives_no_windows():
    assert logmel_windows(np.ones(16000, np.float32)).shape == (0, 30, 32)


def test_scaler_fits_per_element_and_round_trips(tmp_path):
    rng = np.random.default_rng(2)
    x = rng.normal(-40, 10, size=(200, 30, 32)).astype(np.float32)
    x[:, 0, 0] = -80.0                               # a constant element gets std 1
    scaler = Scaler.fit(x)
    z = scaler.transform(x)
    assert np.allclose(z.reshape(200, -1).mean(axis=0), 0, atol=1e-4)
    assert np.allclose(z[:, 1:, :].std(axis=0), 1, atol=1e-3)
    assert scaler.scale[0, 0] == 1.0
    scaler.save(tmp_path / "s.npz")
    again = Scaler.load(tmp_path / "s.npz")
    assert np.array_equal(again.mean, scaler.mean) and np.array_equal(again.scale, scaler.scale)
