"""Compile generated C for this machine and run it: the host half of every bit-exactness check.

Strict flags (`-std=c99 -Wall -Wextra -Werror -Wdouble-promotion -O2`), an optional AddressSanitizer
+ UndefinedBehaviorSanitizer build, and a cache keyed by the sha256 of the compiler, the flags and
every source and header, so an unchanged build is not compiled twice. Every subprocess goes
through the project's one `Executor` (argv lists, never a shell), which tests replace with a
recording one.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
from pathlib import Path

from ..core.errors import ToolMissingError
from ..core.executor import Executor

HOST_CFLAGS = ("-std=c99", "-Wall", "-Wextra", "-Werror", "-Wdouble-promotion", "-O2")
SANITIZE_FLAGS = ("-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-g",
                  "-fno-omit-frame-pointer")


def find_cc() -> str:
    """The host C compiler: $CC, else cc/gcc/clang on PATH; ToolMissingError if none."""
    candidates = [os.environ["CC"]] if os.environ.get("CC") else ["cc", "gcc", "clang"]
    for name in candidates:
        path = shutil.which(name)
        if path:
            return path
    raise ToolMissingError(f"no host C compiler found (tried {', '.join(candidates)})",
                           "install one (`apt-get install gcc`) or set CC")


def cache_dir() -> Path:
    """Where host builds are cached: $ASC_TOOL_CACHE/hostbuild or ~/.cache/asc-tool/hostbuild."""
    base = os.environ.get("ASC_TOOL_CACHE") or Path.home() / ".cache" / "asc-tool"
    return Path(base) / "hostbuild"


def build(sources: list[Path], name: str, *, include_dirs: tuple = (), defines: tuple = (),
          sanitize: bool = False, cache: Path | None = None,
          executor: Executor | None = None) -> Path:
    """Compile ``sources`` into an executable named ``name-<hash>`` in the cache; return it.

    Headers next to the sources and in ``include_dirs`` are part of the hash.
    """
    cc = find_cc()
    flags = [*HOST_CFLAGS, *(SANITIZE_FLAGS if sanitize else ()), *(f"-D{d}" for d in defines)]
    dirs = sorted({str(Path(s).resolve().parent) for s in sources} | {str(Path(d)) for d in include_dirs})
    digest = _build_hash(cc, flags, sources, dirs)
    out_dir = Path(cache or cache_dir())
    exe = out_dir / f"{name}-{digest[:16]}"
    if exe.is_file():
        return exe
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = exe.with_name(f".{exe.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    argv = [cc, *flags, *(f"-I{d}" for d in dirs), *(str(s) for s in sources), "-o", str(tmp), "-lm"]
    (executor or Executor()).run(argv, timeout=300)
    os.replace(tmp, exe)
    return exe


def compile_object(source: Path, out: Path, *, include_dirs: tuple = (), defines: tuple = (),
                   executor: Executor | None = None) -> Path:
    """Compile one source into the object file ``out`` with the strict flags (no link)."""
    argv = [find_cc(), *HOST_CFLAGS, *(f"-D{d}" for d in defines), *(f"-I{d}" for d in include_dirs),
            "-c", str(source), "-o", str(out)]
    (executor or Executor()).run(argv, timeout=300)
    return Path(out)


def _build_hash(cc: str, flags: list[str], sources: list[Path], dirs: list[str]) -> str:
    h = hashlib.sha256()
    h.update(f"{cc}\0{' '.join(flags)}\0".encode())
    for s in sources:
        h.update(Path(s).name.encode() + b"\0" + Path(s).read_bytes())
    for d in dirs:
        for header in sorted(Path(d).glob("*.h")):
            h.update(header.name.encode() + b"\0" + header.read_bytes())
    return h.hexdigest()


def run_program(exe: Path, args: list[str] = (), data: bytes = b"", timeout: float = 600,
                executor: Executor | None = None) -> bytes:
    """Run ``exe`` with ``data`` on stdin; return its stdout bytes."""
    return (executor or Executor()).run([str(exe), *args], input=data, timeout=timeout).stdout
