"""`asc-tool build`: configure and build the board firmware with CMake, report RAM and flash.

The firmware sources (firmware/, CMakeLists.txt, cmake/arm-none-eabi.cmake) live beside the
package in a source checkout. The board file gives every board number as a CMake -D value: the
CPU flags, the linker regions, the stack and heap reservations, the clock, the baud and the
microphone's clock range; the run gives the generated C (RUN/c) and the sample rate. RAM and
flash are read from the ELF's sections with pyelftools:
flash = .isr_vector + .text + .rodata + .ARM.exidx + .init_array + .data (load image),
RAM (SRAM1, the budget) = .data + .bss + .heap + .stack (the reservations), measured as their
extent from the region base so alignment gaps count; SRAM2 is reported apart.
The build leaves its report in BUILD/build.json: later stages (the qemu engine) read the board
the ELF was built for from there.
Generated C that is missing, or stale — its header's model sha256 is not the run's int8 model's
(files without that header: older than the model) — is generated again first (codegen.generate),
and the build says so on stderr; `flash --run` builds a missing or outdated ELF the same way.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..asc.features import FeatureParams
from ..asc.quantize import MODEL_FILE
from ..boards import Board, get_board, load_board
from ..core.executor import Executor
from ..core.errors import BudgetError, ConfigError, RunError, ToolFailedError, ToolMissingError

ELF_NAME = "asc_fw.elf"
GENERATED_FILES = ("asc.h", "asc.c", "asc_data.h", "asc_data.c", "asc_features.h", "asc_features.c")
FLASH_SECTIONS = (".isr_vector", ".text", ".rodata", ".ARM.exidx", ".init_array", ".data")
RAM_SECTIONS = (".data", ".bss", ".heap", ".stack")
BUILD_REPORT = "build.json"
TOOLS = {"arm-none-eabi-gcc": "apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi",
         "arm-none-eabi-objcopy": "apt-get install binutils-arm-none-eabi",
         "cmake": "apt-get install cmake (or pip install cmake)"}


def source_root() -> Path:
    """The folder holding CMakeLists.txt and firmware/ (ASC_TOOL_FIRMWARE_ROOT overrides)."""
    root = Path(os.environ.get("ASC_TOOL_FIRMWARE_ROOT") or Path(__file__).resolve().parents[2])
    if not (root / "CMakeLists.txt").is_file() or not (root / "firmware" / "src").is_dir():
        raise ConfigError(f"{root}: firmware sources not found (CMakeLists.txt, firmware/src)",
                          "run from a source checkout of asc-tool or set ASC_TOOL_FIRMWARE_ROOT")
    return root


def find_tools() -> dict[str, str]:
    """Paths of the cross compiler, objcopy and cmake; ToolMissingError naming the package."""
    found = {}
    for name, hint in TOOLS.items():
        path = shutil.which(name)
        if not path:
            raise ToolMissingError(f"{name} not found on PATH", hint)
        found[name] = path
    found["ninja"] = shutil.which("ninja") or ""
    if not found["ninja"] and not shutil.which("make"):
        raise ToolMissingError("neither ninja nor make found on PATH (CMake needs one)",
                               "apt-get install ninja-build (or make)")
    return found


def board_defines(board: Board, sample_rate: int, stack_size: int | None = None) -> dict[str, str]:
    """The -D values CMake needs, all read from the board file (no second copy of a number);
    ``stack_size`` overrides the board's stack reservation."""
    if board.kind != "mcu":
        raise ConfigError(f"board {board.name!r} is a {board.kind} board", "build firmware for an mcu board")
    cpu, reserve, mic = board.need("cpu"), board.need("reserve"), board.need("microphone")
    sram2 = board.memory.get("sram2")
    return {
        "ASC_BOARD_NAME": board.name,
        "ASC_CPU": cpu.core, "ASC_FPU": cpu.fpu, "ASC_FLOAT_ABI": cpu.float_abi,
        "ASC_SYSCLK_HZ": str(cpu.max_clock_hz),
        "ASC_UART_BAUD": str(board.need("serial").baud),
        "ASC_FLASH_BASE": hex(board.flash.base), "ASC_FLASH_SIZE": str(board.flash.size),
        "ASC_RAM_BASE": hex(board.ram.base), "ASC_RAM_SIZE": str(board.ram.size),
        "ASC_SRAM2_BASE": hex(sram2.base if sram2 else 0), "ASC_SRAM2_SIZE": str(sram2.size if sram2 else 0),
        "ASC_STACK_SIZE": str(int(stack_size or reserve.stack)),
        "ASC_HEAP_SIZE": str(reserve.heap),
        "ASC_SAMPLE_RATE_HZ": str(int(sample_rate)),
        "ASC_MIC_MIN_HZ": str(mic.clock_min_hz), "ASC_MIC_MAX_HZ": str(mic.clock_max_hz),
        "ASC_MIC_TARGET_HZ": str(mic.clock_target_hz),
    }


