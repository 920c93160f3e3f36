"""The `--backend stedgeai` path: ST Edge AI Core's code generator, when it is installed.

`locate` finds the `stedgeai` program (a folder from the `stedgeai_dir` option, which the config
file or ASC_TOOL_STEDGEAI_DIR set, else PATH); `generate` runs
`stedgeai generate --model M --target stm32l4 --name asc --output DIR [extra args]` through an
executor and reads the report it writes (asc_generate_report.txt) into the same keys as the
builtin backend. Nothing falls back silently: a missing tool is a ToolMissingError.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from ..core.errors import ToolFailedError, ToolMissingError

PROGRAM = "stedgeai"
WHERE_TO_GET = ("install ST Edge AI Core (https://www.st.com/en/development-tools/stedgeai-core.html, "
                "free with an ST account), then put stedgeai on PATH or set ASC_TOOL_STEDGEAI_DIR "
                "(or stedgeai_dir in asc-tool.yaml) to its folder; or use --backend builtin")
REPORT_FILE = "asc_generate_report.txt"
# Sub-folders of an ST Edge AI Core installation that hold the program.
_SUBDIRS = ("", "Utilities/linux", "Utilities/windows", "Utilities/mac", "bin")


def locate(stedgeai_dir: str | Path | None = None) -> Path:
    """Path of the stedgeai program; ToolMissingError saying where to get it."""
    if stedgeai_dir:
        for sub in _SUBDIRS:
            for name in (PROGRAM, PROGRAM + ".exe"):
                candidate = Path(stedgeai_dir) / sub / name
                if candidate.is_file():
                    return candidate
        raise ToolMissingError(f"{stedgeai_dir}: no {PROGRAM} program in this folder", WHERE_TO_GET)
    found = shutil.which(PROGRAM)
    if not found:
        raise ToolMissingError(f"{PROGRAM} (ST Edge AI Core) not found on PATH", WHERE_TO_GET)
    return Path(found)


def generate_argv(program: Path, model: Path, out_dir: Path, extra_args=()) -> list[str]:
    """The exact command line `generate` runs."""
    return [str(program), "generate", "--model", str(model), "--target", "stm32l4",
            "--name", "asc", "--output", str(out_dir), *[str(a) for a in extra_args]]


def generate(model: Path, out_dir: Path, *, stedgeai_dir=None, extra_args=(), executor=None) -> dict:
    """Run ST's generator into ``out_dir`` and return its figures (weights/activations/MACC)."""
    from ..core.executor import Executor

    program = locate(stedgeai_dir)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    proc = (executor or Executor()).run(generate_argv(program, Path(model), out_dir, extra_args),
                                        timeout=600)
    report_path = out_dir / REPORT_FILE
    text = (report_path.read_text(encoding="utf-8", errors="replace") if report_path.is_file()
            else proc.stdout.decode("utf-8", "replace"))
    report = parse_report(text, str(report_path))
    report["program"] = str(program)
    return report


_NUM = r"([\d,]+)"
_FIELDS = {
    "macc": re.compile(rf"^\s*macc\s*:\s*{_NUM}", re.M),
    "weights_bytes": re.compile(rf"^\s*weights \(ro\)\s*:\s*{_NUM}\s*B", re.M),
    "activations_bytes": re.compile(rf"^\s*activations \(rw\)\s*:\s*{_NUM}\s*B", re.M),
}
_OPTIONAL = {
    "ram_total_bytes": re.compile(rf"^\s*ram \(total\)\s*:\s*{_NUM}\s*B", re.M),
    "input_bytes": re.compile(rf"^\s*input 1/\d+\s*:.*?,\s*{_NUM}\s*Bytes", re.M),
    "output_bytes": re.compile(rf"^\s*output 1/\d+\s*:.*?,\s*{_NUM}\s*Bytes", re.M),
}
_VERSION = re.compile(r"^(?:ST Edge AI Core|Neural Network Tools for STM32).*?v([\d.]+)", re.M)


def parse_report(text: str, where: str = REPORT_FILE) -> dict:
    """Figures of an ST Edge AI Core generate report; ToolFailedError naming a missing field."""
    out: dict = {"backend": "stedgeai"}
    for key, pattern in _FIELDS.items():
        m = pattern.search(text)
        if not m:
            raise ToolFailedError(f"{where}: no '{key}' figure in the stedgeai report",
                                  "check the stedgeai version; the report format may have changed")
        out[key] = int(m.group(1).replace(",", ""))
    for key, pattern in _OPTIONAL.items():
        m = pattern.search(text)
        if m:
            out[key] = int(m.group(1).replace(",", ""))
    if "input_bytes" in out or "output_bytes" in out:
        out["io_bytes"] = out.get("input_bytes", 0) + out.get("output_bytes", 0)
    m = _VERSION.search(text)
    if m:
        out["stedgeai_version"] = m.group(1)
    return out
