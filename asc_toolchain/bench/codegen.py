"""`asc-tool bench codegen`: bytes, MACC and host speed of the generated network vs the references.

Weights/activations of our C against X-CUBE-AI 4.1's 7,836 / 5,152 B for the seed model, the
arena TFLite Micro needs for the same .tflite (found by bisection: the smallest arena its
interpreter accepts, to 4 bytes), and microseconds per inference of the C on this host.
Without --run the seed architecture with seeded random weights is measured (same bytes as any
trained seed model; the figures depend on the architecture, not on the weight values).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from pathlib import Path

import numpy as np


def bench_codegen(run: str | None = None, inferences: int = 2000, **_) -> dict:
    """The codegen benchmark figures (SPEC §9 keys)."""
    from ..codegen.network import generate_network_c
    from ..codegen.validate import build_harness

    tflite, names, source = _model(run)
    with tempfile.TemporaryDirectory(prefix="asc-bench-") as tmp:
        report = generate_network_c(tflite, Path(tmp), names)
        exe = build_harness(Path(tmp))
        us = host_us_per_inference(exe, report["input"]["shape"], inferences)
    return {"model": source, "weights_bytes": report["weights_bytes"],
            "activations_bytes": report["activations_bytes"],
            "quant_params_bytes": report["quant_params_bytes"], "macc": report["macc"],
            "macc_executed": report["macc_executed"], "host_us_per_inference": round(us, 2),
            "xcubeai_weights_bytes": report["xcubeai_weights_bytes"],
            "xcubeai_activations_bytes": report["xcubeai_activations_bytes"],
            "tflm_arena_bytes": tflm_arena_bytes(tflite)}


def _model(run: str | None) -> tuple[bytes, list[str], str]:
    if run:
        from ..asc.quantize import MODEL_FILE
        from ..asc.run import open_asc_run

        r = open_asc_run(run)
        return r.file(MODEL_FILE).read_bytes(), r.class_names, str(r.path / MODEL_FILE)
    return seed_model_tflite(), ["indoor", "outdoor", "vehicle"], "seed architecture, seeded random weights"


def seed_model_tflite(seed: int = 0) -> bytes:
    """The seed CNN with seeded random weights, quantized on seeded random windows."""
    import keras

    from ..asc.model import build_seed_cnn
    from ..asc.quantize import convert_int8

    keras.utils.set_random_seed(seed)
    model = build_seed_cnn()
    rng = np.random.default_rng(seed)
    return convert_int8(model, rng.normal(0, 1, (200, 30, 32, 1)).astype(np.float32))


def host_us_per_inference(exe: Path, input_shape, count: int) -> float:
    """µs per inference: the time of 2·count minus count inferences (process start cancels)."""
    from ..codegen.hostbuild import run_program

    size = int(np.prod(input_shape))
    data = np.random.default_rng(0).integers(-128, 128, (2 * count, size)).astype(np.int8)
    times = []
    for n in (count, 2 * count):
        start = time.perf_counter()
        run_program(exe, ["net"], data[:n].tobytes())
        times.append(time.perf_counter() - start)
    return max(times[1] - times[0], 0.0) / count * 1e6


def tflm_arena_bytes(tflite: bytes, limit: int = 1 << 22) -> int | None:
    """Smallest arena (4-byte steps) with which TFLite Micro runs the model; None if > limit."""
    from ..asc.quantize import tflm_runtime

    runtime = tflm_runtime()
    with _quiet_stderr():
        if not _arena_ok(runtime, tflite, limit):
            return None
        lo, hi = 0, limit
        while hi - lo > 4:
            mid = (lo + hi) // 2 // 4 * 4
            lo, hi = (lo, mid) if _arena_ok(runtime, tflite, mid) else (mid, hi)
    return hi


def _arena_ok(runtime, tflite: bytes, size: int) -> bool:
    try:
        interp = runtime.Interpreter.from_bytes(tflite, arena_size=size)
        shape = tuple(int(s) for s in interp.get_input_details(0)["shape"])
        interp.set_input(np.zeros(shape, np.int8), 0)
        interp.invoke()
        return True
    except (RuntimeError, ValueError):
        return False


@contextlib.contextmanager
def _quiet_stderr():
    """TFLite Micro prints each failed allocation on fd 2; the bisection expects many."""
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
