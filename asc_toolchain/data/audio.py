"""Loading audio: any format soundfile reads, down-mixed to mono, resampled with soxr.

8-bit, float, stereo and 44.1/48/96 kHz files are converted, not rejected. What cannot be
used raises DataError naming the file and the fix.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..core.errors import DataError


def load_audio(path: str | Path, sample_rate: int = 16000,
               max_seconds: float | None = None) -> np.ndarray:
    """Read ``path`` as float32 mono at ``sample_rate``; at most ``max_seconds`` from the start."""
    import soundfile as sf

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: audio file not found",
                        "check the path in the data list (relative paths use --root)")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty", "re-export or remove the recording")
    try:
        with sf.SoundFile(str(path)) as f:
            native_rate = f.samplerate
            frames = -1 if max_seconds is None else int(round(max_seconds * native_rate))
            data = f.read(frames=frames, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        raise DataError(f"{path}: not a readable audio file ({_short(exc)})",
                        "convert it to WAV or FLAC, or pass --skip-bad to leave it out") from None
    if data.size == 0:
        raise DataError(f"{path}: the file holds no samples", "re-export or remove the recording")
    mono = data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0]
    if not np.all(np.isfinite(mono)):
        bad = int(np.count_nonzero(~np.isfinite(mono)))
        raise DataError(f"{path}: {bad} samples are NaN or infinite",
                        "repair or re-export the recording, or pass --skip-bad to leave it out")
    if native_rate != sample_rate:
        import soxr

        mono = soxr.resample(mono, native_rate, sample_rate, quality="HQ").astype(np.float32)
    return np.ascontiguousarray(mono, dtype=np.float32)


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[-1][:120] if text else type(exc).__name__
