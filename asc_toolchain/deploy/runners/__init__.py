"""Flash runners: one class per tool, in one explicit registry sorted by name.

``get_runner(name)`` returns the class; ``make_runner(board, name, ...)`` resolves the options
(board file < environment < command line) and creates the runner.
"""

from __future__ import annotations

from ...boards import Board
from ...core.errors import ConfigError
from .core import OPTIONS, Capabilities, Runner, RunnerConfig, resolve_options
from .cubeprogrammer import CubeProgrammerRunner
from .gdb import GdbRunner
from .mass_storage import MassStorageRunner
from .openocd import OpenocdRunner
from .pyocd import PyocdRunner
from .qemu import QemuRunner
from .stlink import StlinkRunner

RUNNERS: dict[str, type[Runner]] = {
    "cubeprogrammer": CubeProgrammerRunner,
    "gdb": GdbRunner,
    "mass-storage": MassStorageRunner,
    "openocd": OpenocdRunner,
    "pyocd": PyocdRunner,
    "qemu": QemuRunner,
    "stlink": StlinkRunner,
}

__all__ = ["OPTIONS", "RUNNERS", "Capabilities", "Runner", "RunnerConfig", "board_runners",
           "get_runner", "make_runner"]


def get_runner(name: str) -> type[Runner]:
    """The runner class called ``name``; ConfigError listing the known ones."""
    try:
        return RUNNERS[name]
    except KeyError:
        raise ConfigError(f"unknown runner {name!r}", f"use one of {', '.join(RUNNERS)}") from None


def board_runners(board: Board) -> list[str]:
    """The board's runners, default first (the ``default`` key, else the first listed)."""
    names = [k for k in (board.runners or {}) if k != "default"]
    default = (board.runners or {}).get("default") or (names[0] if names else None)
    for name in names + ([default] if default else []):
        get_runner(name)
    return ([default] if default else []) + [n for n in names if n != default]


def make_runner(config: RunnerConfig, name: str | None = None, cli_values: dict | None = None,
                env: dict | None = None) -> Runner:
    """The runner ``name`` (default: the board's first) with options resolved and checked."""
    if name is None:
        listed = board_runners(config.board)
        if not listed:
            raise ConfigError(f"board {config.board.name} lists no flash runners", "give --runner NAME")
        name = listed[0]
    cls = get_runner(name)
    values, _ = resolve_options(cls, config.board, cli_values or {}, env)
    return cls.create(config, values)


def firmware_elf(elf: str | None, run_dir: str | None, board: Board | None = None, build: bool = False,
                 echo=print):
    """The ELF to flash: ``elf``, else RUN/build/asc_fw.elf; None when neither is given.

    With ``build`` (a real flash from --run) a missing or outdated firmware is built first, its
    generated C generated again when missing or stale (deploy.build.ensure_firmware); otherwise
    a missing one is a RunError saying how to build it."""
    from pathlib import Path

    if elf and run_dir:
        raise ConfigError("both --elf and --run given", "give one of them")
    if elf:
        return Path(elf)
    if run_dir:
        from ..build import default_elf, ensure_firmware
        from ...asc.run import open_asc_run

        run = open_asc_run(run_dir)
        return ensure_firmware(run, board, echo) if build else default_elf(run)
    return None


def flash(board_name: str, runner: str | None = None, elf: str | None = None, run_dir: str | None = None,
          action: str = "flash", dry_run: bool = False, cli_values: dict | None = None,
          echo=print) -> dict:
    """Flash (or erase/reset) a board with a runner; returns what was done."""
    from ...boards import load_board
    from ...core.executor import Executor

    board = load_board(board_name)
    elf_path = firmware_elf(elf, run_dir, board, build=action == "flash" and not dry_run, echo=echo)
    config = RunnerConfig(board=board, elf=elf_path,
                          executor=Executor(dry_run=dry_run, echo=echo), echo=echo)
    chosen = make_runner(config, runner, cli_values)
    echo(f"{action} {board.name} with runner {chosen.name()}" + (" (dry run)" if dry_run else ""))
    chosen.run(action)
    if not dry_run and chosen.name() != "qemu":
        echo(f"done: {action} with {chosen.name()}" + (f" ({config.elf})" if action == "flash" else ""))
    return {"board": board.name, "runner": chosen.name(), "action": action,
            "elf": str(config.elf) if config.elf else None, "dry_run": dry_run}


def describe_runners(board_name: str) -> list[dict]:
    """The board's runners (default first) with capabilities, board options and tool status."""
    from ...boards import load_board
    from ...core.locate import Locator, tool

    board = load_board(board_name)
    tools = {"stlink": "st-flash", "openocd": "openocd", "cubeprogrammer": "cubeprogrammer",
             "pyocd": "pyocd", "gdb": "gdb", "qemu": "qemu", "mass-storage": None}
    locator = Locator()
    rows = []
    for k, name in enumerate(board_runners(board)):
        key = tools[name]
        rows.append({"runner": name, "default": k == 0, **get_runner(name).capabilities().as_dict(),
                     "board_options": (board.runners or {}).get(name) or {},
                     "tool": key and tool(key).programs[0], "tool_path": key and locator.which(key),
                     "install": key and tool(key).install})
    return rows
