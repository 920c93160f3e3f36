"""The runner base class: one subclass per flash tool, options declared once, checked in one place.

A runner is built with ``Runner.create(config, args)``: ``config`` says what to flash where (board,
ELF, executor, locator), ``args`` are option values given explicitly (board file or command line).
The base class rejects an option the runner does not list in its capabilities, so no runner
silently ignores a flag. ``run(command)`` runs one of the runner's commands (flash, erase, reset).

Option precedence, lowest first: the declaration's default < the board file's ``runners.<name>``
block < the environment (``ASC_TOOL_<OPTION>``) < the command line (see ``resolve_options``).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import click

from ...boards import Board
from ...core.config import RUNNER_OPTIONS, Option
from ...core.errors import ConfigError, ToolFailedError
from ...core.executor import Executor
from ...core.locate import Locator, tool as locate_tool


# Every runner option is declared once, in core/config.py (RUNNER_OPTIONS, beside the other
# options, so `asc-tool config show` lists them): the board file keys, the environment variables
# and the `asc-tool flash` flags all come from that list.
OPTIONS = RUNNER_OPTIONS


def option(name: str) -> Option:
    return OPTIONS[name]


@dataclass(frozen=True)
class Capabilities:
    """What a runner can do, as data: its commands, its options, the image it writes."""

    commands: frozenset = frozenset({"flash"})
    options: frozenset = frozenset()
    image: str = "elf"                # "elf", "bin" or "none"
    hardware: bool = True             # needs a physical board

    def as_dict(self) -> dict:
        return {"commands": sorted(self.commands), "options": sorted(self.options),
                "image": self.image, "hardware": self.hardware}


@dataclass
class RunnerConfig:
    """What to flash and how to run things; ``echo`` prints human lines (stderr)."""

    board: Board
    elf: Path | None = None
    executor: Executor = field(default_factory=Executor)
    locator: Locator = field(default_factory=Locator)
    echo: Callable[[str], None] = print

    @property
    def dry_run(self) -> bool:
        return self.executor.dry_run


class Runner:
    """Base class. Subclasses set NAME and CAPS and implement ``do_<command>``, or, for a tool
    that does each command in one go, ``commands(command) -> [argv, ...]``."""

    NAME = ""
    CAPS = Capabilities()
    NO_PROBE: tuple[str, ...] = ()    # patterns in the tool's output that mean "no debug probe found"

    def __init__(self, config: RunnerConfig, options: dict[str, Any]):
        self.config = config
        self.options = options

    @classmethod
    def name(cls) -> str:
        return cls.NAME

    @classmethod
    def capabilities(cls) -> Capabilities:
        return cls.CAPS

    @classmethod
    def create(cls, config: RunnerConfig, args: dict[str, Any]) -> "Runner":
        """A runner with ``args`` (explicit values, None = unset) over the defaults.

        ConfigError when an explicit option is one this runner does not support.
        """
        given = {k: v for k, v in args.items() if v is not None}
        unsupported = sorted(k for k in given if k not in cls.CAPS.options)
        if unsupported:
            flags = ", ".join(OPTIONS[k].flag if k in OPTIONS else k for k in unsupported)
            known = ", ".join(OPTIONS[k].flag for k in sorted(cls.CAPS.options)) or "none"
            raise ConfigError(f"runner {cls.NAME!r} does not support {flags}",
                              f"its options are: {known}; or pick another --runner")
        values = {k: OPTIONS[k].default for k in cls.CAPS.options}
        values.update(given)
        return cls(config, values)

    def run(self, command: str = "flash") -> None:
        """Run ``command``; ConfigError when this runner cannot do it."""
        if command not in self.CAPS.commands:
            raise ConfigError(f"runner {self.NAME!r} cannot {command}",
                              f"it can: {', '.join(sorted(self.CAPS.commands))}")
        handler = getattr(self, "do_" + command.replace("-", "_"), None)
        if handler is not None:
            handler()
        else:                       # a one-shot tool: its command lines say everything
            self.execute(self.commands(command))

    # -- helpers for subclasses -------------------------------------------------------------

    def tool(self, key: str) -> str:
        """The tool's path; ToolMissingError naming the package (a dry run notes it instead)."""
        found = self.config.locator.which(key)
        if found:
            return found
        if self.config.dry_run:
            t = locate_tool(key)
            self.config.echo(f"note: {t.programs[0]} is not installed ({t.install})")
            return t.programs[0]
        return self.config.locator.find(key)

    def elf(self) -> Path:
        elf = self.config.elf
        if elf is None:
            raise ConfigError(f"runner {self.NAME!r} needs a firmware image",
                              "give --elf FILE or --run RUN (built with `asc-tool build`)")
        if not elf.is_file() and not self.config.dry_run:
            raise ConfigError(f"{elf}: ELF file not found",
                              "build it with `asc-tool build --run RUN --board NAME`")
        return elf

    def bin(self) -> Path:
        """The raw image beside the ELF; made with objcopy when it is missing or older."""
        elf = self.elf()
        path = elf.with_suffix(".bin")
        if path.is_file() and (not elf.is_file() or path.stat().st_mtime >= elf.stat().st_mtime):
            return path
        self.config.executor.run([self.tool("objcopy"), "-O", "binary", elf, path], timeout=60)
        return path

    def execute(self, argv_list: list[list]) -> None:
        """Run each command; a failure whose output says no probe was found becomes the
        ``no_probe`` error (what to plug in, which udev rule), any other the tool's own."""
        for argv in argv_list:
            try:
                self.config.executor.run(argv, capture=True, timeout=self.options.get("timeout") or 600)
            except ToolFailedError as exc:
                raise self.no_probe(argv, getattr(exc, "output", "")) or exc

    def no_probe(self, argv: list, output: str) -> ToolFailedError | None:
        """ToolFailedError telling the user to connect the board or fix USB access, when
        ``output`` matches one of NO_PROBE; None otherwise."""
        found = next((m for m in (re.search(p, output) for p in self.NO_PROBE) if m), None)
        if found is None:
            return None
        line = next(line for line in output.splitlines() if found.group(0) in line)
        said = line[line.index(found.group(0)):].strip()          # without the tool's time stamp
        serial = self.options.get("dev_id")
        return ToolFailedError(f"no debug probe found: {Path(str(argv[0])).name} said {said!r}",
                               probe_hint(self.config.board, serial))


