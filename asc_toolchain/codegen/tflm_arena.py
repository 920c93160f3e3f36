"""TFLite Micro's arena for a model: what its interpreter allocates, read from the allocation
report the `tflite-micro` Python runtime prints (its only way of telling). The report is
written from C to the process's own streams, so it is read in a child process."""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

_CHILD = """
import sys
from tflite_micro.python.tflite_micro import runtime
runtime.Interpreter.from_file(sys.argv[1]).print_allocations()
"""
_TOTAL = re.compile(r"Arena allocation total (\d+) bytes")
_HEAD = re.compile(r"Arena allocation head (\d+) bytes")


def tflm_arena(tflite: bytes) -> dict:
    """{'total_bytes', 'head_bytes'} of TFLite Micro's arena for ``tflite`` (head: the tensors'
    planned memory; total adds its persistent structures); {'error': ...} when it cannot tell."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.tflite"
        path.write_bytes(tflite)
        try:
            done = subprocess.run([sys.executable, "-c", _CHILD, str(path)], capture_output=True,
                                  text=True, timeout=300)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return {"error": str(exc)}
    text = done.stdout + done.stderr
    total, head = _TOTAL.search(text), _HEAD.search(text)
    if not total:
        return {"error": (done.stderr.strip().splitlines() or ["no allocation report"])[-1]}
    return {"total_bytes": int(total.group(1)), "head_bytes": int(head.group(1)) if head else None}
