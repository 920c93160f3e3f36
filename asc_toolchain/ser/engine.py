"""`asc-tool engine --run RUN --precision fp32|fp16`: a TensorRT engine from the run's ONNX.

Engines do not move between TensorRT versions or GPUs, so they are cached as
RUN/engines/trt-<version>/<gpu>/<precision>.engine and built where they run (the Jetson).
Without the tensorrt Python package the equivalent `trtexec` command is printed and the
command exits 2. A built engine is checked against ONNX Runtime on real windows (top-1
agreement and the largest probability difference) and timed at batch 1.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

import numpy as np

from ..core.errors import ConfigError, ToolFailedError, ToolMissingError
from .export import export_onnx, onnx_path, open_ser_run, parity_windows

PRECISIONS = ("fp32", "fp16")
WORKSPACE_MB = 1024


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "-", text).strip("-").lower() or "unknown"


def gpu_name() -> str:
    """The CUDA GPU's name (pycuda, nvidia-smi, or the Jetson device tree)."""
    try:
        import pycuda.autoinit  # noqa: F401
        import pycuda.driver as drv

        return drv.Device(0).name()
    except Exception:  # noqa: BLE001 - any failure: try the next source
        pass
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=20, check=True)
        return out.stdout.strip().splitlines()[0]
    except (OSError, subprocess.SubprocessError, IndexError):
        pass
    model = Path("/proc/device-tree/model")
    return model.read_text(errors="replace").strip("\x00 \n") if model.is_file() else "unknown-gpu"


def engine_path(run, trt_version: str, gpu: str, precision: str) -> Path:
    return run.path / "engines" / f"trt-{trt_version}" / _slug(gpu) / f"{precision}.engine"


def trtexec_command(onnx: Path, engine: Path, precision: str) -> list[str]:
    """The trtexec call that builds the same engine (TensorRT 8.x flags, as on JetPack 4.6)."""
    cmd = ["trtexec", f"--onnx={onnx}", f"--saveEngine={engine}", f"--workspace={WORKSPACE_MB}"]
    return cmd + (["--fp16"] if precision == "fp16" else [])


def build_engine(run_dir, precision: str = "fp16", force: bool = False) -> dict:
    """Build (or reuse) the engine and validate it; ToolMissingError without tensorrt."""
    if precision not in PRECISIONS:
        raise ConfigError(f"precision {precision!r}", "use fp32 or fp16 (the Nano's GPU has no INT8)")
    run = open_ser_run(run_dir)
    onnx = onnx_path(run)
    if not onnx.is_file():
        export_onnx(run.path)
    try:
        import tensorrt as trt
    except ImportError:
        cmd = trtexec_command(onnx, run.path / "engines" / f"{precision}.engine", precision)
        raise ToolMissingError(
            "the tensorrt Python package is not importable here; the equivalent command is: "
            + " ".join(cmd),
            "run it on the Jetson (JetPack ships TensorRT and trtexec in /usr/src/tensorrt/bin)") from None
    path = engine_path(run, trt.__version__, gpu_name(), precision)
    built_s = None
    if force or not path.is_file():
        built_s = _build(trt, onnx, path, precision)
    report = validate_engine(run, path)
    report.update({"engine": str(path), "precision": precision, "tensorrt": trt.__version__,
                   "gpu": gpu_name(), "build_s": built_s, "cached": built_s is None})
    from ..core.runs import write_json

    write_json(path.with_suffix(".json"), report)
    return report


def _build(trt, onnx: Path, out: Path, precision: str) -> float:
    start = time.perf_counter()
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    explicit = 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH) \
        if int(trt.__version__.split(".")[0]) < 10 else 0
    network = builder.create_network(explicit)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(onnx.read_bytes()):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise ToolFailedError(f"TensorRT could not parse {onnx}: {errors}", "export again with opset 13")
    config = builder.create_builder_config()
    if hasattr(config, "set_memory_pool_limit"):
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, WORKSPACE_MB << 20)
    else:                                                    # TensorRT < 8.4 (JetPack 4.6)
        config.max_workspace_size = WORKSPACE_MB << 20
    if precision == "fp16":
        config.set_flag(trt.BuilderFlag.FP16)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise ToolFailedError(f"TensorRT failed to build a {precision} engine from {onnx}",
                              "run with -v and read TensorRT's log above")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_bytes(bytes(serialized))
    os.replace(tmp, out)
    return round(time.perf_counter() - start, 2)


def cached_engine(run, precision: str) -> Path:
    """The engine for this TensorRT, GPU and precision; built when missing."""
    return Path(build_engine(run.path, precision)["engine"])


def validate_engine(run, path: Path, repeats: int = 50) -> dict:
    """Top-1 agreement and max |Δp| of the engine vs ONNX Runtime, and its batch-1 latency."""
    from .device_models import OnnxRuntimeModel, TensorRTModel

    engine, reference = TensorRTModel(path), OnnxRuntimeModel(onnx_path(run))
    x, source = parity_windows(run)
    got = np.stack([engine(w) for w in x])
    want = np.stack([reference(w) for w in x])
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        engine(x[0])
        times.append((time.perf_counter() - t0) * 1e3)
    return {"parity_source": source, "windows": len(x),
            "top1_agreement": float(np.mean(got.argmax(1) == want.argmax(1))),
            "max_abs_diff": float(np.max(np.abs(got - want))),
            "latency_ms": round(float(np.median(times)), 3)}
