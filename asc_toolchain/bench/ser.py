"""Benchmarks for jetson-ser (SPEC §9): feature time per window, ONNX Runtime / TensorRT latency."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from ..core.locate import shared_data
from ..ser import features as F


def _speech(audio: str | None, windows: int) -> tuple[str, np.ndarray]:
    """(source, signal) long enough for ``windows`` windows 0.5 s apart: real speech if present."""
    from ..data.audio import load_audio

    need = F.WINDOW_SAMPLES + (windows - 1) * 8000
    files = [Path(audio)] if audio else sorted((shared_data() / "ser").glob("ravdess/Actor_0[1-2]/*.flac"))[:12]
    if files and files[0].is_file():
        signal = np.concatenate([load_audio(f) for f in files])
        reps = int(np.ceil(need / len(signal)))
        return f"{len(files)} file(s) from {files[0].parent}", np.tile(signal, reps)[:need]
    rng = np.random.default_rng(0)
    t = np.arange(need) / F.SAMPLE_RATE
    tone = 0.3 * np.sin(2 * np.pi * (140 + 30 * np.sin(2 * np.pi * 0.5 * t)) * t)
    return "seeded synthetic voice-like signal", (tone + 0.01 * rng.standard_normal(need)).astype(np.float32)


def _librosa_window(window: np.ndarray) -> np.ndarray:
    """The seed's per-window computation with librosa (mel, yin, rms), the reference."""
    import librosa

    mel = librosa.feature.melspectrogram(y=window, sr=F.SAMPLE_RATE, n_fft=F.FRAME, hop_length=F.HOP,
                                         center=False, n_mels=F.N_MELS, fmin=F.FMIN, fmax=F.FMAX, power=2.0)
    f0 = librosa.yin(window, fmin=F.PITCH_FMIN, fmax=F.PITCH_FMAX, sr=F.SAMPLE_RATE,
                     frame_length=F.FRAME, hop_length=F.HOP, center=False)
    rms = librosa.feature.rms(y=window, frame_length=F.FRAME, hop_length=F.HOP, center=False)[0]
    out = np.empty((3, F.N_MELS, F.N_FRAMES), np.float32)
    out[0] = F.unit_scale(librosa.power_to_db(mel))
    out[1] = F.unit_scale(f0)[None, :]
    out[2] = F.unit_scale(rms)[None, :]
    return out


def bench_ser_features(audio: str | None = None, windows: int = 40, repeats: int = 3, **_) -> dict:
    """ms per 3×128×128 window: ours (numpy) vs librosa on the same speech; mel difference.

    Both run with one BLAS thread, as on the device (a window's small matrix product only
    loses time to threads, badly so on a busy machine)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        return _bench_features(audio, windows, repeats)


def _bench_features(audio, windows, repeats) -> dict:
    source, signal = _speech(audio, windows)
    starts = range(0, len(signal) - F.WINDOW_SAMPLES + 1, 8000)
    chunks = [signal[s:s + F.WINDOW_SAMPLES] for s in starts][:windows]
    _librosa_window(chunks[0])                                   # warm numba / caches
    F.window_features(chunks[0])
    # each window timed alone, interleaved, so both see the same load on a shared machine
    ours, theirs = [], []
    for _ in range(repeats):
        for c in chunks:
            ours.append(_timed(lambda: F.window_features(c)))
            theirs.append(_timed(lambda: _librosa_window(c)))
    mel_diff = max(float(np.max(np.abs(F.window_features(c)[0] - _librosa_window(c)[0]))) for c in chunks[:5])
    med, lib_med = float(np.median(ours)), float(np.median(theirs))
    return {"audio": source, "windows": len(chunks), "repeats": repeats, "fft_backend": F.FFT_BACKEND,
            "blas_threads": 1, "ms_per_window": round(med * 1e3, 3),
            "librosa_ms_per_window": round(lib_med * 1e3, 3), "ratio_vs_librosa": round(lib_med / med, 2),
            "best_ms_per_window": round(min(ours) * 1e3, 3),
            "librosa_best_ms_per_window": round(min(theirs) * 1e3, 3),
            "goal_ms_per_window": 1.5, "max_abs_diff_logmel_unit": mel_diff,
            "load_average_1min": round(os.getloadavg()[0], 2)}


def _timed(func) -> float:
    t0 = time.perf_counter()
    func()
    return time.perf_counter() - t0


def bench_ser_infer(run: str | None = None, repeats: int = 30, **_) -> dict:
    """Batch-1 latency of the run's ONNX model on ONNX Runtime (CPU), and TensorRT where present."""
    from ..core.errors import ConfigError
    from ..ser.device_models import OnnxRuntimeModel
    from ..ser.export import export_onnx, onnx_path, open_ser_run

    if not run:
        raise ConfigError("ser-infer needs a run", "pass --run RUN (a jetson-ser run directory)")
    r = open_ser_run(run)
    if not onnx_path(r).is_file():
        export_onnx(r.path)
    x = np.random.default_rng(0).random((3, 128, 128), dtype=np.float32)
    model = OnnxRuntimeModel(onnx_path(r))
    model(x)
    times = [_timed(lambda: model(x)) * 1e3 for _ in range(repeats)]
    out = {"run": str(r.path), "model_backbone": r.manifest.get("model", {}).get("name"),
           "model_width": r.manifest.get("model", {}).get("width"),
           "onnxruntime_cpu_latency_ms": round(float(np.median(times)), 3),
           "onnxruntime_cpu_p95_latency_ms": round(float(np.percentile(times, 95)), 3),
           "onnxruntime_cpu_best_latency_ms": round(float(np.min(times)), 3),
           "onnxruntime_threads": 1}
    out.update(_tensorrt_latency(r))
    return out


def _tensorrt_latency(run) -> dict:
    try:
        import tensorrt  # noqa: F401
    except ImportError:
        return {"tensorrt": "not installed (no CUDA GPU here): latency measured on the device only"}
    from ..ser.engine import build_engine

    return {f"tensorrt_{p}_latency_ms": build_engine(run.path, p)["latency_ms"] for p in ("fp32", "fp16")}
