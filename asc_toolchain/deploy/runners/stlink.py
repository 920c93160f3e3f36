"""``stlink``: st-flash (stlink-tools) writes the raw image at the flash base, then resets.

st-flash always reads the written flash back, so it has no verify option.
"""

from __future__ import annotations

from .core import Capabilities, Runner


class StlinkRunner(Runner):
    NAME = "stlink"
    CAPS = Capabilities(commands=frozenset({"flash", "erase", "reset"}),
                        options=frozenset({"dev_id", "erase", "reset", "speed"}), image="bin")
    NO_PROBE = (r"Couldn't find any ST-Link devices", r"LIBUSB_ERROR_ACCESS")

    def common(self) -> list[str]:
        argv = [self.tool("st-flash")]
        if self.options["dev_id"]:
            argv += ["--serial", self.options["dev_id"]]
        if self.options["speed"]:
            argv.append(f"--freq={self.options['speed']}k")
        return argv

    def commands(self, command: str = "flash") -> list[list[str]]:
        """The st-flash command lines for ``command``."""
        if command == "erase":
            return [self.common() + ["erase"]]
        if command == "reset":
            return [self.common() + ["reset"]]
        pre = [self.common() + ["erase"]] if self.options["erase"] else []
        write = self.common() + (["--reset"] if self.options["reset"] else [])
        return pre + [write + ["write", str(self.bin()), hex(self.config.board.flash.base)]]
