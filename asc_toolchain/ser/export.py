"""`asc-tool export --run RUN --format onnx`: the run's Keras model → RUN/onnx/, verified.

The graph is written by tf2onnx (opset 13 for TensorRT 8.x, batch 1, input ``input`` NCHW —
TensorRT's layout — or NHWC, output ``probabilities``) and checked against the Keras model with
ONNX Runtime on real windows — the first utterances of the run's test speakers (seeded noise
windows when those files are gone) — and refused when the largest probability difference
exceeds 1e-4. The result is written atomically with `export_report.json` beside it.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..core.errors import ConfigError, ToolFailedError, ToolMissingError
from ..core.runs import Run

OPSET = 13                     # the newest TensorRT 8.0 (JetPack 4.6) parses
IR_VERSION = 7                 # the ONNX IR of opset 13: readable by onnx 1.8+ / TensorRT 8.0
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


def keras_to_onnx(model, layout: str = "NCHW", name: str = "ser"):
    """An onnx.ModelProto of a one-input Keras model: batch 1, input ``input``, output ``probabilities``.

    NCHW: tf2onnx transposes the input itself (``inputs_as_nchw``), so TensorRT gets its native layout.
    """
    layout = layout.upper()
    if layout not in ONNX_FILES:
        raise ConfigError(f"layout {layout!r} is not NCHW or NHWC", "pass --layout NCHW (TensorRT) or NHWC")
    tf = require("tensorflow", "tensorflow")
    tf2onnx = require("tf2onnx", "tf2onnx")
    spec = [tf.TensorSpec((1, *model.input_shape[1:]), tf.float32, name="input")]
    function = tf.function(lambda x: model(x, training=False))
    try:
        proto, _ = tf2onnx.convert.from_function(function, input_signature=spec, opset=OPSET,
                                                 inputs_as_nchw=["input"] if layout == "NCHW" else None)
    except Exception as exc:           # tf2onnx raises many kinds; the user needs one line
        raise ToolFailedError(f"tf2onnx could not convert {model.name}: {str(exc).splitlines()[0][:200]}",
                              "report this model with the tensorflow and tf2onnx versions") from exc
    return _finish(proto, name)


def _finish(proto, name: str):
    """Name the output ``probabilities`` and pin the IR version, then check the graph."""
    from onnx import checker

    old = proto.graph.output[0].name
    for node in proto.graph.node:
        node.output[:] = ["probabilities" if o == old else o for o in node.output]
        node.input[:] = ["probabilities" if i == old else i for i in node.input]
    proto.graph.output[0].name = "probabilities"
    proto.graph.name, proto.producer_name = name, "asc-tool (tf2onnx)"
    proto.ir_version = IR_VERSION
    checker.check_model(proto)
    return proto


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
                              "report this model with the tensorflow and tf2onnx versions")
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
