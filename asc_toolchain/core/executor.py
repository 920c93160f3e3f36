"""The one executor for every subprocess (and file copy) the flash stage runs.

Contract: commands are argv lists, never shell strings. Each one is logged quoted (``shlex.join``)
before it runs. With ``dry_run`` nothing runs: the quoted command is echoed (``would run: ...``)
and an empty, successful result comes back. A non-zero exit becomes ToolFailedError
``command exited with status N: <cmd>`` with the tail of the tool's output as the hint (the whole
output in its ``output`` attribute, so a runner can recognise "no debug probe"); a program
that is not there becomes ToolMissingError. Tests inject ``RecordingExecutor`` and assert the exact
command lines.
"""

from __future__ import annotations

import logging
import os
import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .errors import ToolFailedError, ToolMissingError

log = logging.getLogger(__name__)


def quote(argv: list) -> str:
    """The argv as one shell-quoted line (what the user would type)."""
    return shlex.join(str(a) for a in argv)


def tail(text: str, lines: int = 12) -> str:
    """The last lines of a tool's output, joined on one line."""
    return " | ".join(text.strip().splitlines()[-lines:]) or "no output"


@dataclass
class Executor:
    """Runs argv lists; ``dry_run`` only echoes them through ``echo`` (default: the log)."""

    dry_run: bool = False
    echo: Callable[[str], None] | None = None

    def _announce(self, what: str) -> None:
        if self.dry_run:
            (self.echo or log.warning)(f"would run: {what}")
        else:
            log.info("running %s", what)

    def run(self, argv: list, *, input: bytes | None = None, timeout: float | None = None,
            cwd: str | Path | None = None, capture: bool = True,
            probe: bool = False) -> subprocess.CompletedProcess:
        """Run to completion; ToolFailedError on a non-zero exit or a timeout.

        ``probe`` marks a read-only query (a version, a list of machines) that runs even in a
        dry run, so the dry run still reports a tool that cannot do the job.
        """
        argv = [str(a) for a in argv]
        cmd = quote(argv)
        if self.dry_run and not probe:
            self._announce(cmd)
            return subprocess.CompletedProcess(argv, 0, b"", b"")
        log.info("running %s", cmd)
        try:
            proc = subprocess.run(argv, input=input, timeout=timeout, cwd=cwd,
                                  stdout=subprocess.PIPE if capture else None,
                                  stderr=subprocess.PIPE if capture else None)
        except FileNotFoundError:
            raise ToolMissingError(f"{argv[0]}: program not found", "install it or check the path") from None
        except subprocess.TimeoutExpired:
            raise ToolFailedError(f"command timed out after {timeout} s: {cmd}",
                                  "the tool hung; run the command by hand to see why") from None
        if proc.returncode != 0:
            err, out = (proc.stderr or b"").decode("utf-8", "replace"), (proc.stdout or b"").decode("utf-8", "replace")
            failed = ToolFailedError(f"command exited with status {proc.returncode}: {cmd}", tail(err or out))
            failed.output = err + out         # the whole output, for callers that recognise a cause
            raise failed
        return proc

    def start(self, argv: list, **popen_kwargs) -> subprocess.Popen | None:
        """Start a long-running program (an emulator, a server); None in a dry run."""
        argv = [str(a) for a in argv]
        self._announce(quote(argv))
        if self.dry_run:
            return None
        try:
            return subprocess.Popen(argv, **popen_kwargs)
        except FileNotFoundError:
            raise ToolMissingError(f"{argv[0]}: program not found", "install it or check the path") from None

    def copy(self, src: Path, dst: Path) -> None:
        """Copy a file and flush it to the device (a drive that flashes what it receives)."""
        self._announce(f"copy {quote([src])} {quote([dst])}")
        if self.dry_run:
            return
        with open(src, "rb") as fin, open(dst, "wb") as fout:
            shutil.copyfileobj(fin, fout)
            fout.flush()
            os.fsync(fout.fileno())


@dataclass
class RecordingExecutor(Executor):
    """Records every command instead of running it (tests). ``outputs`` maps a program's
    basename to the stdout bytes it should "print"; copies are recorded as ["copy", src, dst]."""

    calls: list[list[str]] = field(default_factory=list)
    outputs: dict[str, bytes] = field(default_factory=dict)

    def run(self, argv, *, input=None, timeout=None, cwd=None, capture=True, probe=False):
        argv = [str(a) for a in argv]
        self.calls.append(argv)
        return subprocess.CompletedProcess(argv, 0, self.outputs.get(Path(argv[0]).name, b""), b"")

    def start(self, argv, **popen_kwargs):
        self.calls.append([str(a) for a in argv])
        return None

    def copy(self, src, dst):
        self.calls.append(["copy", str(src), str(dst)])
