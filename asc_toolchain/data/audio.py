"""Loading audio: any format soundfile reads, down-mixed to mono, resampled with soxr.

8-bit, float, stereo and 44.1/48/96 kHz files are converted, not rejected. What cannot be
used raises DataError naming the file and the fix.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import numpy as np

from ..core.errors import DataError

NOT_FOUND_HINT = "check the path in the data list (relative paths use --root)"


def load_audio(path: str | Path, sample_rate: int = 16000,
               max_seconds: float | None = None) -> np.ndarray:
    """Read ``path`` as float32 mono at ``sample_rate``; at most ``max_seconds`` from the start."""
    path = Path(path)
    problem = file_problem(path)
    if problem:
        raise DataError(f"{path}: {problem[0]}", problem[1])
    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty", "re-export or remove the recording")
    data, native_rate = _decode(path, max_seconds)
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


def _decode(path: Path, max_seconds: float | None) -> tuple[np.ndarray, int]:
    """(frames × channels float32, native rate); DataError when the decoder cannot read it."""
    import soundfile as sf

    try:
        with sf.SoundFile(str(path)) as f:
            _check_not_truncated(path, f.samplerate)
            wanted = None if max_seconds is None else max_seconds * f.samplerate
            frames = -1 if wanted is None or not np.isfinite(wanted) else int(round(wanted))
            return f.read(frames=frames, dtype="float32", always_2d=True), f.samplerate
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        raise DataError(f"{path}: not a readable audio file ({_short(exc)})",
                        "check that it plays and export it again as WAV or FLAC, or pass --skip-bad "
                        "to leave it out") from None


def file_problem(path: Path) -> tuple[str, str] | None:
    """Why ``path`` cannot be read as a recording, as (what, fix), or None when it can: not
    found, a broken link, a link loop, a folder, not a regular file, permission denied."""
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        if os.path.islink(path):
            return (f"a broken symbolic link (to {os.readlink(path)})",
                    "point the link at the recording, or fix the path in the data list")
        return "audio file not found", NOT_FOUND_HINT
    except PermissionError:
        return ("permission denied on a folder on its path",
                "let this user enter those folders (chmod a+x), or run as a user who can")
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a symbolic link loop", "make the link point at the recording itself"
        return f"cannot be read ({exc.strerror})", NOT_FOUND_HINT
    if stat.S_ISDIR(st.st_mode):
        return ("a folder, not an audio file",
                "list the recordings inside it, or pass --data a folder with one sub-folder per class")
    if not stat.S_ISREG(st.st_mode):
        return "not a regular file", "copy the recording into a regular file"
    try:
        with open(path, "rb"):
            pass
    except PermissionError:
        return "permission denied (this user may not read it)", f"make it readable: chmod a+r '{path}'"
    except OSError as exc:
        return f"cannot be read ({exc.strerror})", "check the disk or copy the recording again"
    return None


def _check_not_truncated(path: Path, rate: int) -> None:
    """DataError when a WAV's header promises more samples than the file holds (a copy cut
    short); the decoder would silently return the shorter part."""
    shortfall = _wav_shortfall(path)
    if shortfall:
        claimed, held = shortfall
        raise DataError(f"{path}: truncated: its header promises {claimed:,} samples ({claimed / rate:.2f} s), "
                        f"the file holds {held:,} ({held / rate:.2f} s)",
                        "copy or export the recording again, or pass --skip-bad to leave it out")


def _wav_shortfall(path: Path) -> tuple[int, int] | None:
    """(frames the data chunk claims, frames present) for a RIFF/WAVE file cut short, else None.
    A size of 0 or 0xFFFFFFFF means "unknown" (streamed recordings) and is not checked."""
    with open(path, "rb") as f:
        if f.read(12)[8:12] != b"WAVE":
            return None
        block = 0
        while len(header := f.read(8)) == 8:
            chunk, size = header[:4], int.from_bytes(header[4:], "little")
            if chunk == b"data":
                if size in (0, 0xFFFFFFFF) or not block:
                    return None
                held = os.fstat(f.fileno()).st_size - f.tell()
                return (size // block, held // block) if held < size else None
            if chunk == b"fmt ":
                block = int.from_bytes(f.read(size + (size & 1))[12:14], "little")   # bytes per frame
            else:
                f.seek(size + (size & 1), os.SEEK_CUR)
    return None


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[-1][:120] if text else type(exc).__name__
