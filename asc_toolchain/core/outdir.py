"""Folders asc-tool writes (a run, a Jetson bundle, the synthetic set): checked first, written whole.

A ``Destination`` is checked when a command starts, before any work: the path is not a file, its
parent is (or can become) a folder on a writable device with room for about what will be
written, and a folder already there is one asc-tool made (it holds the marker file). The content
is then built in `NAME.tmp-<random>` beside it (with the user's umask, not mkdtemp's 0700) and
swapped in at the end, under an exclusive lock on the parent folder and only if the folder there
is still the one seen at the start: of two commands writing the same folder, the first to finish
wins and the other is told it lost. Any failure, Ctrl-C or SIGTERM removes the temporary folder
and leaves an older folder untouched; a full disk becomes one line naming the device.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from .errors import AccessError, AscError, RunError, no_space

NEARLY_FULL_BYTES = 64 * 1024
NEVER_OVERWRITE = "choose another --out; asc-tool never overwrites folders it did not make"


class Destination:
    """An output folder ``final`` that must hold ``marker`` when asc-tool made it (see module doc)."""

    def __init__(self, final: str | Path, marker: str, kind: str, error: type = RunError,
                 needed: int = 0):
        self.final, self.marker, self.kind, self.error = _absolute(final, error), marker, kind, error
        self.check(needed)
        self.seen = _identity(self.final, marker)

    def check(self, needed: int = 0) -> None:
        """Raise (error / AccessError / SpaceError) unless ``final`` can be written with ``needed`` B."""
        final = self.final
        if final.is_symlink() and not final.exists():
            raise self.error(f"{final}: is a broken symbolic link", NEVER_OVERWRITE)
        if final.exists() and not final.is_dir():
            raise self.error(f"{final}: is a file, not {self.kind}", NEVER_OVERWRITE)
        if final.is_dir() and not (final / self.marker).is_file():
            raise self.error(f"{final}: exists and is not {self.kind}", NEVER_OVERWRITE)
        base = _nearest_existing(final.parent)
        if not base.is_dir():
            raise self.error(f"{base}: is a file, so {final} cannot be made in it",
                             "choose an --out whose parent is a folder")
        if not os.access(base, os.W_OK | os.X_OK):
            why = "read-only file system" if _read_only(base) else "permission denied"
            raise AccessError(f"{base}: not writable ({why}), so {final} cannot be made",
                              "choose an --out on a device and folder this user may write")
        if needed and shutil.disk_usage(base).free < needed:
            raise no_space(base, needed)

    @contextlib.contextmanager
    def writing(self, needed: int = 0):
        """Yield a fresh temporary folder; on success it replaces ``final`` (see module doc)."""
        self.check(needed)
        self.final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f"{self.final.name}.tmp-", dir=self.final.parent))
        try:
            os.chmod(tmp, 0o777 & ~current_umask())
            yield tmp
            old = self._swap_in(tmp)
        except BaseException as exc:
            full = _is_no_space(exc) or (isinstance(exc, Exception) and not isinstance(exc, AscError)
                                         and _nearly_full(tmp))
            written = _bytes_in(tmp) if full else 0
            shutil.rmtree(tmp, ignore_errors=True)
            if full:
                raise no_space(self.final.parent, needed, more_than=written) from None
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)

    def _swap_in(self, tmp: Path) -> Path | None:
        """Put ``tmp`` at ``final`` if nobody replaced ``final`` meanwhile; returns the folder that
        now holds the older content (to be removed), or None."""
        with _locked(self.final.parent):
            now = _identity(self.final, self.marker)
            if now != self.seen:
                raise self.error(f"{self.final}: changed while this command ran (another command wrote "
                                 "or removed it); this command's result was discarded",
                                 "let one command at a time write a folder, or use another --out")
            if now is None:
                os.rename(tmp, self.final)
                return None
            _exchange(tmp, self.final)
            return tmp


def atomic_folder(final: str | Path, marker: str, kind: str, error: type = RunError):
    """Write ``final`` atomically (a Destination checked now, written by the with-block)."""
    return Destination(final, marker, kind, error).writing()


def _absolute(final: str | Path, error: type) -> Path:
    try:
        return Path(final).resolve()
    except (OSError, RuntimeError):
        raise error(f"{final}: a symbolic link loop", "choose another --out") from None


def _nearest_existing(path: Path) -> Path:
    while not os.path.lexists(path) and path != path.parent:
        path = path.parent
    return path


def _read_only(path: Path) -> bool:
    return bool(os.statvfs(path).f_flag & os.ST_RDONLY)


def _identity(final: Path, marker: str) -> tuple | None:
    """What is at ``final`` now: None, or (folder inode, sha256 of its marker file)."""
    try:
        ino = final.stat().st_ino
        digest = hashlib.sha256((final / marker).read_bytes()).hexdigest()
    except FileNotFoundError:
        return None if not final.exists() else (final.stat().st_ino, None)
    return ino, digest


def _is_no_space(exc: BaseException | None) -> bool:
    """True when ``exc`` (or what caused it) is a full device or quota."""
    for _ in range(16):
        if exc is None:
            return False
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _bytes_in(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _nearly_full(folder: Path) -> bool:
    """True when ``folder``'s device has (almost) no room left: some writers (libsndfile) report
    a full disk only as "System error", without its errno."""
    try:
        st = os.statvfs(folder)
    except OSError:
        return False
    return st.f_bavail * st.f_frsize < NEARLY_FULL_BYTES


@contextlib.contextmanager
def _locked(folder: Path):
    """An exclusive flock on ``folder``: swaps into one parent folder happen one at a time."""
    import fcntl

    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _exchange(a: Path, b: Path) -> None:
    """Swap two folders in one step (renameat2 RENAME_EXCHANGE), so ``b`` never goes missing
    for a reader; where the file system cannot, two renames under the caller's lock."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is not None:
        at_fdcwd, rename_exchange = -100, 2
        if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
            return
        if ctypes.get_errno() not in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
            raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()), str(b))
    aside = a.with_name(a.name + "-old")
    os.rename(b, aside)
    os.rename(a, b)
    os.rename(aside, a)


def current_umask() -> int:
    """The process umask, read without changing it (no window where other threads see 0)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