_HEADER_HASH = re.compile(rb"model sha256: ([0-9a-f]{64})")


def header_hash(path: Path) -> str | None:
    """The model sha256 in a generated file's header (codegen.render), None without one."""
    with open(path, "rb") as fh:
        found = _HEADER_HASH.search(fh.read(512))
    return found.group(1).decode() if found else None


def stale_reason(run, path: Path) -> str | None:
    """Why the generated C in ``path`` cannot be built for ``run`` as it is, or None when current."""
    missing = [f for f in GENERATED_FILES if not (path / f).is_file()]
    if missing:
        return f"missing generated C ({', '.join(missing)})"
    model = run.path / MODEL_FILE
    if not model.is_file():
        return None                      # nothing to compare with: build what is there
    want = hashlib.sha256(model.read_bytes()).hexdigest()
    found = {f: header_hash(path / f) for f in GENERATED_FILES}
    for name, digest in found.items():
        if digest is not None and digest != want:
            return (f"stale generated C ({name} was made from model {digest[:12]}, "
                    f"the run's {MODEL_FILE} is {want[:12]})")
    newest = model.stat().st_mtime
    if not any(found.values()) and any((path / f).stat().st_mtime < newest for f in GENERATED_FILES):
        return f"stale generated C (older than the run's {MODEL_FILE})"
    return None


def generated_dir(run, c_dir: str | Path | None = None, echo: Callable[[str], None] | None = None) -> Path:
    """RUN/c (or ``c_dir``) holding current generated C for the run: generated again (saying so
    through ``echo``) when missing or stale; RunError when the run has no int8 model to generate from."""
    path = Path(c_dir) if c_dir else run.path / "c"
    reason = stale_reason(run, path)
    if reason is None:
        return path.resolve()
    if not (run.path / MODEL_FILE).is_file():
        raise RunError(f"{path}: {reason}, and {run.path} has no {MODEL_FILE} to generate it from",
                       f"run `asc-tool quantize --run {run.path}` first; build then generates the C "
                       f"(or run `asc-tool generate-c --run {run.path}`)")
    if (path / "asc.c").is_file() and header_hash(path / "asc.c") is None:
        raise RunError(f"{path}: {reason}; its network C was not made by the builtin generator",
                       f"generate it again with `asc-tool generate-c --run {run.path} --backend stedgeai`")
    (echo or _stderr)(f"{path}: {reason}; generating it again from {run.path / MODEL_FILE}")
    from ..codegen.generate import generate_c

    generate_c(run, path)
    return path.resolve()


def _stderr(text: str) -> None:
    import click

    click.echo(text, err=True)


def default_elf(run) -> Path:
    """RUN/build/asc_fw.elf; RunError with the build command when it is not there."""
    elf = run.path / "build" / ELF_NAME
    if not elf.is_file():
        raise RunError(f"{elf}: no firmware built for this run",
                       f"run `asc-tool build --run {run.path}` first")
    return elf


