"""The feature cache: each recording's log-mel columns, computed once per content and parameters.

Key: sha256 of the audio file's bytes + the feature parameters + the seconds kept (max_seconds)
+ a format version, so a changed file, another front end or another crop never reads stale
columns. Value: the recording's dB columns (features.logmel_columns), not its windows: a window
is 32 consecutive columns, so columns are ~32× smaller (about 14 MB per hour of 16 kHz audio).
Files live in one folder (``--cache-dir``, default ~/.cache/asc-tool/features) as KEY.npy,
written via a temporary file + rename so that two commands sharing the folder never read half a
file. Within one process recordings with the same key share one array.

Recordings not cached yet are computed in parallel before they are read (``prefetch``): over
local worker processes by default (``--extract-workers``, default the CPUs), or as tasks on the
Ray cluster a command is connected to (``search --address``). Workers run the same function and
send the columns back, so they are bit for bit those of one process; a recording a worker cannot
read is left to the reading pass, which reports it as usual.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from ..core.errors import DataError
from ..data.audio import file_problem
from ..data.audio_stream import audio_blocks, segments
from .features import FeatureParams, mel_columns

CACHE_VERSION = 2          # 2: mel products on one BLAS thread (features.mel_columns)


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "asc-tool" / "features"


_DIGESTS: dict[tuple, str] = {}


def file_digest(path: Path) -> str:
    """sha256 of the file's bytes, read once per process while its size and mtime stay the same."""
    st = os.stat(path)
    seen = (str(path), st.st_size, st.st_mtime_ns)
    if seen not in _DIGESTS:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        _DIGESTS[seen] = h.hexdigest()
    return _DIGESTS[seen]


class FeatureCache:
    """Columns of recordings by content; ``folder`` None keeps them in this process only."""

    def __init__(self, params: FeatureParams, max_seconds: float | None = None, folder=None,
                 workers: int | None = None):
        self.params, self.max_seconds = params, max_seconds
        self.folder = Path(folder) if folder else None
        self.workers = workers                 # extraction processes (None: the CPUs)
        self.ray = False                       # compute as tasks on the connected Ray cluster
        self._held: dict[str, np.ndarray] = {}
        self.computed = self.read = 0          # how many recordings were computed / read from disk

    def prefetch(self, items) -> int:
        """Compute the columns of every recording of ``items`` that is neither held nor stored,
        in parallel (module doc); returns how many were computed. With one recording to do, or
        one worker and no Ray, nothing happens here (the reading pass computes it)."""
        todo, seen = [], set()
        for item in items:
            try:
                key = self.key(Path(item.path))
            except OSError:
                continue                                   # the reading pass says why
            if key not in seen and key not in self._held and not self._stored(key):
                seen.add(key)
                todo.append((str(item.path), key))
        workers = self.workers or os.cpu_count() or 1
        if len(todo) < 2 or (workers < 2 and not self.ray):
            return 0
        job = (self.params.to_dict(), self.max_seconds)
        results = _on_ray(todo, job) if self.ray else _on_processes(todo, job, min(workers, len(todo)))
        done = 0
        for (_, key), db in zip(todo, results):
            if db is not None:
                self._held[key] = db
                if self.folder is not None:
                    self._store(key, db)
                done += 1
        self.computed += done
        return done

    def key(self, path: Path) -> str:
        recipe = json.dumps({"v": CACHE_VERSION, "audio": file_digest(path), "max_seconds": self.max_seconds,
                             "features": self.params.to_dict()}, sort_keys=True)
        return hashlib.sha256(recipe.encode()).hexdigest()[:40]

    def columns(self, item) -> np.ndarray:
        """The dB columns of ``item``'s recording; DataError if it is shorter than one window."""
        try:
            key = self.key(Path(item.path))
        except OSError:
            load_audio_problem(item.path)          # the one-line reason: not found, permission, …
            raise
        if key not in self._held:
            db = self._load(key) if self._stored(key) else None
            self._held[key] = db if db is not None else self._compute(item, key)
        db = self._held[key]
        if len(db) < self.params.n_columns:
            from .windows import _too_short

            n = sum(len(b) for b in audio_blocks(item.path, self.params.sample_rate, self.max_seconds))
            raise DataError(_too_short(item, n, self.params),
                            "remove the clip, pass --skip-bad, or use a run with fewer --columns")
        return db

    def release(self) -> None:
        """Forget the columns held in this process (the caller has copied what it needs)."""
        self._held.clear()

    def _stored(self, key: str) -> bool:
        return self.folder is not None and (self.folder / f"{key}.npy").is_file()

    def _load(self, key: str) -> np.ndarray:
        try:
            db = np.load(self.folder / f"{key}.npy", allow_pickle=False)
        except (OSError, ValueError):
            return None
        self.read += 1
        return db if db.ndim == 2 and db.shape[1] == self.params.n_mels else None

    def _compute(self, item, key: str) -> np.ndarray:
        db = recording_columns(item.path, self.params, self.max_seconds)
        self.computed += 1
        if self.folder is not None:
            self._store(key, db)
        return db

    def _store(self, key: str, db: np.ndarray) -> None:
        """Write KEY.npy whole or not at all; a cache that cannot be written only costs time."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{key}.", suffix=".tmp", dir=self.folder)
            with os.fdopen(fd, "wb") as f:
                np.save(f, db, allow_pickle=False)
            os.replace(tmp, self.folder / f"{key}.npy")
        except OSError:
            if "tmp" in locals():
                Path(tmp).unlink(missing_ok=True)


def _extract(path: str, job: tuple):
    """One worker's recording: its columns, or None when it cannot be read (the reading pass
    reports why)."""
    params, max_seconds = job
    try:
        return recording_columns(path, FeatureParams.from_dict(params), max_seconds)
    except Exception:                                      # noqa: BLE001 - reported by the reading pass
        return None


def _on_processes(todo: list, job: tuple, workers: int) -> list:
    """``_extract`` over local processes (spawned: TensorFlow, if loaded here, is not forked)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        return list(pool.map(_extract, [path for path, _ in todo], [job] * len(todo)))


