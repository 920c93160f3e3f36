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
    # one file per network name: validations of differently named networks may run at once
    harness = harness_dir / f"asc_host_harness_{name}.c"
    tmp = render("asc_host_harness.c.j2", harness_dir / f".harness.{name}.{os.getpid()}.tmp",
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


SEGMENT_WINDOWS = 1 << 12     # windows per harness call on a long recording (8 MB of int16 audio)


def c_end_to_end_streamed(exe: Path, path, params, max_seconds, in_size: int, n_out: int,
                          segment_windows: int = SEGMENT_WINDOWS):
    """c_end_to_end on one recording read by blocks: (inputs, outputs) per segment of at most
    ``segment_windows`` windows, in order. Segments start at a multiple of the hop and overlap
    by a window less one hop, so together they hold exactly the windows of the whole recording."""
    from ..data.audio_stream import segments

    hop = params.hop_length
    need = (segment_windows - 1) * hop + params.window_samples
    for seg in segments(path, params.sample_rate, max_seconds, need, segment_windows * hop,
                        params.window_samples):
        yield c_end_to_end(exe, seg, in_size, n_out)


# -- validation --------------------------------------------------------------------------------

def validate(run, c_dir: str | Path | None = None, sanitize: bool = False) -> dict:
    """Compare the generated C with TFLite Micro on every test-split window; return the report."""
    from ..asc.pipeline import scaled_chunks, stream_index

    path = c_dir_of(run, c_dir)
    tflite = run.file(MODEL_FILE).read_bytes()
    exe = build_harness(path, sanitize=sanitize)
    params, scaler = run.feature_params, run.scaler()
    items = run.items("test")
    index = stream_index(items, run.class_names, params, _max_seconds(run), desc="validate")
    exact = worst = 0
    for _, x_std in scaled_chunks(index, scaler):       # a chunk of windows at a time: flat memory
        x = quantize_inputs(x_std, tflite)
        ref = tflm_outputs(tflite, x)
        got = c_network_outputs(exe, x, ref.shape[1])
        exact += int(np.all(got == ref, axis=1).sum())
        worst = max(worst, int(np.abs(got.astype(int) - ref).max(initial=0)))
    n = len(index)
    report = {"c_dir": str(path), "sanitizers": sanitize, "n_windows": int(n),
              "network": {"bit_exact": exact, "total": int(n),
                          "bit_exact_pct": round(100.0 * exact / max(1, n), 3),
                          "max_abs_diff": worst}}
    if all((path / f).is_file() for f in FEATURE_FILES):
        in_shape = (params.n_mels, params.n_columns, 1)
        report["end_to_end"] = end_to_end(run, exe, index, tflite, in_shape, len(run.class_names))
    return report


def end_to_end(run, exe: Path, index, tflite: bytes, in_shape, n_out: int) -> dict:
    """C features + C network from raw audio vs Python features + TFLite Micro, per window of
    ``index`` (a pipeline.WindowIndex of the recordings), one segment of a recording at a time."""
    params, scaler = run.feature_params, run.scaler()
    in_size = int(np.prod(in_shape))
    agree = total = equal_elems = off_by_one = worse = 0
    for k, item in enumerate(index.items):
        first, last = np.searchsorted(index.clip, [k, k + 1])
        done = 0                                   # windows of this recording already compared
        for x_c, out_c in c_end_to_end_streamed(exe, item.path, params, _max_seconds(run), in_size, n_out):
            n = max(0, min(len(x_c), last - first - done))
            idx = np.arange(first + done, first + done + n)
            x_py = quantize_inputs(scaler.transform(index.windows(idx)), tflite) if n else np.zeros((0, in_size))
            pred_py = tflm_outputs(tflite, x_py).argmax(axis=1) if n else np.zeros(0, int)
            diff = np.abs(x_c[:n].reshape(n, -1).astype(int) - x_py.reshape(n, -1))
            agree += int(np.sum(out_c[:n].argmax(axis=1) == pred_py))
            total += n
            equal_elems += int(np.sum(diff == 0))
            off_by_one += int(np.sum(diff == 1))
            worse += int(np.sum(diff > 1))
            done += len(x_c)
    elems = max(1, equal_elems + off_by_one + worse)
    return {"windows": total, "prediction_agreement": agree,
            "prediction_agreement_pct": round(100.0 * agree / max(1, total), 3),
            "input_elements_equal_pct": round(100.0 * equal_elems / elems, 4),
            "input_elements_off_by_one": off_by_one, "input_elements_off_by_more": worse}


def _max_seconds(run):
    return run.manifest.get("training", {}).get("max_seconds")


# -- evaluation engines ------------------------------------------------------------------------

def _int8_engine(run, items, outputs_fn) -> Predictions:
    from ..asc.pipeline import scaled_chunks, stream_index

    tflite = run.file(MODEL_FILE).read_bytes()
    scaler = run.scaler()
    index = stream_index(items, run.class_names, run.feature_params, _max_seconds(run), desc="int8")
    out = np.concatenate([outputs_fn(tflite, quantize_inputs(x, tflite)) for _, x in scaled_chunks(index, scaler)])
    return Predictions(index.y, out.argmax(axis=1), index.clip, _dequantize(out))


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
    path = c_dir_of(run)
    if not all((path / f).is_file() for f in FEATURE_FILES):
        exe = build_harness(path)
        return _int8_engine(run, items, lambda t, x: c_network_outputs(exe, x, len(run.class_names)))
    exe = build_harness(path)
    index = {c: i for i, c in enumerate(run.class_names)}
    params = run.feature_params
    in_size = params.n_mels * params.n_columns
    ys, preds, clips, scores = [], [], [], []
    for k, item in enumerate(items):
        for _, out in c_end_to_end_streamed(exe, item.path, params, _max_seconds(run), in_size,
                                            len(run.class_names)):
            ys.append(np.full(len(out), index[item.label]))
            preds.append(out.argmax(axis=1))
            clips.append(np.full(len(out), k))
            scores.append(_dequantize(out))
    if not ys:
        return Predictions(np.zeros(0, int), np.zeros(0, int), np.zeros(0, int),
                           np.zeros((0, len(run.class_names)), np.float32))
    return Predictions(np.concatenate(ys), np.concatenate(preds), np.concatenate(clips),
                       np.concatenate(scores))
