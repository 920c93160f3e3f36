"""Finding the external tools the flash stage runs (a small locator, separate from the runners).

Search order for a tool: the environment variable ``ASC_TOOL_<KEY>`` (a path to the program),
then each program name on PATH, then the folder of the running Python (a tool pip-installed in
the same virtual environment, e.g. pyocd), then the tool's usual install folders (STM32CubeProgrammer
installs outside PATH). A missing tool raises ToolMissingError naming the Debian or PyPI package.
Tests use ``FixedLocator`` instead of patching PATH.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from .errors import ToolMissingError


@dataclass(frozen=True)
class Tool:
    key: str                      # what runners ask for
    programs: tuple[str, ...]     # program names, preferred first
    install: str                  # how to get it (Debian package / PyPI / vendor)
    dirs: tuple[str, ...] = ()    # usual install folders outside PATH
    needed_for: str = ""          # the stage that runs it (shown by `asc-tool doctor`)

    @property
    def env(self) -> str:
        return "ASC_TOOL_" + self.key.upper().replace("-", "_")


_CUBE_DIRS = ("~/STMicroelectronics/STM32Cube/STM32CubeProgrammer/bin",
              "/opt/st/stm32cubeprogrammer/bin",
              "/usr/local/STMicroelectronics/STM32Cube/STM32CubeProgrammer/bin",
              "/Applications/STMicroelectronics/STM32Cube/STM32CubeProgrammer/"
              "STM32CubeProgrammer.app/Contents/MacOs/bin")

TOOLS = {t.key: t for t in [
    Tool("cc", ("cc", "gcc", "clang"), "Debian/Ubuntu: apt-get install gcc", needed_for="validate (host C build)"),
    Tool("cmake", ("cmake",), "Debian/Ubuntu: apt-get install cmake make", needed_for="build"),
    Tool("arm-none-eabi-gcc", ("arm-none-eabi-gcc",),
         "Debian/Ubuntu: apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi", needed_for="build"),
    Tool("objcopy", ("arm-none-eabi-objcopy",), "Debian/Ubuntu: apt-get install binutils-arm-none-eabi",
         needed_for="flash (.bin images)"),
    Tool("qemu", ("qemu-system-arm",),
         "Debian 12: apt-get install -y -t bookworm-backports qemu-system-arm (the STM32 Discovery "
         "machines need QEMU ≥ 9.1)", needed_for="emulate, flash --runner qemu"),
    Tool("gdb", ("gdb-multiarch", "arm-none-eabi-gdb"),
         "Debian/Ubuntu: apt-get install gdb-multiarch (or the Arm GNU toolchain's arm-none-eabi-gdb)",
         needed_for="flash --runner gdb"),
    Tool("st-flash", ("st-flash",), "Debian/Ubuntu: apt-get install stlink-tools",
         needed_for="flash --runner stlink"),
    Tool("openocd", ("openocd",), "Debian/Ubuntu: apt-get install openocd", needed_for="flash --runner openocd"),
    Tool("pyocd", ("pyocd",), "PyPI: pip install pyocd (or asc-tool's extra: pip install 'asc-tool[flash]')",
         needed_for="flash --runner pyocd"),
    Tool("cubeprogrammer", ("STM32_Programmer_CLI",),
         "install STM32CubeProgrammer from st.com (not packaged), or set ASC_TOOL_CUBEPROGRAMMER "
         "to its bin/STM32_Programmer_CLI", _CUBE_DIRS, needed_for="flash --runner cubeprogrammer"),
    Tool("stedgeai", ("stedgeai",), "ST Edge AI Core from st.com (or set stedgeai_dir)",
         needed_for="generate-c --backend stedgeai"),
    Tool("trtexec", ("trtexec",), "TensorRT, part of JetPack on the Jetson", needed_for="engine (jetson-ser)"),
]}


def tool(key: str) -> Tool:
    """The declaration of tool ``key`` (KeyError for a programming mistake)."""
    return TOOLS[key]


class Locator:
    """Finds tools by the search order above; ``env`` and ``path`` default to the process's."""

    def __init__(self, env: dict | None = None, path: str | None = None):
        self.env = os.environ if env is None else env
        self.path = path

    def which(self, key: str) -> str | None:
        """The program's path, or None when it is nowhere to be found."""
        t = tool(key)
        explicit = self.env.get(t.env)
        if explicit:
            return explicit if os.access(explicit, os.X_OK) else None
        for name in t.programs:
            found = shutil.which(name, path=self.path)
            if found:
                return found
        folders = [str(Path(sys.executable).parent)] + [os.path.expanduser(d) for d in t.dirs]
        for name in t.programs:
            found = shutil.which(name, path=os.pathsep.join(folders))
            if found:
                return found
        return None

    def find(self, key: str) -> str:
        """The program's path; ToolMissingError naming the package when it is missing."""
        found = self.which(key)
        if found:
            return found
        t = tool(key)
        if self.env.get(t.env):
            raise ToolMissingError(f"{t.env}={self.env[t.env]} is not an executable program",
                                   f"fix the variable or unset it; {t.install}")
        raise ToolMissingError(f"{' or '.join(t.programs)} not found on PATH", t.install)



class FixedLocator(Locator):
    """A locator answering from a {key: path} table (tests); other keys are missing."""

    def __init__(self, paths: dict[str, str]):
        super().__init__(env={})
        self.paths = dict(paths)

    def which(self, key: str) -> str | None:
        tool(key)
        return self.paths.get(key)


def shared_data() -> Path:
    """The shared recordings beside a source checkout (../shared/data); ASC_TOOL_SHARED_DATA overrides."""
    default = Path(__file__).resolve().parents[3] / "shared" / "data"
    return Path(os.environ.get("ASC_TOOL_SHARED_DATA") or default)
