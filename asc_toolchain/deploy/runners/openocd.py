"""``openocd``: the board script, then ``program`` with verify and reset, in one OpenOCD call."""

from __future__ import annotations

from ...core.errors import ConfigError
from .core import Capabilities, Runner


def tcl_word(text: str) -> str:
    """A Tcl word for a path: braces keep spaces and brackets literal."""
    if any(c in text for c in "{}\\"):
        raise ConfigError(f"{text}: OpenOCD cannot take a path with braces or backslashes",
                          "move the ELF to a plain path")
    return "{" + text + "}"


class OpenocdRunner(Runner):
    NAME = "openocd"
    CAPS = Capabilities(commands=frozenset({"flash", "erase", "reset"}),
                        options=frozenset({"dev_id", "erase", "verify", "reset", "speed",
                                           "openocd_config"}))
    # the ST-LINK adapter driver's words when no probe (or none this user may open) is on USB
    NO_PROBE = (r"Error: open failed", r"LIBUSB_ERROR_ACCESS", r"unable to open ST-Link device")

    def common(self) -> list[str]:
        config = self.options["openocd_config"]
        if not config:
            raise ConfigError(f"runner 'openocd' has no board script for {self.config.board.name}",
                              "set runners.openocd.openocd_config in the board file or give "
                              "--openocd-config board/NAME.cfg")
        argv = [self.tool("openocd"), "-f", config]
        if self.options["dev_id"]:
            argv += ["-c", f"adapter serial {self.options['dev_id']}"]
        if self.options["speed"]:
            argv += ["-c", f"adapter speed {self.options['speed']}"]
        return argv

    def commands(self, command: str = "flash") -> list[list[str]]:
        """The single OpenOCD command line for ``command``."""
        argv = self.common()
        if command == "reset":
            return [argv + ["-c", "init", "-c", "reset run", "-c", "shutdown"]]
        erase = ["-c", "init", "-c", "reset halt", "-c", "flash erase_sector 0 0 last"]
        if command == "erase":
            return [argv + erase + ["-c", "shutdown"]]
        words = ["program", tcl_word(str(self.elf()))]
        words += ["verify"] if self.options["verify"] else []
        words += ["reset"] if self.options["reset"] else []
        return [argv + (erase if self.options["erase"] else []) + ["-c", " ".join(words + ["exit"])]]
