"""``gdb``: load the ELF through any GDB server (st-util, OpenOCD, pyOCD, QEMU's ``-s``).

One batch GDB session: ``target extended-remote HOST:PORT``, ``load``, ``compare-sections``
(verify), the server's reset command, ``detach`` (the target runs on).
"""

from __future__ import annotations

from ...core.errors import ToolFailedError
from ...core.executor import quote
from .core import Capabilities, Runner

# How each server resets the target through GDB's `monitor` (the command it forwards).
RESET_COMMANDS = {
    "generic": "monitor reset",
    "openocd": "monitor reset run",
    "pyocd": "monitor reset",
    "st-util": "monitor reset",
    "qemu": "monitor system_reset",
}


def check_output(text: str, argv: list[str]) -> None:
    """GDB reports a verify mismatch as a warning and exits 0: turn it into an error."""
    if "MIS-MATCHED" in text or "do not match" in text:
        bad = [line.strip() for line in text.splitlines() if "MIS-MATCHED" in line]
        raise ToolFailedError(f"the flash does not match the ELF after loading: {quote(argv)}",
                              "; ".join(bad[:3]) or "erase the flash and load again")


class GdbRunner(Runner):
    NAME = "gdb"
    CAPS = Capabilities(commands=frozenset({"flash", "reset"}),
                        options=frozenset({"gdb_remote", "gdb_server", "verify", "reset", "timeout"}),
                        hardware=False)

    def session(self, steps: list[str], elf: str | None) -> list[str]:
        argv = [self.tool("gdb"), "-nx", "--batch", "-ex", "set pagination off", "-ex", "set confirm off",
                "-ex", f"target extended-remote {self.options['gdb_remote']}"]
        for step in steps:
            argv += ["-ex", step]
        return argv + ["-ex", "detach"] + ([elf] if elf else [])

    def commands(self, command: str = "flash") -> list[list[str]]:
        """The gdb command line for ``command``."""
        reset = RESET_COMMANDS[self.options["gdb_server"]]
        if command == "reset":
            return [self.session([reset], None)]
        steps = ["load"] + (["compare-sections"] if self.options["verify"] else [])
        steps += [reset] if self.options["reset"] else []
        return [self.session(steps, str(self.elf()))]

    def do_flash(self) -> None:
        for argv in self.commands("flash"):
            done = self.config.executor.run(argv, timeout=self.options["timeout"] or 300)
            check_output(((done.stdout or b"") + (done.stderr or b"")).decode("utf-8", "replace"), argv)

    def do_reset(self) -> None:
        self.execute(self.commands("reset"))
