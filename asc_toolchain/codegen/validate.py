"""Prove the generated C equals the reference: network outputs bit-exact with TFLite Micro, and
end-to-end predictions (C features + C network from raw audio) against Python features + TFLite
Micro. Also the int8 evaluation engines `tflite`, `tflm` and `c` (listed in evaluate/engines.py).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from . import hostbuild
from .network import network_files, network_sources
from ..core.errors import RunError
from ..evaluate.metrics import Predictions
from ..asc.quantize import MODEL_FILE, quantize_inputs, tflite_outputs, tflm_outputs

FEATURE_FILES = ("asc_features.h", "asc_features.c")


# -- building the host harness -----------------------------------------------------------------

def c_dir_of(run, c_dir: str | Path | None = None) -> Path:
    """The generated C folder (default RUN/c); RunError if the network files are missing."""
    path = Path(c_dir) if c_dir else run.path / "c"
    missing = [f for f in network_files() if not (path / f).is_file()]
    if missing:
        raise RunError(f"{path}: missing generated C ({', '.join(missing)})",
                       f"run `asc-tool generate-c --run {run.path} --out {path}` first")
    return path


def build_harness(c_dir: Path, sanitize: bool = False, dsp_emulate: bool = False,
                  name: str = "asc") -> Path:
    """Compile network ``name`` (+ features when present) with the host harness; cached by
    content."""
    from .render import render

    c_dir = Path(c_dir).resolve()
    harness_dir = hostbuild.cache_dir() / "harness"
    harness = harness_dir / "asc_host_harness.c"
    tmp = render("asc_host_harness.c.j2", harness_dir / f".harness.{os.getpid()}.tmp",
                 model_hash="-", source="asc-tool validate", name=name, NAME=name.upper())
    tmp.replace(harness)
    sources = [*network_sources(c_dir, name), harness]
    defines = []
    if all((c_dir / f).is_file() for f in FEATURE_FILES):
        sources.append(c_dir / "asc_features.c")
        defines.append("ASC_HOST_FEATURES")
    if dsp_emulate:
        defines.append("ASC_DSP_EMULATE")
    return hostbuild.build(sources, "asc-host", include_dirs=(str(c_dir),), defines=tuple(defines),
                           sanitize=sanitize)


def c_network_outputs(exe: Path, x_int8: np.ndarray, n_out: int) -> np.ndarray:
    """Run the C network on int8 input tensors; (n, n_out) int8."""
    raw = hostbuild.run_program(exe, ["net"], np.ascontiguousarray(x_int8, np.int8).tobytes())
    return np.frombuffer(raw, np.int8).reshape(-1, n_out).copy()


def c_end_to_end(exe: Path, signal: np.ndarray, in_size: int, n_out: int):
    """C features + C network on one recording: (int8 inputs (n, in_size), outputs (n, n_out))."""
    pcm = np.clip(np.round(np.asarray(signal, np.float64) * 32768.0), -32768, 32767).astype("<i2")
    raw = hostbuild.run_program(exe, ["e2e"], pcm.tobytes())
    rows = np.frombuffer(raw, np.int8).reshape(-1, in_size + n_out)
    return rows[:, :in_size].copy(), rows[:, in_size:].copy()


# -- validation --------------------------------------------------------------------------------

def validate(run, c_dir: str | Path | None = None, sanitize: bool = False) -> dict:
    """Compare the generated C with TFLite Micro on every test-split window; return the report."""
    from ..asc.windows import window_features

    path = c_dir_of(run, c_dir)
    tflite = run.file(MODEL_FILE).read_bytes()
    exe = build_harness(path, sanitize=sanitize)
    params, scaler = run.feature_params, run.scaler()
    items = run.items("test")
    ws = window_features(items, run.class_names, params, scaler, _max_seconds(run), desc="validate")
    x = quantize_inputs(ws.x, tflite)
    ref = tflm_outputs(tflite, x)
    got = c_network_outputs(exe, x, ref.shape[1])
    exact = int(np.all(got == ref, axis=1).sum())
    report = {"c_dir": str(path), "sanitizers": sanitize, "n_windows": int(len(x)),
              "network": {"bit_exact": exact, "total": int(len(x)),
                          "bit_exact_pct": round(100.0 * exact / max(1, len(x)), 3),
                          "max_abs_diff": int(np.abs(got.astype(int) - ref).max(initial=0))}}
    if all((path / f).is_file() for f in FEATURE_FILES):
        report["end_to_end"] = end_to_end(run, exe, items, tflite, x.shape[1:], ref.shape[1])
    return report


def end_to_end(run, exe: Path, items, tflite: bytes, in_shape, n_out: int) -> dict:
    """C features + C network from raw audio vs Python features + TFLite Micro, per window."""
    from ..data.audio import load_audio
    from ..asc.features import logmel_windows

    params, scaler = run.feature_params, run.scaler()
    in_size = int(np.prod(in_shape))
    agree = total = equal_elems = off_by_one = worse = 0
    for item in items:
        signal = load_audio(item.path, params.sample_rate, _max_seconds(run))
        x_py = quantize_inputs(scaler.transform(logmel_windows(signal, params)), tflite)
        x_c, out_c = c_end_to_end(exe, signal, in_size, n_out)
        n = min(len(x_py), len(x_c))
        pred_py = tflm_outputs(tflite, x_py[:n]).argmax(axis=1) if n else np.zeros(0, int)
        diff = np.abs(x_c[:n].reshape(n, -1).astype(int) - x_py[:n].reshape(n, -1))
        agree += int(np.sum(out_c[:n].argmax(axis=1) == pred_py))
        total += n
        equal_elems += int(np.sum(diff == 0))
        off_by_one += int(np.sum(diff == 1))
        worse += int(np.sum(diff > 1))
    elems = max(1, equal_elems + off_by_one + worse)
    return {"windows": total, "prediction_agreement": agree,
            "prediction_agreement_pct": round(100.0 * agree / max(1, total), 3),
            "input_elements_equal_pct": round(100.0 * equal_elems / elems, 4),
            "input_elements_off_by_one": off_by_one, "input_elements_off_by_more": worse}


def _max_seconds(run):
    return run.manifest.get("training", {}).get("max_seconds")


# -- evaluation engines ------------------------------------------------------------------------

def _int8_engine(run, items, outputs_fn) -> Predictions:
    from ..asc.windows import window_features

    tflite = run.file(MODEL_FILE).read_bytes()
    ws = window_features(items, run.class_names, run.feature_params, run.scaler(),
                         _max_seconds(run), desc="int8")
    out = outputs_fn(tflite, quantize_inputs(ws.x, tflite))
    return Predictions(ws.y, out.argmax(axis=1), ws.clip, _dequantize(out))


def _dequantize(out: np.ndarray) -> np.ndarray:
    return (out.astype(np.float32) + 128.0) / 256.0


def tflm_engine(run, items) -> Predictions:
    """int8 model on TFLite Micro's reference kernels (the golden reference)."""
    return _int8_engine(run, items, tflm_outputs)


def tflite_engine(run, items) -> Predictions:
    """int8 model on the stock TFLite interpreter."""
    return _int8_engine(run, items, tflite_outputs)


def c_engine(run, items) -> Predictions:
    """The generated C (RUN/c) on the host: C features + C network from raw audio."""
    from ..data.audio import load_audio

    path = c_dir_of(run)
    if not all((path / f).is_file() for f in FEATURE_FILES):
        return _int8_engine(run, items, lambda t, x: c_network_outputs(build_harness(path), x, len(run.class_names)))
    exe = build_harness(path)
    index = {c: i for i, c in enumerate(run.class_names)}
    in_size = run.feature_params.n_mels * run.feature_params.n_columns
    ys, preds, clips, scores = [], [], [], []
    for k, item in enumerate(items):
        signal = load_audio(item.path, run.feature_params.sample_rate, _max_seconds(run))
        _, out = c_end_to_end(exe, signal, in_size, len(run.class_names))
        ys.append(np.full(len(out), index[item.label]))
        preds.append(out.argmax(axis=1))
        clips.append(np.full(len(out), k))
        scores.append(_dequantize(out))
    return Predictions(np.concatenate(ys), np.concatenate(preds), np.concatenate(clips),
                       np.concatenate(scores))
