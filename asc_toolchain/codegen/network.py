"""Render the lowered int8 network as C (asc.h, asc.c, asc_data.h, asc_data.c) beside a copy of
the kernel library (library.py).

`generate_network_c` takes .tflite bytes and writes the files; the report it returns carries the
figures `generate-c --json` and `bench codegen` print (weights, activations, MACC). Same model
bytes in, same C bytes out.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from ..core.errors import DataError
from . import library
from .ir import Network, Step
from .lower import lower
from .lower_ops import blob_weights
from .render import c_float, check_identifier, render
from .tflite_model import read_tflite

# Written beside the network by earlier versions; the library's files replace them, and a stale
# copy in the folder would be compiled and linked a second time.
RETIRED_FILES = ("asc_kernels.c",)
# X-CUBE-AI 4.1 on the seed model (FP-AI-SENSING1), for comparison in reports.
XCUBEAI_WEIGHTS_BYTES = 7836
XCUBEAI_ACTIVATIONS_BYTES = 5152


def model_hash(tflite: bytes) -> str:
    """sha256 of the .tflite bytes: the identity every generated file carries."""
    return hashlib.sha256(tflite).hexdigest()


def network_files(name: str = "asc") -> list[str]:
    """Names of the files `generate_network_c` writes: the generated ones, then the library's."""
    return [*generated_files(name), *library.library_files()]


def generated_files(name: str = "asc") -> list[str]:
    """Names of the files rendered from the model (the rest is the kernel library, copied)."""
    return [f"{name}.h", f"{name}.c", f"{name}_data.h", f"{name}_data.c"]


def network_sources(c_dir: Path, name: str = "asc") -> list[Path]:
    """The C sources of a generated network folder, to compile beside a harness."""
    return [Path(c_dir) / f for f in network_files(name) if f.endswith(".c")]


def remove_retired(out_dir: Path) -> None:
    """Delete RETIRED_FILES from ``out_dir``, only those with our "do not edit" header."""
    for name in RETIRED_FILES:
        path = Path(out_dir) / name
        if path.is_file() and "do not edit" in path.read_text("utf-8", "replace").split("\n", 1)[0]:
            path.unlink()


def generate_network_c(tflite: bytes, out_dir: Path, class_names: list[str] | None, *,
                       source: str = "model_int8.tflite", name: str = "asc") -> dict:
    """Write the network C files for ``tflite`` into ``out_dir``; return the report dict.
    ``class_names`` None (a bare model): no ASC_CLASS_NAMES in the header."""
    check_identifier(name, "network name")
    net = lower(read_tflite(tflite))
    n_out = int(np.prod(net.output.shape))
    if class_names is not None and len(class_names) != n_out:
        raise DataError(f"{source}: the model has {n_out} outputs but the run names "
                        f"{len(class_names)} classes ({', '.join(class_names)})",
                        "quantize the run again (`asc-tool quantize`)")
    digest = model_hash(tflite)
    out_dir = Path(out_dir)
    ctx = _context(net, class_names, digest, name)
    files = [render(template, out_dir / out_name, model_hash=digest, source=source, **ctx)
             for template, out_name in zip(("asc.h.j2", "asc.c.j2", "asc_data.h.j2", "asc_data.c.j2"),
                                           generated_files(name))]
    files += library.copy_library(out_dir)
    report = network_report(net)
    report.update(model_sha256=digest, files=[str(f) for f in files])
    return report


def network_report(net: Network) -> dict:
    """Byte and MACC figures of a lowered network (the keys of `generate-c --json`)."""
    io = net.input.nbytes + net.output.nbytes
    tables = sum(len(s.multiplier) * 5 for s in net.steps)   # int32 multiplier + int8 shift
    return {
        "backend": "builtin",
        "weights_bytes": len(net.weights_blob),
        "activations_bytes": activations_size(net),
        "io_bytes": io,
        "quant_params_bytes": tables,
        "macc": net.macc,
        "macc_executed": net.macc_executed,
        "layers": [_layer_summary(s) for s in net.steps],
        "input": _io_report(net, net.input),
        "output": _io_report(net, net.output),
        "xcubeai_weights_bytes": XCUBEAI_WEIGHTS_BYTES,
        "xcubeai_activations_bytes": XCUBEAI_ACTIVATIONS_BYTES,
    }


def _edge(net: Network, t) -> tuple[str, float, int]:
    """(C type, scale, zero point) of graph input or output ``t``: a float32 edge has the
    quantization of the QUANTIZE/DEQUANTIZE step beside it."""
    if t.dtype is np.float32:
        for s in net.steps:
            if s.kind in ("quantize", "dequantize") and t.index in (s.src, s.dst):
                return "float", s.cfg["scale"], s.cfg["zero_point"]
    return "int8_t", float(t.scales[0]), int(t.zero_points[0])


