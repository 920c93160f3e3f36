"""`asc-tool export --run RUN --format onnx`: the run's Keras model → RUN/onnx/, verified.

The ONNX graph (opset 13 for TensorRT 8.x, batch 1) is checked against the Keras model with
ONNX Runtime on real windows — the first utterances of the run's test speakers (seeded noise
windows when those files are gone) — and refused when the largest probability difference
exceeds 1e-4. The result is written atomically with `export_report.json` beside it.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..core.errors import ToolFailedError, ToolMissingError
from ..core.runs import Run
from .onnx_graph import OPSET, keras_to_onnx

PARITY_TOLERANCE = 1e-4
ONNX_FILES = {"NCHW": "model.onnx", "NHWC": "model_nhwc.onnx"}


class SerRun(Run):
    """A jetson-ser run directory read back (validated by core.runs.Run.open)."""

    TARGET = "jetson-ser"
    TARGET_HINT = "train one with `asc-tool train --target jetson-ser`"


def open_ser_run(path) -> SerRun:
    """The validated run at ``path``; RunError unless it was trained for jetson-ser."""
    return SerRun.open(path)


def onnx_path(run, layout: str = "NCHW") -> Path:
    return run.path / "onnx" / ONNX_FILES[layout.upper()]


def require(module: str, package: str):
    """Import an optional package or raise ToolMissingError naming how to install it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ToolMissingError(f"Python package {package!r} is not installed",
                               f"pip install {package}") from None


def parity_windows(run, count: int = 6) -> tuple[np.ndarray, str]:
    """(count, 3, 128, 128) feature windows from the run's test speakers, and where they came from."""
    from ..core.runs import read_split
    from .windows import utterance_windows

    rows = [it for it, split in read_split(run.path / "split.csv") if split == "test"] \
        if (run.path / "split.csv").is_file() else []
    files = [it.path for it in rows if Path(it.path).is_file()][:count]
    if files:
        x = np.concatenate([utterance_windows(p, max_windows=1) for p in files])
        return x, f"{len(files)} test-speaker utterances ({Path(files[0]).name} …)"
    rng = np.random.default_rng(0)
    return rng.random((count, 3, 128, 128), dtype=np.float32), "seeded random windows (test files not found)"


def export_onnx(run_dir, layout: str = "NCHW", windows: int = 6) -> dict:
    """Write RUN/onnx/model.onnx (or model_nhwc.onnx) and return the parity report."""
    require("onnx", "onnx")
    ort = require("onnxruntime", "onnxruntime")
    run = open_ser_run(run_dir)
    layout = layout.upper()
    model = run.load_keras()
    proto = keras_to_onnx(model, layout, name=f"ser_{run.path.name}")
    x, source = parity_windows(run, windows)
    nhwc = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    reference = model.predict(nhwc, batch_size=8, verbose=0)
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    feed = x if layout == "NCHW" else nhwc
    got = np.concatenate([session.run(None, {"input": feed[i:i + 1]})[0] for i in range(len(x))])
    diff = float(np.max(np.abs(got - reference)))
    report = {"onnx": str(onnx_path(run, layout)), "layout": layout, "opset": OPSET, "batch": 1,
              "input": [1, 3, 128, 128] if layout == "NCHW" else [1, 128, 128, 3],
              "nodes": len(proto.graph.node), "parity_windows": len(x), "parity_source": source,
              "max_abs_diff": diff, "tolerance": PARITY_TOLERANCE,
              "top1_agreement": float(np.mean(got.argmax(1) == reference.argmax(1)))}
    if not diff <= PARITY_TOLERANCE:
        raise ToolFailedError(f"ONNX Runtime differs from Keras by {diff:.3g} (> {PARITY_TOLERANCE}) on {source}",
                              "report this model; the exporter only covers the ResNet34 layers")
    _write(run.path / "onnx", ONNX_FILES[layout], proto.SerializeToString(), report)
    return report


def _write(folder: Path, name: str, payload: bytes, report: dict) -> None:
    """Model and report each via a temporary file + rename: never half a file."""
    from ..core.runs import write_json

    folder.mkdir(exist_ok=True)
    tmp = folder / f".{name}.tmp"
    tmp.write_bytes(payload)
    os.replace(tmp, folder / name)
    write_json(folder / f"export_report{'' if name == 'model.onnx' else '_nhwc'}.json", report)
