"""`bench features`: our vectorized log-mel against the seed's per-window librosa loop."""

from __future__ import annotations

import time

import numpy as np

from ..core.locate import shared_data


def bench_features(audio: str | None = None, seconds: float = 30.0, repeats: int = 20, **_) -> dict:
    """windows/s of the vectorized log-mel vs the seed's per-window librosa loop, same audio."""
    import librosa

    from ..asc.features import logmel_window_reference, logmel_windows

    source, signal = _bench_audio(audio, seconds)
    windows = librosa.util.frame(signal, frame_length=16896, hop_length=512).T
    logmel_window_reference(windows[0])                      # warm librosa's caches
    t0 = time.perf_counter()
    reference = np.stack([logmel_window_reference(w) for w in windows])
    seed_s = time.perf_counter() - t0
    ours = logmel_windows(signal)
    ours_s = min(_timed(logmel_windows, signal) for _ in range(repeats))
    n = len(windows)
    return {
        "audio": source, "audio_seconds": round(len(signal) / 16000, 3), "windows": n,
        "windows_per_s": round(n / ours_s, 1), "seed_windows_per_s": round(n / seed_s, 1),
        "ratio_vs_librosa": round(seed_s / ours_s, 1),
        "max_abs_diff_db": float(np.max(np.abs(ours - reference))),
    }


def _timed(func, *args) -> float:
    t0 = time.perf_counter()
    func(*args)
    return time.perf_counter() - t0


def _bench_audio(audio: str | None, seconds: float):
    from ..data.audio import load_audio

    if audio:
        return str(audio), load_audio(audio, max_seconds=seconds)
    cafe = shared_data() / "asc" / "indoor" / "moodist__places__cafe.flac"
    if cafe.is_file():
        return str(cafe), load_audio(cafe, max_seconds=seconds)
    from ..data.synth import indoor

    return "synthetic indoor scene (seed 0)", indoor(np.random.default_rng(0), int(seconds * 16000))
