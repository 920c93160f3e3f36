"""Boards are data: one YAML file per board in this folder (or a path to a user's file)."""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import yaml

from ..core.errors import ConfigError


@dataclass(frozen=True)
class MemoryRegion:
    base: int
    size: int


@dataclass(frozen=True)
class Board:
    name: str
    kind: str
    mcu: str
    cpu: dict
    memory: dict[str, MemoryRegion]
    serial: dict = field(default_factory=dict)
    qemu: dict = field(default_factory=dict)
    runners: dict = field(default_factory=dict)
    path: Path | None = None

    @property
    def ram(self) -> MemoryRegion:
        return self.memory["ram"]

    @property
    def flash(self) -> MemoryRegion:
        return self.memory["flash"]


def known_boards() -> list[str]:
    root = resources.files("asc_toolchain.boards")
    return sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".yaml"))


def load_board(name_or_path: str) -> Board:
    """Load a built-in board by name, or a board YAML file by path."""
    path = Path(name_or_path)
    if not path.suffix:
        path = Path(str(resources.files("asc_toolchain.boards") / f"{name_or_path}.yaml"))
        if not path.is_file():
            raise ConfigError(f"unknown board {name_or_path!r}",
                              f"use one of {', '.join(known_boards())} or a path to a board YAML file")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        memory = {k: MemoryRegion(int(v["base"]), int(v["size"])) for k, v in data["memory"].items()}
        return Board(name=data["name"], kind=data.get("kind", "mcu"), mcu=data.get("mcu", ""),
                     cpu=data.get("cpu", {}), memory=memory, serial=data.get("serial", {}),
                     qemu=data.get("qemu", {}), runners=data.get("runners", {}), path=path)
    except FileNotFoundError:
        raise ConfigError(f"{path}: board file not found", "check the path or use a built-in board name") from None
    except (yaml.YAMLError, KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{path}: not a valid board file ({exc})",
                          "it needs name, memory.flash and memory.ram with base and size") from None