def probe_hint(board: Board, serial: str | None = None) -> str:
    """How to make the board's debug probe visible: plug it in, then USB access (udev)."""
    usb = board.serial
    ids = f"{usb.usb_vid:04x}:{usb.usb_pid:04x}" if usb and usb.usb_vid and usb.usb_pid else "0483:374b"
    which = f" and check that {serial} (--dev-id) is its serial number" if serial else ""
    return (f"connect the board's ST-LINK USB port with a data cable{which}; if it is connected, check "
            f"the udev rule that lets you open USB {ids} (the stlink-tools and openocd packages install "
            f"theirs in /lib/udev/rules.d; otherwise add SUBSYSTEM==\"usb\", ATTR{{idVendor}}==\"{ids[:4]}\", "
            f"MODE=\"0660\", GROUP=\"plugdev\" to /etc/udev/rules.d/99-stlink.rules, run sudo udevadm "
            f"control --reload && sudo udevadm trigger, and re-plug the board)")


def resolve_options(runner_cls: type[Runner], board: Board, cli_values: dict[str, Any],
                    env: dict | None = None) -> tuple[dict[str, Any], dict[str, str]]:
    """Explicit option values for ``runner_cls`` and where each came from.

    Board file < environment < command line; environment values for options the runner does
    not have are ignored (they may be meant for another runner), board and command-line ones are
    passed on so that ``create`` rejects them.
    """
    env = os.environ if env is None else env
    block = board_runner_args(board, runner_cls.NAME)
    values, sources = {}, {}
    for name, value in block.items():
        values[name], sources[name] = _convert(name, value, f"{board.path}: runners.{runner_cls.NAME}"), "board file"
    for name in runner_cls.CAPS.options:
        if OPTIONS[name].env in env:
            values[name], sources[name] = _convert(name, env[OPTIONS[name].env], OPTIONS[name].env), "environment"
    for name, value in cli_values.items():
        if value is not None:
            values[name], sources[name] = value, "command line"
    return values, sources


def board_runner_args(board: Board, name: str) -> dict[str, Any]:
    """The board file's ``runners.<name>`` block; ConfigError for unknown keys."""
    block = (board.runners or {}).get(name) or {}
    if not isinstance(block, dict):
        raise ConfigError(f"{board.path}: runners.{name} must be a mapping of option: value",
                          f"options: {', '.join(sorted(OPTIONS))}")
    unknown = sorted(k for k in block if k not in OPTIONS)
    if unknown:
        raise ConfigError(f"{board.path}: runners.{name} has unknown option(s) {', '.join(unknown)}",
                          f"known: {', '.join(sorted(OPTIONS))}")
    return dict(block)


def _convert(name: str, value, where: str):
    opt = OPTIONS[name]
    try:
        if isinstance(opt.type, click.Choice):
            return opt.type.convert(str(value), None, None)
        return opt.type(value)
    except (ValueError, TypeError, click.BadParameter) as exc:
        raise ConfigError(f"{where}: bad value {value!r} for {name} ({exc})", opt.help) from None