def _io_report(net: Network, t) -> dict:
    ctype, scale, zp = _edge(net, t)
    return {"shape": list(t.shape), "type": "float32" if ctype == "float" else "int8",
            "bytes": t.nbytes, "scale": scale, "zero_point": zp}


def activations_size(net: Network) -> int:
    """AI_ASC_DATA_ACTIVATIONS_SIZE: the arena, at least 4 bytes (C has no empty arrays)."""
    return max(net.arena_bytes, 4)


def _layer_summary(s: Step) -> dict:
    return {"name": s.name, "kind": s.kind, "macc": s.macc,
            "weights_bytes": 0 if s.weights is None else len(blob_weights(s)) + 4 * int(s.bias.size)}


def _describe(s: Step) -> str:
    c = s.cfg
    if s.kind == "conv":
        pool = (f", max-pool {c['pool_h']}x{c['pool_w']}/{c['pool_stride_h']} fused"
                if c["pool_h"] > 1 or c["pool_w"] > 1 else "")
        ring = (f", rows into an int16 ring of {c['ring']['rows']} rows for the next conv"
                if c.get("ring") else "")
        return (f"conv {c['k_h']}x{c['k_w']} {c['in_h']}x{c['in_w']}x{c['in_c']} -> "
                f"{c['out_h']}x{c['out_w']}x{c['out_c']}{pool}{ring}, kernel {c['kernel']}")
    if s.kind == "pool":
        return f"max-pool {c['pool_h']}x{c['pool_w']} -> {c['out_h']}x{c['out_w']}x{c['c']}"
    if s.kind == "fc":
        return f"fully connected {c['in_features']} -> {c['out_features']}"
    if s.kind in ("convp", "dwconv"):
        return (f"{'depthwise ' if s.kind == 'dwconv' else ''}conv {c['k_h']}x{c['k_w']} "
                f"/{c['stride_h']}x{c['stride_w']} dilation {c['dil_h']}x{c['dil_w']} pad "
                f"{c['pad_top']},{c['pad_left']} {c['in_h']}x{c['in_w']}x{c['in_c']} -> "
                f"{c['out_h']}x{c['out_w']}x{c['out_c']}")
    if s.kind == "pool2":
        return f"{c['op']}-pool {c['pool_h']}x{c['pool_w']} -> {c['out_h']}x{c['out_w']}x{c['c']}"
    if s.kind == "add":
        return f"add of two int8 tensors, {c['size']} elements"
    if s.kind in ("mean", "pad", "concat"):
        return s.kind
    if s.kind in ("quantize", "dequantize", "requantize"):
        what = {"quantize": "float32 -> int8", "dequantize": "int8 -> float32",
                "requantize": "int8 -> int8"}[s.kind]
        return f"{s.kind} {what}, {c['size']} elements"
    return f"softmax over {c['depth']}"


def _pointer(net: Network, tensor: int, writable: bool) -> str:
    if tensor == net.input.index:
        return "input"
    if tensor == net.output.index:
        return "output"
    cast = "(int8_t *)" if writable else "(const int8_t *)"
    return f"{cast}(arena + {net.offsets[tensor]})"


def _context(net: Network, class_names: list[str], digest: str, name: str) -> dict:
    shape = list(net.input.shape) + [1] * (4 - len(net.input.shape))
    _, in_h, in_w, in_c = shape[:4]
    n_out = int(np.prod(net.output.shape))
    in_ctype, in_scale, in_zp = _edge(net, net.input)
    out_ctype, out_scale, out_zp = _edge(net, net.output)
    steps = [dict(kind=s.kind, name=s.name, summary=_describe(s), c=s.cfg, n=len(s.multiplier),
                  multiplier=s.multiplier, shift=s.shift, weights_offset=s.weights_offset,
                  bias_offset=s.bias_offset, src=_pointer(net, s.src, False),
                  dst_off=net.offsets.get(s.dst, 0),
                  dst=_pointer(net, s.dst, True),
                  srcs=[_pointer(net, t, False) for t in s.inputs]) for s in net.steps]
    names = ", ".join('"' + n.replace("\\", "\\\\").replace('"', '\\"') + '"' for n in class_names or ())
    return dict(name=name, NAME=name.upper(), steps=steps, in_h=in_h, in_w=in_w, in_c=in_c,
                in_size=int(np.prod(net.input.shape)), n_out=n_out,
                in_scale=c_float(in_scale), in_zp=in_zp, out_scale=c_float(out_scale), out_zp=out_zp,
                in_ctype=in_ctype, out_ctype=out_ctype,
                class_names=names, digest=digest, macc=net.macc,
                weights_size=len(net.weights_blob), activations_size=activations_size(net),
                weights=_hex_bytes(net.weights_blob))


def _hex_bytes(blob: bytes, per_line: int = 16) -> str:
    items = [f"0x{b:02x}" for b in blob]
    lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
    return ",\n    ".join(lines)
