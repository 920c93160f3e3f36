"""`asc-tool doctor`: which Python packages and external tools are present, and how to get the rest.

For QEMU it also checks the machine of every built-in board file that names one (``qemu.machine``).
"""

from __future__ import annotations

import re
import subprocess
from importlib import metadata
from pathlib import Path


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
    """Every external tool the stages run (asc_toolchain.core.locate.TOOLS): found where, which version."""
    from .locate import TOOLS, Locator

    locator, rows = Locator(), []
    for tool in TOOLS.values():
        path = locator.which(tool.key)
        row = {"name": Path(path).name if path else tool.programs[0], "path": path,
               "version": _version(path) if path else None, "needed_for": tool.needed_for,
               "install": tool.install, "ok": path is not None}
        if tool.key == "qemu" and path:
            row["machines"] = board_machines(path)
        rows.append(row)
    return rows


def board_machines(path: str) -> dict[str, dict]:
    """For each built-in board with a QEMU machine: {board: {"machine", "present"}}."""
    from ..boards import known_boards, load_board

    listing = _run([path, "-machine", "help"])
    machines = {}
    for name in known_boards():
        qemu = load_board(name).qemu
        if qemu is not None:
            present = re.search(rf"^{re.escape(qemu.machine)}\s", listing, re.M) is not None
            machines[name] = {"machine": qemu.machine, "present": present}
    return machines


def _version(path: str) -> str | None:
    out = _run([path, "--version"])
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
