"""The kernel library: plain C files in clib/, copied unchanged beside every generated network.

The generated C holds only what depends on the model (arrays, shapes, arena offsets, the call
sequence); every kernel body lives in clib/ once. ``KERNEL_FAMILIES`` is the one table from a
step kind (ir.Step.kind) to the C file of its kernel family. A new op is: one kernel file here
(declared in clib/asc_kernels.h), one row below, its lowering (lower.py) and call
(templates/asc.c.j2), and its cases in tests/test_kernel_library.py, which runs every family
alone against TFLite Micro on the host and in the emulated Cortex-M4.
"""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

KERNEL_FAMILIES = {
    "conv": "conv_s8.c",
    "pool": "pool_s8.c",
    "fc": "fully_connected_s8.c",
    "softmax": "softmax_s8.c",
    "convp": "conv_pad_s8.c",
    "dwconv": "depthwise_s8.c",
    "pool2": "pool_s8.c",
    "add": "add_s8.c",
    "mean": "mean_s8.c",
    "pad": "shape_s8.c",
    "concat": "shape_s8.c",
    "quantize": "quantize_s8.c",
    "dequantize": "quantize_s8.c",
    "requantize": "quantize_s8.c",
}
HEADERS = ("asc_kernels.h", "asc_fixedpoint.h", "asc_dsp.h", "conv_s8_dsp.h")
# Code + constants of each kernel file for the Cortex-M4 at the firmware's -O2, every function
# kept: what --gc-sections links for a network is at most this. Held to the compiled library by
# tests/test_budget.py (re-measure with the command that test names when a kernel changes).
KERNEL_CODE_BYTES = {"add_s8.c": 716, "conv_pad_s8.c": 22256, "conv_s8.c": 836, "depthwise_s8.c": 12680,
                     "fully_connected_s8.c": 3048, "mean_s8.c": 260, "pool_s8.c": 1036, "quantize_s8.c": 448,
                     "shape_s8.c": 160, "softmax_s8.c": 1316}
# The generated asc.c: create/init/run/error functions, and per step its call and configuration
# (measured 620 B of code + 60 B per step's configuration on an 11-step network, rounded up).
NETWORK_CODE_FIXED_BYTES = 256
NETWORK_CODE_STEP_BYTES = 128


def network_code_bytes(kinds) -> int:
    """Flash of a network's code: the generated calls (per step) and the kernel files its step
    ``kinds`` use (each file once)."""
    kinds = list(kinds)
    files = {KERNEL_FAMILIES[k] for k in kinds if k in KERNEL_FAMILIES}
    return (NETWORK_CODE_FIXED_BYTES + NETWORK_CODE_STEP_BYTES * len(kinds)
            + sum(KERNEL_CODE_BYTES[f] for f in files))


def clib_dir() -> Path:
    """The installed library folder (asc_toolchain/codegen/clib)."""
    return Path(str(resources.files("asc_toolchain.codegen") / "clib"))


def library_files() -> list[str]:
    """File names of the library, headers first, in a fixed order."""
    return [*HEADERS, *dict.fromkeys(KERNEL_FAMILIES.values())]


def library_sources() -> list[Path]:
    """The library's C sources in the installed folder (to build it on its own)."""
    return [clib_dir() / f for f in dict.fromkeys(KERNEL_FAMILIES.values())]


def copy_library(out_dir: Path) -> list[Path]:
    """Copy every library file byte for byte into ``out_dir``; return the new paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return [Path(shutil.copyfile(clib_dir() / name, out_dir / name)) for name in library_files()]

