"""The runner firmware: one generated network alone, built for the board's Cortex-M and run in
the emulated board (QEMU, the board file's machine, ``-icount shift=0`` so that time follows
executed instructions, semihosting for the files).

The C lives in m4runner/ (package data): runner_start.c (vectors, FPU, SysTick wraps) and
runner_main.c (reads inputs.bin, writes outputs.bin, prints SysTick ticks per inference and, built
with ASC_PROFILE, per layer). The build writes runner_net.h, which maps the network's
ai_<name>_* API onto the names runner_main.c uses, and a linker script from the board's flash and
RAM (weights in flash, arena in RAM), so any network name and any M4 board file work.

Used by `validate --model … --on-m4` (outputs) and `bench firmware --model` (instructions,
per-layer trace, ELF sizes).
"""

from __future__ import annotations

import os
import shutil
from importlib import resources
from pathlib import Path

import numpy as np

from ..boards import Board, get_board
from ..core.errors import BudgetError, ConfigError, RunError, ToolFailedError, ToolMissingError
from ..core.executor import Executor

GCC = "arm-none-eabi-gcc"
GCC_HINT = "Debian/Ubuntu: apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi"
RUNNER_SOURCES = ("runner_start.c", "runner_main.c")
WARNINGS = ("-std=c99", "-Wall", "-Wextra", "-Werror", "-Wdouble-promotion")
OPT = "-O2"


def runner_dir() -> Path:
    """The installed runner sources (asc_toolchain/bench/m4runner)."""
    return Path(str(resources.files("asc_toolchain.bench") / "m4runner"))


def find_gcc() -> str:
    path = shutil.which(os.environ.get("ASC_TOOL_ARM_NONE_EABI_GCC", GCC))
    if not path:
        raise ToolMissingError(f"{GCC} not found on PATH", GCC_HINT)
    return path


def cpu_flags(board: Board) -> list[str]:
    """-mcpu/-mthumb/-mfpu/-mfloat-abi from the board file."""
    cpu = board.need("cpu")
    flags = [f"-mcpu={cpu.core}", "-mthumb", f"-mfloat-abi={cpu.float_abi}"]
    if cpu.fpu and cpu.fpu != "none":
        flags.append(f"-mfpu={cpu.fpu}")
    return flags


def _net_header(name: str, layers: int) -> str:
    up = name.upper()
    pairs = {"CREATE": f"ai_{name}_create", "INIT": f"ai_{name}_init", "RUN": f"ai_{name}_run",
             "WEIGHTS_GET": f"ai_{name}_data_weights_get", "WEIGHTS": f"AI_{up}_DATA_WEIGHTS",
             "ACTIVATIONS": f"AI_{up}_DATA_ACTIVATIONS", "CONFIG": f"AI_{up}_DATA_CONFIG",
             "ACT_SIZE": f"AI_{up}_DATA_ACTIVATIONS_SIZE", "IN_BYTES": f"AI_{up}_IN_1_SIZE_BYTES",
             "OUT_BYTES": f"AI_{up}_OUT_1_SIZE_BYTES", "IN_NUM": f"AI_{up}_IN_NUM",
             "OUT_NUM": f"AI_{up}_OUT_NUM", "IN": f"AI_{up}_IN", "OUT": f"AI_{up}_OUT",
             "LAYERS": str(max(1, layers))}
    lines = ["/* written by asc-tool for the runner firmware (runner_main.c) */",
             f'#include "{name}.h"', f'#include "{name}_data.h"']
    lines += [f"#define RUN_{k} {v}" for k, v in pairs.items()]
    return "\n".join(lines) + "\n"


def _linker_script(board: Board) -> str:
    flash, ram = board.flash, board.ram
    return f"""/* runner firmware for {board.name}: code, constants and weights in flash, data in RAM */
MEMORY
{{
    FLASH (rx) : ORIGIN = {flash.base:#x}, LENGTH = {flash.size}
    RAM (rwx)  : ORIGIN = {ram.base:#x}, LENGTH = {ram.size}
}}
ENTRY(asc_runner_reset)
SECTIONS
{{
    .isr_vector : {{ KEEP(*(.isr_vector)) }} > FLASH
    .text :
    {{
        *(.text*) *(.rodata*)
        KEEP(*(.init)) KEEP(*(.fini))
        . = ALIGN(4);
        __preinit_array_start = .; KEEP(*(.preinit_array)) __preinit_array_end = .;
        __init_array_start = .; KEEP(*(.init_array*)) __init_array_end = .;
        __fini_array_start = .; KEEP(*(.fini_array*)) __fini_array_end = .;
    }} > FLASH
    .ARM.exidx : {{ *(.ARM.exidx*) }} > FLASH
    .data : {{ *(.data*) }} > RAM
    .bss : {{ __bss_start__ = .; *(.bss*) *(COMMON) __bss_end__ = .; }} > RAM
    end = .;
    __end__ = .;
    __stack_top = ORIGIN(RAM) + LENGTH(RAM);
}}
"""


