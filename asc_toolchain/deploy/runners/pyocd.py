"""``pyocd``: ``pyocd load`` for the board's target (stm32l475xg), then reset.

Every call carries ``-W`` (--no-wait): without it pyOCD waits forever for a probe to be plugged
in, so a missing board would hang until the runner's timeout instead of saying so.
"""

from __future__ import annotations

from ...core.errors import ConfigError
from .core import Capabilities, Runner


class PyocdRunner(Runner):
    NAME = "pyocd"
    CAPS = Capabilities(commands=frozenset({"flash", "erase", "reset"}),
                        options=frozenset({"dev_id", "erase", "reset", "speed", "pyocd_target"}))
    NO_PROBE = (r"No connected debug probe",)

    def common(self, sub: str) -> list[str]:
        target = self.options["pyocd_target"]
        if not target:
            raise ConfigError(f"runner 'pyocd' has no target for {self.config.board.name}",
                              "set runners.pyocd.pyocd_target in the board file or give --pyocd-target")
        argv = [self.tool("pyocd"), sub, "-W", "-t", target]
        if self.options["dev_id"]:
            argv += ["-u", self.options["dev_id"]]
        if self.options["speed"]:
            argv += ["-f", f"{self.options['speed']}k"]
        return argv

    def commands(self, command: str = "flash") -> list[list[str]]:
        """The pyocd command line for ``command``."""
        if command == "erase":
            return [self.common("erase") + ["--chip"]]
        if command == "reset":
            return [self.common("reset")]
        argv = self.common("load")
        argv += ["-e", "chip"] if self.options["erase"] else []
        argv += [] if self.options["reset"] else ["--no-reset"]
        return [argv + [str(self.elf())]]