def ensure_firmware(run, board: Board, echo: Callable[[str], None] | None = None) -> Path:
    """RUN/build/asc_fw.elf for ``board``, built first (saying so through ``echo``) when it is
    missing, older than its generated C, built for another board, or its C is missing or stale."""
    elf = run.path / "build" / ELF_NAME
    record = _build_record(elf)
    c_dir = Path(record.get("generated_dir") or run.path / "c")
    reason = outdated_reason(run, elf, board, record, c_dir)
    if reason:
        (echo or _stderr)(f"{elf}: {reason}; building it (asc-tool build --run {run.path} --board {board.name})")
        build(run.path, board, c_dir=c_dir if record.get("generated_dir") else None, echo=echo)
    return elf


def outdated_reason(run, elf: Path, board: Board, record: dict, c_dir: Path) -> str | None:
    """Why ``elf`` must be built again, or None when it is current."""
    if not elf.is_file():
        return "no firmware built for this run"
    if record.get("board") != board.name:
        return f"built for board {record.get('board') or 'unknown'}, not {board.name}"
    stale = stale_reason(run, c_dir)
    if stale:
        return stale
    built = elf.stat().st_mtime
    if any((c_dir / f).stat().st_mtime > built for f in GENERATED_FILES):
        return f"older than the generated C in {c_dir}"
    return None


