"""`asc-tool bundle --run RUN --board jetson-nano --out DIR`: what a Jetson Nano needs.

DIR holds model.onnx (NCHW, opset 13), config.json (classes, features, listening and
mitigation settings), the runtime package ``ser_runtime/`` (numpy-only features + the real-time
loop, Python 3.6), ``run.py``, ``build_engine.sh``, requirements for JetPack 4.6 and a README
with the engine-build and run commands. Written in DIR.tmp-* and renamed: never half a bundle.
"""

from __future__ import annotations

import json
import os
import shutil
from importlib import resources
from pathlib import Path

from ..core.errors import ConfigError
from ..core.runs import atomic_folder
from . import features as F
from .engine import WORKSPACE_MB
from .export import export_onnx, onnx_path, open_ser_run
from .runtime import DEFAULTS

BOARDS = {"jetson-nano": {"jetpack": "4.6.x", "python": "3.6", "tensorrt": "8.0 / 8.2", "cuda": "10.2",
                          "precision": "fp16"}}
RUNTIME_FILES = ("features.py", "runtime.py", "device_models.py", "device_main.py")
RUN_PY = """#!/usr/bin/env python3
import os
import sys

# One BLAS thread: a window's small matrix product only loses time to thread hand-offs.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

from ser_runtime.device_main import main  # noqa: E402

sys.exit(main())
"""
REQUIREMENTS = """\
# JetPack 4.6.x (Ubuntu 18.04, Python 3.6). TensorRT and its Python bindings come with JetPack
# (python3-libnvinfer); do not pip-install tensorrt on the Nano.
numpy>=1.13,<1.20      # 1.19.x is the last numpy for Python 3.6 (apt: python3-numpy also works)
sounddevice>=0.4,<0.5  # needs PortAudio: sudo apt-get install libportaudio2
pycuda>=2019.1         # runs TensorRT engines; builds against CUDA 10.2 (export PATH=/usr/local/cuda/bin:$PATH)
# Optional, CPU fallback without an engine: onnxruntime (NVIDIA/Jetson Zoo wheels for Python 3.6)
"""


def bundle(run_dir, out, board: str = "jetson-nano", listen: dict | None = None) -> dict:
    """Write the bundle to ``out`` (replacing an older bundle there); returns its file list."""
    if board not in BOARDS:
        raise ConfigError(f"board {board!r} has no jetson-ser bundle", f"use one of {', '.join(BOARDS)}")
    run = open_ser_run(run_dir)
    if not onnx_path(run).is_file():
        export_onnx(run.path)
    out = Path(out).resolve()
    with atomic_folder(out, "config.json", "a bundle") as tmp:
        _fill(tmp, run, board, listen or dict(DEFAULTS))
    return {"bundle": str(out), "board": board,
            "files": sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())}


def _fill(tmp: Path, run, board: str, listen: dict) -> None:
    shutil.copyfile(onnx_path(run), tmp / "model.onnx")
    package = tmp / "ser_runtime"
    package.mkdir()
    (package / "__init__.py").write_text('"""Speech-emotion runtime for the Jetson (from asc-tool)."""\n')
    source = resources.files("asc_toolchain.ser")
    for name in RUNTIME_FILES:
        (package / name).write_text((source / name).read_text(encoding="utf-8"), encoding="utf-8")
    (tmp / "run.py").write_text(RUN_PY)
    (tmp / "build_engine.sh").write_text(_build_script())
    os.chmod(tmp / "build_engine.sh", 0o755)
    (tmp / "requirements-jetpack46.txt").write_text(REQUIREMENTS)
    config = _config(run, board, listen)
    (tmp / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    (tmp / "README.md").write_text(_readme(run, board, config))


def _config(run, board: str, listen: dict) -> dict:
    negative = run.manifest.get("negative_classes") or []
    return {"board": board, "run": run.path.name, "model": "model.onnx", "input": "NCHW 1x3x128x128",
            "class_names": run.class_names, "negative_classes": negative,
            "features": F.FEATURE_PARAMS, "listen": listen,
            "tool_version": run.manifest.get("tool_version"), "trained": run.manifest.get("created")}


def _build_script() -> str:
    return f"""#!/bin/sh
# Build TensorRT engines on this Jetson (engines do not move between devices or TensorRT versions).
set -e
cd "$(dirname "$0")"
TRTEXEC=${{TRTEXEC:-/usr/src/tensorrt/bin/trtexec}}
mkdir -p engines
"$TRTEXEC" --onnx=model.onnx --saveEngine=engines/fp32.engine --workspace={WORKSPACE_MB}
"$TRTEXEC" --onnx=model.onnx --saveEngine=engines/fp16.engine --workspace={WORKSPACE_MB} --fp16
"""


def _readme(run, board: str, config: dict) -> str:
    facts = BOARDS[board]
    listen = config["listen"]
    return f"""# Speech emotion recognition on the {board} (run `{run.path.name}`)

Real-time speech emotion recognition with a mitigation prompt, meant for personal/home use:
it listens to one room's microphone, keeps nothing, and sends nothing anywhere.

Classes: {', '.join(config['class_names'])}. Negative: {', '.join(config['negative_classes'])}.
Needs JetPack {facts['jetpack']} (Python {facts['python']}, CUDA {facts['cuda']}, TensorRT {facts['tensorrt']}).

## 1. Install (once)
    sudo apt-get install -y libportaudio2 python3-pip
    export PATH=/usr/local/cuda/bin:$PATH
    pip3 install -r requirements-jetpack46.txt

## 2. Build the TensorRT engines on the Jetson
    ./build_engine.sh        # engines/fp32.engine and engines/fp16.engine (the Nano has no INT8)
or one of them by hand:
    /usr/src/tensorrt/bin/trtexec --onnx=model.onnx --saveEngine=engines/fp16.engine --workspace={WORKSPACE_MB} --fp16

## 3. Pick the microphone by name (not by index: indices change between boots)
    python3 run.py --list-devices
USB microphones often only do 44.1/48 kHz: they are opened at their own rate and resampled to 16 kHz.

## 4. Run
    python3 run.py --model engines/fp16.engine --input-device "USB"
    python3 run.py --model engines/fp16.engine --file test.wav     # a 16-bit WAV, faster than real time
Without `--model` the ONNX model runs on ONNX Runtime (CPU), if installed.
Each trigger/release prints one JSON line; Ctrl-C prints the summary with per-stage latency.

## Listening and mitigation settings (config.json → "listen")
An inference every {listen['infer_every_s']} s on the last 2.604 s (41,664 samples); windows quieter than
{listen['gate_dbfs']} dBFS are skipped. The negative score (sum of the smoothed negative probabilities)
must stay ≥ {listen['trigger_threshold']} for {listen['sustain_s']} s to trigger; it releases below
{listen['release_threshold']}, then waits {listen['cooldown_s']} s before it can trigger again.
Action: `{json.dumps(listen['action'])}` — type "print" (message), "command" (argv list, run
without a shell) or "sound" (a WAV played with aplay).
"""
