"""`asc-tool doctor`: which Python packages and external tools are present, and how to get the rest."""

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
            row["b_l475e_iot01a"] = qemu_has_machine(path)
        rows.append(row)
    return rows


def qemu_has_machine(path: str, machine: str = "b-l475e-iot01a") -> bool:
    out = _run([path, "-machine", "help"])
    return bool(out) and re.search(rf"^{re.escape(machine)}\s", out, re.M) is not None


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