def build_runner(c_dir: Path, name: str, build_dir: Path, board: Board | str | None = None, *,
                 profile: bool = False, layers: int = 1, executor: Executor | None = None) -> Path:
    """Compile the runner with the generated network of ``c_dir`` (named ``name``) into
    BUILD_DIR/runner.elf (runner_profile.elf with the per-layer hooks); the ELF's path."""
    from ..codegen.network import network_sources

    board = get_board(board)
    gcc = find_gcc()
    build_dir = Path(build_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    (build_dir / "runner_net.h").write_text(_net_header(name, layers), encoding="utf-8")
    (build_dir / "runner.ld").write_text(_linker_script(board), encoding="utf-8")
    elf = build_dir / ("runner_profile.elf" if profile else "runner.elf")
    sources = [runner_dir() / f for f in RUNNER_SOURCES] + network_sources(Path(c_dir), name)
    argv = [gcc, *cpu_flags(board), *WARNINGS, OPT, "-ffunction-sections", "-fdata-sections",
            *(["-DASC_PROFILE"] if profile else []), "--specs=rdimon.specs",
            f"-T{build_dir / 'runner.ld'}", f"-I{build_dir}", f"-I{c_dir}",
            *map(str, sources), "-Wl,--gc-sections", "-o", str(elf)]
    try:
        (executor or Executor()).run(argv, timeout=900)
    except ToolFailedError as exc:
        output = getattr(exc, "output", "") or str(exc)
        tail = " / ".join(ln for ln in output.splitlines() if "error" in ln)[:400]
        if "overflowed" in output:
            raise BudgetError(f"the runner firmware of {c_dir} does not fit {board.name}: "
                              + " / ".join(ln.split("ld: ")[-1] for ln in output.splitlines()
                                           if "overflowed" in ln)[:300],
                              "shrink the model; `asc-tool generate-c --check-ram` gives the budget") from None
        raise RunError(f"{c_dir}: the runner firmware does not build for {board.name} ({tail or exc})",
                       "generate the C again (`asc-tool generate-c --model FILE --out DIR`)") from None
    return elf


def qemu_argv(elf: Path, board: Board, trace_log: Path | None = None) -> list[str]:
    from ..deploy.emulate import find_qemu

    argv = [find_qemu(), "-M", board.need("qemu").machine, "-nographic", "-monitor", "none",
            "-serial", "null", "-icount", "shift=0", "-semihosting-config",
            "enable=on,target=native", "-kernel", str(Path(elf).resolve())]
    if trace_log is not None:
        argv += ["-d", "in_asm,exec,nochain", "-D", str(trace_log)]
    return argv


def write_inputs(run_dir: Path, inputs: np.ndarray) -> None:
    """inputs.bin: the rows of ``inputs`` in their dtype (int8, or float32 for a float edge)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "inputs.bin").write_bytes(np.ascontiguousarray(inputs).tobytes())
    (run_dir / "outputs.bin").unlink(missing_ok=True)


def parse_output(stdout: str, out_size: int, run_dir: Path, out_dtype=np.int8) -> dict:
    """The runner's lines: per_million, ticks per run, ticks per layer; outputs.bin read back."""
    per_million, runs, layers, done = None, [], {}, None
    for line in stdout.splitlines():
        parts = line.split()
        if parts[:2] == ["#", "per_million"]:
            per_million = int(parts[2])
        elif parts[:2] == ["#", "run"]:
            runs.append(int(parts[3]))
        elif parts[:2] == ["#", "layer"]:
            layers.setdefault(int(parts[3]), []).append(int(parts[4]))
        elif parts[:2] == ["#", "done"]:
            done = int(parts[2])
        elif parts[:2] == ["#", "error"]:
            raise RunError(f"runner firmware: {' '.join(parts[2:])}", "run it again; report it if it stays")
    if done is None or not per_million:
        raise RunError("the runner firmware stopped before its last line",
                       "check that QEMU runs the board (`asc-tool doctor`)")
    raw = (run_dir / "outputs.bin").read_bytes()
    outputs = np.frombuffer(raw, dtype=out_dtype).reshape(-1, out_size) if out_size else np.zeros((0, 0))
    to_instr = 1_000_000 / per_million
    return {"per_million_ticks": per_million, "outputs": outputs,
            "instructions": [round(t * to_instr) for t in runs],
            "layer_instructions": {i: [round(t * to_instr) for t in v] for i, v in sorted(layers.items())},
            "instruction_resolution": round(to_instr)}


def run_runner(elf: Path, inputs: np.ndarray, out_size: int, board: Board | str | None = None,
               run_dir: Path | None = None, timeout_s: float = 900.0,
               executor: Executor | None = None, out_dtype=np.int8) -> dict:
    """Run ``elf`` on ``inputs`` (one row per inference, in the network's input type) in the
    emulated board; outputs of ``out_size`` values of ``out_dtype`` each."""
    board = get_board(board)
    run_dir = Path(run_dir or Path(elf).parent)
    write_inputs(run_dir, inputs)
    done = (executor or Executor()).run(qemu_argv(elf, board), cwd=run_dir, timeout=timeout_s)
    return parse_output(done.stdout.decode("utf-8", "replace"), out_size, run_dir, out_dtype)


def check_m4_board(board: Board) -> None:
    cpu = board.need("cpu")
    if board.kind != "mcu" or not cpu.core.startswith("cortex-m"):
        raise ConfigError(f"board {board.name!r} has no Cortex-M core", "pick an mcu board (--board)")
