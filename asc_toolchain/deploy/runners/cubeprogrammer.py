"""``cubeprogrammer``: STM32_Programmer_CLI over SWD: download, verify, start."""

from __future__ import annotations

from .core import Capabilities, Runner


class CubeProgrammerRunner(Runner):
    NAME = "cubeprogrammer"
    CAPS = Capabilities(commands=frozenset({"flash", "erase", "reset"}),
                        options=frozenset({"dev_id", "erase", "verify", "reset", "speed", "cube_port"}))
    NO_PROBE = (r"No debug probe detected", r"No STLink")   # from ST's manual: not installable here

    def connect(self) -> list[str]:
        argv = [self.tool("cubeprogrammer"), "-c", f"port={self.options['cube_port']}"]
        if self.options["dev_id"]:
            argv.append(f"sn={self.options['dev_id']}")
        if self.options["speed"]:
            argv.append(f"freq={self.options['speed']}")
        return argv

    def commands(self, command: str = "flash") -> list[list[str]]:
        """The single STM32_Programmer_CLI command line for ``command``."""
        argv = self.connect()
        if command == "erase":
            return [argv + ["-e", "all"]]
        if command == "reset":
            return [argv + ["-rst"]]
        argv += ["-e", "all"] if self.options["erase"] else []
        argv += ["-w", str(self.elf())]
        argv += ["-v"] if self.options["verify"] else []
        argv += ["-s", hex(self.config.board.flash.base)] if self.options["reset"] else []
        return [argv]