def _build_record(elf: Path) -> dict:
    """BUILD/build.json beside ``elf`` ({} when absent or unreadable: the ELF is then rebuilt)."""
    try:
        record = json.loads((elf.parent / BUILD_REPORT).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def built_board(elf: Path) -> Board:
    """The board an ELF from `asc-tool build` was built for (its folder's build.json)."""
    record = elf.parent / BUILD_REPORT
    if not record.is_file():
        raise RunError(f"{record}: no build report beside {elf.name}, so its board is unknown",
                       "build it again with `asc-tool build`")
    report = json.loads(record.read_text(encoding="utf-8"))
    return load_board(report["board_file"])


@dataclass
class BuildConfig:
    board: Board
    gen_dir: Path
    build_dir: Path
    sample_rate: int = field(default_factory=lambda: FeatureParams().sample_rate)   # the run's
    stack_size: int | None = None                        # None: the board file's reserve.stack
    jobs: int = 2
    extra_defines: dict = field(default_factory=dict)   # more -D values for CMake (test builds)

    @property
    def stack_bytes(self) -> int:
        return self.stack_size or self.board.need("reserve").stack


def cmake_commands(cfg: BuildConfig, tools: dict[str, str]) -> list[list[str]]:
    """The configure and build command lines."""
    root = source_root()
    generator = ["-G", "Ninja"] if tools.get("ninja") else ["-G", "Unix Makefiles"]
    defines = {**board_defines(cfg.board, cfg.sample_rate, cfg.stack_bytes),
               "ASC_GENERATED_DIR": str(cfg.gen_dir),
               "CMAKE_TOOLCHAIN_FILE": str(root / "cmake" / "arm-none-eabi.cmake"), **cfg.extra_defines}
    configure = [tools["cmake"], "-S", str(root), "-B", str(cfg.build_dir), *generator,
                 *(f"-D{k}={v}" for k, v in defines.items())]
    build = [tools["cmake"], "--build", str(cfg.build_dir), "-j", str(cfg.jobs)]
    return [configure, build]


def build_firmware(cfg: BuildConfig, executor: Executor | None = None) -> dict:
    """Configure + build; return the memory report. BudgetError when it does not fit."""
    tools = find_tools()
    executor = executor or Executor()
    cfg.build_dir.mkdir(parents=True, exist_ok=True)
    for argv in cmake_commands(cfg, tools):
        try:
            executor.run(argv, timeout=600)
        except ToolFailedError as exc:
            raise _overflow_error(exc, cfg.board) or exc
    elf = cfg.build_dir / ELF_NAME
    report = memory_report(elf, cfg.board)
    report.update(elf=str(elf), bin=str(elf.with_suffix(".bin")), hex=str(elf.with_suffix(".hex")),
                  generated_dir=str(cfg.gen_dir), board_file=str(cfg.board.path),
                  stack_reserved_bytes=cfg.stack_bytes, heap_reserved_bytes=cfg.board.need("reserve").heap)
    (cfg.build_dir / BUILD_REPORT).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    check_budget(report, cfg.board)
    return report


_OVERFLOW = re.compile(r"region [`'](\w+)' overflowed by (\d+) bytes")


def _overflow_error(exc: ToolFailedError, board: Board) -> BudgetError | None:
    """The linker's overflow message turned into a BudgetError with the board's numbers."""
    match = _OVERFLOW.search(str(exc))
    if not match:
        return None
    region, over = match.group(1), int(match.group(2))
    size = {"FLASH": board.flash.size, "RAM": board.ram.size}.get(region)
    return BudgetError(f"firmware does not fit {board.name}: {region} overflowed by {over:,} B"
                       + (f" (region is {size:,} B)" if size else ""),
                       "shrink the model (fewer Conv2D filters or Dense units), or lower "
                       "the stack reservation with --stack-size")


def elf_sections(elf: Path) -> dict[str, tuple[int, int]]:
    """Allocated sections of an ELF: name -> (address, size in bytes)."""
    from elftools.elf.constants import SH_FLAGS
    from elftools.elf.elffile import ELFFile

    if not elf.is_file():
        raise ConfigError(f"{elf}: ELF file not found", "build it with `asc-tool build`")
    with open(elf, "rb") as fh:
        return {s.name: (int(s["sh_addr"]), int(s["sh_size"])) for s in ELFFile(fh).iter_sections()
                if s["sh_flags"] & SH_FLAGS.SHF_ALLOC and s["sh_size"]}


def memory_report(elf: Path, board: Board) -> dict:
    """Sections, flash_bytes, ram_bytes (SRAM1), sram2_bytes and the board's sizes.

    RAM is the extent of .data, .bss and .stack from the region's base, so alignment gaps
    count; flash is the sum of the sections stored in flash.
    """
    placed = elf_sections(elf)
    sections = {name: size for name, (_, size) in placed.items()}
    flash = sum(sections.get(s, 0) for s in FLASH_SECTIONS)
    ends = [addr + size for name, (addr, size) in placed.items()
            if name in RAM_SECTIONS and board.ram.base <= addr < board.ram.base + board.ram.size]
    ram = max(ends, default=board.ram.base) - board.ram.base
    return {"board": board.name, "sections": sections,
            "flash_bytes": flash, "flash_size_bytes": board.flash.size,
            "ram_bytes": ram, "ram_size_bytes": board.ram.size,
            "sram2_bytes": sections.get(".sram2", 0),
            "flash_pct": round(100.0 * flash / board.flash.size, 2),
            "ram_pct": round(100.0 * ram / board.ram.size, 2)}


def check_budget(report: dict, board: Board) -> None:
    """BudgetError naming the numbers when RAM or flash exceed the board."""
    for kind in ("ram", "flash"):
        used, size = report[f"{kind}_bytes"], report[f"{kind}_size_bytes"]
        if used > size:
            raise BudgetError(f"firmware needs {used:,} B of {kind.upper()}; {board.name} has {size:,} B "
                              f"({used - size:,} B over)",
                              "shrink the model (fewer Conv2D filters or Dense units) or the stack")


def build(run_dir: str | Path, board: Board | str | None = None, build_dir: str | Path | None = None,
          c_dir: str | Path | None = None, stack_size: int | None = None, jobs: int = 2,
          executor: Executor | None = None, echo: Callable[[str], None] | None = None) -> dict:
    """`asc-tool build`: the firmware for ``board`` (None: the default board) from the run's
    generated C (generated again first when missing or stale, said through ``echo``);
    ``stack_size`` None keeps the board file's stack reservation."""
    from ..asc.run import open_asc_run

    run = open_asc_run(run_dir)
    if run.target != "stm32-asc":
        raise RunError(f"{run.path} is a {run.target} run", "firmware is built for stm32-asc runs")
    cfg = BuildConfig(board=get_board(board), gen_dir=generated_dir(run, c_dir, echo),
                      build_dir=Path(build_dir or run.path / "build").resolve(),
                      sample_rate=run.feature_params.sample_rate, stack_size=stack_size, jobs=jobs)
    report = build_firmware(cfg, executor)
    report["run"] = str(run.path)
    return report
