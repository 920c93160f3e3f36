"""The errors a user can cause. One place (cli.main) prints them: one line, exit 2.

Each error carries what went wrong (with the file or value and the numbers) and a hint
saying how to fix it. No colour codes here: only the printer colours. ``from_os_error`` turns
the operating-system errors a user can cause (a full disk, a file they may not read or write)
into the same one line; ``Terminated`` is SIGTERM, cleaned up like Ctrl-C.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path


class AscError(Exception):
    """An expected problem caused by input, environment or budget; exit code 2."""

    exit_code = 2

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} — {self.hint}" if self.hint else self.message


class DataError(AscError):
    """A dataset, meta file or audio file that cannot be used as given."""


class ConfigError(AscError):
    """A config file, option value or board file that is wrong."""


class RunError(AscError):
    """A run directory that is missing, damaged, incomplete or from another target."""


class ToolMissingError(AscError):
    """An external tool or optional Python package that is not installed."""


class BudgetError(AscError):
    """A model or firmware that does not fit the board's memory."""


class ToolFailedError(AscError):
    """An external command that ran and failed."""


class SerialError(AscError):
    """A serial port that cannot be opened or vanished (cable, driver or permission)."""


class SpaceError(AscError):
    """A device without room for what a command writes."""


class AccessError(AscError):
    """A file or folder this user may not read or write (permission, read-only file system)."""


class Terminated(KeyboardInterrupt):
    """SIGTERM: unwinds like Ctrl-C (temporary folders are removed) and exits 143."""

    exit_code = 143


def device_of(path: str | Path) -> str:
    """'tmpfs at /mnt/x': the file system holding ``path`` (its nearest existing folder)."""
    p = Path(os.path.abspath(path))
    while not p.exists() and p != p.parent:
        p = p.parent
    while not os.path.ismount(p) and p != p.parent:
        p = p.parent
    try:
        with open("/proc/self/mounts", encoding="utf-8") as f:
            sources = {line.split()[1]: line.split()[0] for line in f if len(line.split()) > 1}
    except OSError:
        sources = {}
    return f"{sources[str(p)]} at {p}" if str(p) in sources else str(p)


def no_space(path: str | Path, needed: int | None = None, more_than: int = 0) -> SpaceError:
    """The one line for a full device: where, about how much is needed (or, when that is not
    known, more than ``more_than`` bytes already written), how much is free."""
    free = _free_bytes(path)
    need = (f"needed about {max(needed, more_than):,} B, " if needed else
            f"needed more than {more_than:,} B, " if more_than else "")
    return SpaceError(f"no space left on {device_of(path)} ({need}{free:,} B free)",
                      "free some space there or choose an --out on another device")


def _free_bytes(path: str | Path) -> int:
    import shutil

    p = Path(os.path.abspath(path))
    while not p.exists() and p != p.parent:
        p = p.parent
    return shutil.disk_usage(p).free


def from_os_error(exc: OSError) -> AscError | None:
    """The user-facing error for an OSError a user can cause (full disk, permission, read-only
    file system), or None for one that is a bug to report."""
    where = exc.filename or "."
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return no_space(where)
    if exc.errno in (errno.EACCES, errno.EPERM):
        return AccessError(f"{where}: permission denied",
                          "make it readable/writable for this user (chmod / chown), or choose another path")
    if exc.errno == errno.EROFS:
        return AccessError(f"{where}: read-only file system", "choose a path on a writable device")
    paths = {errno.EEXIST: ("exists and is not a folder", "give a folder path, or move the file away"),
             errno.ENOTDIR: ("a part of the path is a file, not a folder", "choose a path under a folder"),
             errno.EISDIR: ("a folder, where a file is expected", "give a file path inside it"),
             errno.ELOOP: ("a symbolic link loop", "point the link at a real file or folder"),
             errno.ENAMETOOLONG: ("the name is too long for the file system", "choose a shorter path")}
    if exc.errno in paths:
        return ConfigError(f"{where}: {paths[exc.errno][0]}", paths[exc.errno][1])
    return None
