"""``qemu``: start the emulated board (the board file's ``qemu.machine``) with the ELF and print
its serial URL.

The first serial port (USART1 on the B-L475E-IOT01A) is a TCP server (``socket://127.0.0.1:PORT`` for pyserial). Normally QEMU loads the ELF
and holds the CPU until a serial client connects, so no boot output is lost. With ``--halt`` the
board starts with an empty flash, halted, with a GDB server: flash it with the ``gdb`` runner
(``--gdb-server qemu``) the way a real board is flashed through a debug probe; the serial port
then does not wait (connect the monitor before or after flashing). QEMU always runs under a
deadline (``--timeout``, default one hour).
"""

from __future__ import annotations

import os
import signal
import subprocess

from ...core.errors import ToolMissingError
from .core import Capabilities, Runner

DEFAULT_TIMEOUT_S = 3600.0


class QemuRunner(Runner):
    NAME = "qemu"
    CAPS = Capabilities(commands=frozenset({"flash"}),
                        options=frozenset({"serial_port", "gdb_port", "halt", "timeout"}), hardware=False)

    @property
    def machine(self) -> str:
        return self.config.board.need("qemu").machine

    def serial_url(self) -> str:
        return f"socket://127.0.0.1:{self.options['serial_port']}"

    def command(self) -> list[str]:
        """The QEMU command line (the emulate stage's, or the halted variant)."""
        from ..emulate import qemu_command

        binary = self.tool("qemu")
        if not self.options["halt"]:
            return qemu_command(binary, self.elf(), self.machine, self.options["serial_port"])
        return [binary, "-M", self.machine, "-nographic", "-monitor", "none", "-icount", "shift=0",
                "-serial", f"tcp:127.0.0.1:{self.options['serial_port']},server=on,wait=off",
                "-gdb", f"tcp:127.0.0.1:{self.options['gdb_port']}", "-S"]

    def start(self) -> subprocess.Popen | None:
        """Start QEMU in the background (its own process group); None in a dry run."""
        argv = self.command()
        self._check_machine(argv[0])
        return self.config.executor.start(argv, stdin=subprocess.DEVNULL, start_new_session=True)

    def _check_machine(self, binary: str) -> None:
        """ToolMissingError when this QEMU lacks the board's machine (too old, or another build)."""
        from ..emulate import INSTALL_HINT

        if self.config.dry_run and self.config.locator.which("qemu") is None:
            return
        listing = self.config.executor.run([binary, "-M", "help"], timeout=30, probe=True).stdout or b""
        names = {line.split()[0] for line in listing.decode("utf-8", "replace").splitlines() if line.split()}
        if self.machine not in names:
            raise ToolMissingError(f"{binary} has no machine {self.machine!r}", INSTALL_HINT)

    def do_flash(self) -> None:
        proc = self.start()
        self.config.echo(self.banner())
        if proc is not None:
            wait_or_kill(proc, self.options["timeout"] or DEFAULT_TIMEOUT_S)

    def banner(self) -> str:
        url = self.serial_url()
        if self.options["halt"]:
            return (f"emulated {self.config.board.name} halted, flash empty: GDB server on "
                    f"localhost:{self.options['gdb_port']}, serial {url}\n"
                    f"  flash it:  asc-tool flash --runner gdb --gdb-server qemu "
                    f"--gdb-remote localhost:{self.options['gdb_port']} --elf ELF\n"
                    f"  monitor:   asc-tool monitor serial --port {url}")
        return (f"emulated {self.config.board.name} running {self.config.elf}: serial {url} "
                f"(the firmware starts when a client connects)\n"
                f"  monitor:   asc-tool monitor serial --port {url}")


def wait_or_kill(proc: subprocess.Popen, timeout_s: float) -> int:
    """Wait for QEMU; kill its process group after ``timeout_s``, on Ctrl-C or when this
    process is told to stop (SIGTERM, SIGHUP), so no emulator outlives the command."""
    previous = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        return proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        stop(proc)
        return proc.returncode
    except KeyboardInterrupt:
        stop(proc)
        raise
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def stop(proc: subprocess.Popen) -> None:
    """Kill a QEMU started by ``QemuRunner.start`` (its whole process group) and reap it."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait(timeout=10)
