"""Audio read block by block: memory stays flat with the file's length.

``audio_blocks`` yields the same float32 mono samples at the same rate as ``audio.load_audio``
(same checks, same down-mix, the same soxr resampler run as a stream, which gives the one-shot
result sample for sample), a block at a time. ``deadline`` (a time.monotonic() value) bounds the
read: past it, ``on_deadline`` is called between blocks (it raises the caller's one-line error).
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from ..core.errors import ConfigError, DataError
from .audio import _check_not_truncated, _short, file_problem

BLOCK_SECONDS = 16.0          # native audio read at a time (1 MB of 16 kHz mono float32)


def audio_blocks(path: str | Path, sample_rate: int = 16000, max_seconds: float | None = None,
                 deadline: float | None = None, on_deadline: Callable[[], None] | None = None
                 ) -> Iterator[np.ndarray]:
    """float32 mono blocks of ``path`` at ``sample_rate`` (at most ``max_seconds`` from the start)."""
    import soundfile as sf

    path = Path(path)
    if max_seconds is not None and math.isinf(max_seconds) and max_seconds > 0:
        max_seconds = None                               # "all of it"
    if max_seconds is not None and not max_seconds > 0:
        raise ConfigError(f"max seconds {max_seconds!r}: not a positive number of seconds",
                          "give --max-seconds a number above 0, or leave it out to use whole recordings")
    problem = file_problem(path)
    if problem:
        raise DataError(f"{path}: {problem[0]}", problem[1])
    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty", "re-export or remove the recording")
    try:
        f = sf.SoundFile(str(path))
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        raise _unreadable(path, exc) from None
    with f:
        _check_not_truncated(path, f.samplerate)
        native = f.samplerate
        frames = None if max_seconds is None else max_seconds * native
        left = None if frames is None or not math.isfinite(frames) else int(round(frames))
        stream = None
        if native != sample_rate:
            import soxr

            stream = soxr.ResampleStream(native, sample_rate, 1, dtype="float32", quality="HQ")
        step = max(1, int(BLOCK_SECONDS * native))
        read = bad = 0
        while left is None or left > 0:
            if deadline is not None and on_deadline is not None and time.monotonic() > deadline:
                on_deadline()
            want = step if left is None else min(step, left)
            try:
                data = f.read(frames=want, dtype="float32", always_2d=True)
            except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
                raise _unreadable(path, exc) from None
            if len(data) == 0:
                break
            read += len(data)
            if left is not None:
                left -= len(data)
            mono = data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0]
            finite = np.isfinite(mono)
            if bad or not finite.all():
                bad += int(np.count_nonzero(~finite))      # count them all for the message, then stop
                continue
            block = np.ascontiguousarray(mono, np.float32)
            if stream is not None:
                block = stream.resample_chunk(block, last=False).astype(np.float32)
            if len(block):
                yield block
            if len(data) < want:
                break
        if read == 0:
            raise DataError(f"{path}: the file holds no samples", "re-export or remove the recording")
        if bad:
            raise DataError(f"{path}: {bad} samples are NaN or infinite",
                            "repair or re-export the recording, or pass --skip-bad to leave it out")
        if stream is not None:
            tail = stream.resample_chunk(np.zeros(0, np.float32), last=True).astype(np.float32)
            if len(tail):
                yield tail


def _unreadable(path: Path, exc: Exception) -> DataError:
    return DataError(f"{path}: not a readable audio file ({_short(exc)})",
                     "check that it plays and export it again as WAV or FLAC, or pass --skip-bad "
                     "to leave it out")


def load_audio_streamed(path: str | Path, sample_rate: int = 16000, max_seconds: float | None = None,
                        deadline: float | None = None, on_deadline: Callable[[], None] | None = None
                        ) -> np.ndarray:
    """The whole recording as audio.load_audio returns it, read by blocks (so a deadline holds)."""
    parts = list(audio_blocks(path, sample_rate, max_seconds, deadline, on_deadline))
    return np.concatenate(parts) if parts else np.zeros(0, np.float32)


def segments(path: str | Path, sample_rate: int, max_seconds: float | None, length: int,
             step: int, min_last: int):
    """Stream ``path`` as consecutive segments of ``length`` samples starting every ``step``
    samples (step <= length: neighbours overlap by length - step), then the remainder from the
    last start when it holds at least ``min_last`` samples. Only about one segment is held."""
    pending, held = [], 0
    for block in audio_blocks(path, sample_rate, max_seconds):
        pending.append(block)
        held += len(block)
        if held < length:
            continue
        buf = np.concatenate(pending)
        while len(buf) >= length:
            yield buf[:length]
            buf = buf[step:]
        pending, held = [buf], len(buf)
    buf = np.concatenate(pending) if pending else np.zeros(0, np.float32)
    if len(buf) >= min_last:
        yield buf

