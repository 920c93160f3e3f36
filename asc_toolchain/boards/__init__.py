"""Boards are data: one YAML file per board in this folder (or a path to a user's file).

``load_board`` reads and checks a board file once and returns a ``Board`` that carries every
board fact the stages use: memory regions, the CPU (core, FPU, float ABI, clock), the stack and
heap reservations, serial defaults and USB ids, the microphone, the QEMU machine and the flash
runners. No other module reads the YAML, and nothing else spells a board's numbers.
``DEFAULT_BOARD`` is the one default board name (the `--board` option's default).
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields
from importlib import resources
from pathlib import Path

import yaml

from ..core.errors import ConfigError

DEFAULT_BOARD = "b-l475e-iot01a"


@dataclass(frozen=True)
class MemoryRegion:
    base: int
    size: int


@dataclass(frozen=True)
class Cpu:
    core: str                  # -mcpu
    fpu: str                   # -mfpu ("none": no FPU)
    float_abi: str             # -mfloat-abi: soft, softfp or hard
    max_clock_hz: int


@dataclass(frozen=True)
class Reserve:
    stack: int                 # bytes set aside in RAM for the stack (part of the budget)
    heap: int                  # bytes set aside for malloc (0: the firmware never allocates)


@dataclass(frozen=True)
class SerialDefaults:
    uart: str                  # the UART wired to the debug probe's virtual COM port
    baud: int
    usb_vid: int               # USB ids of that virtual COM port (port discovery)
    usb_pid: int


@dataclass(frozen=True)
class Microphone:
    clock_min_hz: int
    clock_max_hz: int
    clock_target_hz: int
    part: str = ""             # the part number, for people (no stage reads it)


@dataclass(frozen=True)
class Qemu:
    machine: str               # `qemu-system-arm -M` name


# The optional blocks of a board file: key -> the class its entries fill.
BLOCKS = {"cpu": Cpu, "reserve": Reserve, "serial": SerialDefaults, "microphone": Microphone, "qemu": Qemu}
TOP_KEYS = {"name", "kind", "vendor", "mcu", "memory", "runners", *BLOCKS}
_CONVERT = {"int": lambda v: int(v, 0) if isinstance(v, str) else int(v), "str": str}   # "0x374B" too


@dataclass(frozen=True)
class Board:
    name: str
    kind: str
    mcu: str
    memory: dict[str, MemoryRegion]
    cpu: Cpu | None = None
    reserve: Reserve | None = None
    serial: SerialDefaults | None = None
    microphone: Microphone | None = None
    qemu: Qemu | None = None
    runners: dict = field(default_factory=dict)
    path: Path | None = None

    @property
    def ram(self) -> MemoryRegion:
        return self.memory["ram"]

    @property
    def flash(self) -> MemoryRegion:
        return self.memory["flash"]

    def need(self, block: str):
        """The board file's ``block`` (cpu, reserve, serial, microphone, qemu); ConfigError naming
        the file and the entries to add when the file has none."""
        value = getattr(self, block)
        if value is None:
            raise _lacks(self.path, block, _required(BLOCKS[block]))
        return value


def known_boards() -> list[str]:
    root = resources.files("asc_toolchain.boards")
    return sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".yaml"))


def get_board(board: Board | str | None = None) -> Board:
    """``board`` itself, the board file it names, or (None) the default board."""
    if isinstance(board, Board):
        return board
    return load_board(board or DEFAULT_BOARD)


def board_path(name_or_path: str) -> Path:
    """The YAML file of a built-in board name, or the given path; ConfigError for unknown names."""
    path = Path(name_or_path)
    if path.suffix:
        return path
    path = Path(str(resources.files("asc_toolchain.boards") / f"{name_or_path}.yaml"))
    if not path.is_file():
        raise ConfigError(f"unknown board {name_or_path!r}",
                          f"use one of {', '.join(known_boards())} or a path to a board YAML file")
    return path


def load_board(name_or_path: str) -> Board:
    """Load and check a built-in board by name, or a board YAML file by path."""
    path = board_path(name_or_path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: board file not found", "check the path or use a built-in board name") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})", "fix the board file") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: not a valid board file (expected a mapping)",
                          "it needs name, memory.flash and memory.ram with base and size")
    unknown = sorted(set(data) - TOP_KEYS)
    if unknown:
        raise ConfigError(f"{path}: unknown board file key(s) {', '.join(unknown)}",
                          f"known: {', '.join(sorted(TOP_KEYS))}")
    blocks = {key: _block(data, key, cls, path) for key, cls in BLOCKS.items()}
    return Board(name=_name(data, path), kind=str(data.get("kind", "mcu")), mcu=str(data.get("mcu", "")),
                 memory=_memory(data, path), runners=data.get("runners") or {}, path=path, **blocks)


def _name(data: dict, path: Path) -> str:
    if not isinstance(data.get("name"), str) or not data["name"]:
        raise ConfigError(f"{path}: the board file has no name", "add name: BOARD-NAME")
    return data["name"]


def _memory(data: dict, path: Path) -> dict[str, MemoryRegion]:
    """memory.<region>: {base, size} in bytes; flash and ram are required, sizes positive."""
    hint = "it needs name, memory.flash and memory.ram with base and size"
    try:
        memory = {k: MemoryRegion(int(v["base"]), int(v["size"])) for k, v in data["memory"].items()}
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ConfigError(f"{path}: not a valid board file (memory: {exc!r})", hint) from None
    missing = [r for r in ("flash", "ram") if r not in memory]
    if missing:
        raise ConfigError(f"{path}: not a valid board file (no memory.{' or memory.'.join(missing)})", hint)
    bad = sorted(k for k, region in memory.items() if region.size <= 0 or region.base < 0)
    if bad:
        raise ConfigError(f"{path}: memory region(s) {', '.join(bad)} need a base ≥ 0 and a size > 0",
                          "give base and size in bytes")
    return memory


def _block(data: dict, key: str, cls: type, path: Path):
    """One optional block as ``cls``; None when absent; ConfigError for missing or bad entries."""
    raw = data.get(key)
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: {key} must be a mapping", f"give {key}: {{{', '.join(_required(cls))}}}")
    missing = [name for name in _required(cls) if name not in raw]
    if missing:
        raise _lacks(path, key, missing)
    try:
        return cls(**{f.name: _CONVERT[f.type](raw[f.name]) for f in fields(cls) if f.name in raw})
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{path}: bad value in the {key} block ({exc})",
                          f"{key} needs {', '.join(f'{f.name} ({f.type})' for f in fields(cls))}") from None


def _required(cls: type) -> list[str]:
    return [f.name for f in fields(cls) if f.default is MISSING]


def _lacks(path: Path | None, block: str, names: list[str]) -> ConfigError:
    return ConfigError(f"{path}: {block} block lacks {', '.join(names)}",
                       f"add {block}: {{{', '.join(names)}}} to the board file")
