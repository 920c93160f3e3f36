"""Serial ports for the monitor: open any pyserial URL, find the board's virtual COM port by the
board file's USB ids, explain failures, and a port that reconnects with back-off when it disappears.

URLs are whatever ``serial.serial_for_url`` takes: device paths (/dev/ttyACM0, COM5),
``socket://host:port`` (the emulated board), ``rfc2217://host:port``, ``loop://``.
"""

from __future__ import annotations

import errno
import logging
import time
from dataclasses import dataclass, field
from typing import Callable

from ...core.errors import SerialError

log = logging.getLogger(__name__)

DIALOUT_HINT = ("on Linux add yourself to the dialout group (sudo usermod -aG dialout $USER, then log "
                "out and in) or add a udev rule")
UDEV_RULE = ('/etc/udev/rules.d/99-asc-board.rules with SUBSYSTEM=="tty", ATTRS{{idVendor}}=="{vid:04x}", '
             'MODE="0660", GROUP="dialout" and run: sudo udevadm control --reload && sudo udevadm trigger')
CABLE_HINT = "likely a cable, driver or permission problem: re-plug the board and check `asc-tool monitor serial --list`"


def permission_hint(vid: int | None = None) -> str:
    """How to get access to a serial device; the udev rule names the board's USB vendor id."""
    if vid is None:
        return DIALOUT_HINT + " matching the board's USB vendor id"
    return f"{DIALOUT_HINT}, e.g. {UDEV_RULE.format(vid=vid)}"


def explain(exc: Exception, url: str, vid: int | None = None) -> SerialError:
    """A SerialError for a failed open/read of ``url`` with the likely cause and fix (``vid``:
    the board's USB vendor id, for the udev rule)."""
    code = getattr(exc, "errno", None)
    text = str(exc)
    if code in (errno.EACCES, errno.EPERM) or "Permission denied" in text:
        return SerialError(f"{url}: permission denied", permission_hint(vid))
    if code == errno.EBUSY or "busy" in text.lower():
        return SerialError(f"{url}: the port is busy", "close the other program holding it "
                           "(a serial terminal, another monitor, ModemManager)")
    if code == errno.ENOENT or "No such file" in text:
        return SerialError(f"{url}: no such port", f"{candidates_hint()}; {CABLE_HINT}")
    return SerialError(f"{url}: {text}", CABLE_HINT)


def open_url(url: str, baud: int | None = None, timeout: float = 0.2, vid: int | None = None):
    """An open pyserial port for ``url`` at ``baud`` (None: pyserial's, for sockets where it means
    nothing); SerialError explaining why it cannot be opened (``vid``: the board's USB vendor id)."""
    import serial

    speed = {} if baud is None else {"baudrate": baud}
    try:
        port = serial.serial_for_url(url, timeout=timeout, write_timeout=10, do_not_open=True, **speed)
        # pyserial empties the input buffer as part of open(): for a socket that throws away the
        # lines the board sent right after the connection was made (a reconnect, QEMU's boot line).
        port.reset_input_buffer = lambda: None
        port.open()
        return port
    except (serial.SerialException, OSError, ValueError) as exc:
        raise explain(exc, url, vid) from None


@dataclass(frozen=True)
class PortInfo:
    device: str
    vid: int | None
    pid: int | None
    serial_number: str | None
    description: str

    def describe(self) -> str:
        ids = f"USB {self.vid:04x}:{self.pid:04x}" if self.vid is not None and self.pid is not None else "no USB id"
        sn = f", serial {self.serial_number}" if self.serial_number else ""
        return f"{self.device} ({self.description}, {ids}{sn})"


def list_ports() -> list[PortInfo]:
    """Every serial port the system reports."""
    from serial.tools import list_ports as lp

    return [PortInfo(p.device, p.vid, p.pid, p.serial_number, p.description or "")
            for p in sorted(lp.comports(), key=lambda p: p.device)]


def candidates_hint(ports: list[PortInfo] | None = None) -> str:
    ports = list_ports() if ports is None else ports
    if not ports:
        return "no serial ports found"
    return "ports found: " + "; ".join(p.describe() for p in ports)


def find_port(vid: int, ports: list[PortInfo] | None = None, pid: int | None = None) -> tuple[str, str]:
    """The one port with USB vendor id ``vid`` (and product id ``pid`` when given) and a line
    saying which was chosen.

    SerialError listing the candidates when there is none or more than one.
    """
    ports = list_ports() if ports is None else ports
    matching = [p for p in ports if p.vid == vid and (pid is None or p.pid == pid)]
    ids = f"0x{vid:04x}" + ("" if pid is None else f" and product id 0x{pid:04x}")
    if len(matching) == 1:
        return matching[0].device, f"using {matching[0].describe()}: USB vendor {ids}"
    if not matching:
        raise SerialError(f"no serial port with USB vendor id {ids} (the board's debug-probe virtual COM port)",
                          f"{candidates_hint(ports)}; plug the board's debug USB port in or give --port")
    raise SerialError(f"{len(matching)} ports with USB vendor id 0x{vid:04x}: "
                      + "; ".join(p.describe() for p in matching), "pick one with --port")


@dataclass
class ReconnectingPort:
    """A port that reopens itself, with exponential back-off, when reads or writes fail.

    ``read()`` returns the bytes available (b"" on timeout). When the port vanishes it calls
    ``on_disconnect`` (the reader drops its partial line), then retries every 0.1 s doubling to
    ``max_backoff_s`` until ``give_up_s`` have passed without success (SerialError).
    """

    url: str
    baud: int
    timeout: float = 0.2
    give_up_s: float = 60.0
    max_backoff_s: float = 2.0
    opener: Callable = open_url
    on_disconnect: Callable[[], None] = lambda: None
    echo: Callable[[str], None] = lambda text: None
    reconnects: int = 0
    port: object = field(default=None, repr=False)

    def open(self) -> "ReconnectingPort":
        self.port = self.opener(self.url, self.baud, self.timeout)
        return self

    def read(self) -> bytes:
        try:
            waiting = self.port.in_waiting
            return self.port.read(waiting or 1)
        except Exception as exc:  # noqa: BLE001 - pyserial raises SerialException, OSError, or socket errors
            self._lost(exc)
            return b""

    def write(self, data: bytes) -> None:
        try:
            self.port.write(data)
        except Exception as exc:  # noqa: BLE001 - as in read()
            self._lost(exc)
            self.port.write(data)

    def _lost(self, exc: Exception) -> None:
        self.echo(f"{self.url}: port lost ({exc}); reconnecting")
        self.close()
        self.on_disconnect()
        self.port = self._reopen(exc)
        self.reconnects += 1
        self.echo(f"{self.url}: reconnected")

    def _reopen(self, first: Exception):
        deadline = time.monotonic() + self.give_up_s
        delay, last = 0.1, first
        while time.monotonic() < deadline:
            time.sleep(delay)
            try:
                return self.opener(self.url, self.baud, self.timeout)
            except SerialError as exc:
                last = exc
                if "permission denied" in exc.message:
                    raise
            delay = min(delay * 2, self.max_backoff_s)
        raise SerialError(f"{self.url}: the port vanished and did not come back within {self.give_up_s:g} s "
                          f"({last})", CABLE_HINT)

    def close(self) -> None:
        if self.port is not None:
            try:
                self.port.close()
            except Exception:  # noqa: BLE001 - closing a vanished port may fail; we reopen anyway
                pass
            self.port = None