def _on_ray(todo: list, job: tuple) -> list:
    """``_extract`` as tasks on the connected Ray cluster (the columns come back to this node)."""
    import ray

    task = ray.remote(num_cpus=1)(_extract)
    return ray.get([task.remote(path, job) for path, _ in todo])


FRAMES_PER_STEP = 1024        # STFT frames computed at a time: a multiple of mel_columns' block


def recording_columns(path, params: FeatureParams, max_seconds: float | None = None) -> np.ndarray:
    """features.logmel_columns(load_audio(path, ...)) bit for bit, with the audio read by blocks:
    only the columns (~14 MB per hour) and one block of samples are held, whatever the length.

    Frames go through mel_columns ``FRAMES_PER_STEP`` at a time, starting at multiples of its
    own block, so every FFT and product sees the same rows as in one call on the whole signal.
    """
    hop, n_fft = params.hop_length, params.n_fft
    step_samples = (FRAMES_PER_STEP - 1) * hop + n_fft
    parts = [_db(mel_columns(seg, params))
             for seg in segments(path, params.sample_rate, max_seconds, step_samples,
                                 FRAMES_PER_STEP * hop, n_fft)]
    db = np.concatenate(parts) if len(parts) > 1 else parts[0] if parts else None
    if db is None or len(db) < params.n_columns:
        return np.empty((0, params.n_mels), np.float32)
    return db


def _db(mel: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return (10.0 * np.log10(mel)).astype(np.float32)


def load_audio_problem(path) -> None:
    """Raise the DataError load_audio would give for ``path`` (not found, a folder, …), if any."""
    problem = file_problem(Path(path))
    if problem:
        raise DataError(f"{path}: {problem[0]}", problem[1])
