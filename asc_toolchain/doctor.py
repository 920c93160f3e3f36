"""`asc-tool doctor`: which Python packages and external tools are present, and how to get the rest."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from importlib import metadata


@dataclass(frozen=True)
class Tool:
    name: str          # program looked up on PATH
    stage: str         # what needs it
    install: str       # how to get it on Debian 12
    version_args: tuple = ("--version",)


TOOLS = [
    Tool("cc", "validate (host C build)", "apt-get install gcc"),
    Tool("cmake", "build", "apt-get install cmake"),
    Tool("arm-none-eabi-gcc", "build", "apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi"),
    Tool("qemu-system-arm", "emulate", "apt-get install -t bookworm-backports qemu-system-arm (≥ 9.1)"),
    Tool("gdb-multiarch", "flash --runner gdb", "apt-get install gdb-multiarch"),
    Tool("st-flash", "flash --runner stlink", "apt-get install stlink-tools"),
    Tool("openocd", "flash --runner openocd", "apt-get install openocd"),
    Tool("pyocd", "flash --runner pyocd", "pip install pyocd"),
    Tool("STM32_Programmer_CLI", "flash --runner cubeprogrammer", "STM32CubeProgrammer from st.com"),
    Tool("stedgeai", "generate-c --backend stedgeai", "ST Edge AI Core from st.com (or set stedgeai_dir)"),
    Tool("trtexec", "engine (jetson-ser)", "TensorRT, part of JetPack on the Jetson"),
]


def check_packages() -> list[dict]:
    """Each declared dependency of asc-tool: required spec, installed version, ok."""
    from packaging.requirements import Requirement

    rows = []
    for text in metadata.requires("asc-tool") or []:
        req = Requirement(text)
        if req.marker and not req.marker.evaluate({"extra": ""}):
            continue
        try:
            version = metadata.version(req.name)
        except metadata.PackageNotFoundError:
            version = None
        ok = version is not None and req.specifier.contains(version, prereleases=True)
        rows.append({"name": req.name, "required": str(req.specifier) or "any",
                     "installed": version, "ok": ok, "install": f"pip install '{req}'"})
    return rows


def check_tools() -> list[dict]:
    rows = []
    for tool in TOOLS:
        path = shutil.which(tool.name)
        row = {"name": tool.name, "path": path, "version": _version(path, tool) if path else None,
               "needed_for": tool.stage, "install": tool.install, "ok": path is not None}
        if tool.name == "qemu-system-arm" and path:
            row["b_l475e_iot01a"] = qemu_has_machine(path)
        rows.append(row)
    return rows


def qemu_has_machine(path: str, machine: str = "b-l475e-iot01a") -> bool:
    out = _run([path, "-machine", "help"])
    return bool(out) and re.search(rf"^{re.escape(machine)}\s", out, re.M) is not None


def _version(path: str, tool: Tool) -> str | None:
    out = _run([path, *tool.version_args])
    if not out:
        return None
    match = re.search(r"\d+\.\d+(\.\d+)?", out)
    return match.group(0) if match else out.splitlines()[0][:60]


def _run(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout + done.stderr
