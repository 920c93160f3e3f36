"""The board firmware in QEMU: start it, feed audio over its USART, collect lines.

QEMU (≥ 9.1, the machine the board file's ``qemu.machine`` names) runs the exact ELF a user
flashes, with ``-icount shift=0`` so the firmware's SysTick follows executed instructions, and
the first serial port on a TCP server socket with ``wait=on`` (the CPU holds until we connect, so
no boot output is lost). QEMU always runs under a deadline: a watchdog kills it, and the process
group is killed on exit. Sizes and rates come from the firmware's boot line and the run, never
from constants here. Also holds the ``qemu`` evaluation engine (``qemu_engine``).
"""

from __future__ import annotations

import logging
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..boards import Board, get_board
from ..core.errors import ConfigError, RunError, SerialError, ToolMissingError
from .serial.hostfeed import FeedSession, to_int16
from .serial.resultline import parse_line, to_instructions

log = logging.getLogger(__name__)

QEMU = "qemu-system-arm"
MIN_VERSION = (9, 1)
ICOUNT = os.environ.get("ASC_TOOL_ICOUNT", "shift=0")
INSTALL_HINT = ("Debian 12: apt-get install -y -t bookworm-backports qemu-system-arm "
                "(the STM32 Discovery machines need QEMU ≥ 9.1)")


def find_qemu() -> str:
    """Path of qemu-system-arm; ToolMissingError naming the package when absent."""
    path = shutil.which(os.environ.get("ASC_TOOL_QEMU", QEMU))
    if not path:
        raise ToolMissingError(f"{QEMU} not found on PATH", INSTALL_HINT)
    return path


def qemu_info(binary: str | None, machine: str) -> dict:
    """Version and whether ``machine`` exists: {"path", "version", "machine", "has_machine"}."""
    binary = binary or find_qemu()
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30).stdout
    match = re.search(r"version (\d+)\.(\d+)(?:\.(\d+))?", out)
    version = tuple(int(g or 0) for g in match.groups()) if match else (0, 0, 0)
    machines = subprocess.run([binary, "-M", "help"], capture_output=True, text=True, timeout=30).stdout
    has = any(line.split()[:1] == [machine] for line in machines.splitlines())
    return {"path": binary, "version": ".".join(map(str, version)), "machine": machine,
            "has_machine": has, "ok": has and version[:2] >= MIN_VERSION}


def check_qemu(machine: str) -> str:
    """The QEMU binary, or ToolMissingError when it is too old or lacks ``machine``."""
    info = qemu_info(find_qemu(), machine)
    if not info["ok"]:
        raise ToolMissingError(f"{info['path']} (QEMU {info['version']}) has no machine {machine!r}",
                               INSTALL_HINT)
    return info["path"]


def qemu_command(binary: str, elf: Path, machine: str, port: int, gdb: bool = False) -> list[str]:
    """The QEMU argv: board, no display, instruction counting, USART1 on a TCP server."""
    argv = [binary, "-M", machine, "-nographic", "-monitor", "none", "-icount", ICOUNT,
            "-serial", f"tcp:127.0.0.1:{port},server=on,wait=on,nodelay=on", "-kernel", str(elf)]
    return argv + (["-s", "-S"] if gdb else [])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class QemuBoard:
    """Context manager: QEMU running ``elf`` as ``board``'s machine (a Board, a name or a board
    file; None: the default board) with its serial port open as ``self.port``.

    ``timeout_s`` bounds the whole session: after it, QEMU is killed and reads fail.
    """

    def __init__(self, elf: str | Path, board: Board | str | None = None, timeout_s: float = 600.0,
                 read_timeout_s: float = 5.0):
        self.elf = Path(elf)
        if not self.elf.is_file():
            raise ConfigError(f"{self.elf}: ELF file not found",
                              "build one with `asc-tool build --run RUN --board NAME`")
        if self.elf.read_bytes()[:4] != b"\x7fELF":
            raise ConfigError(f"{self.elf}: not an ELF file",
                              "pass the .elf from `asc-tool build` (not the .bin or .hex)")
        self.machine = get_board(board).need("qemu").machine
        self.timeout_s = timeout_s
        self.read_timeout_s = read_timeout_s
        self.proc: subprocess.Popen | None = None
        self.port = None
        self.timed_out = False
        self._watchdog: threading.Timer | None = None
        self._log = None

    def __enter__(self) -> "QemuBoard":
        binary = check_qemu(self.machine)
        for _ in range(3):                       # a port taken between probe and bind: retry
            port = free_port()
            argv = qemu_command(binary, self.elf, self.machine, port)
            log.info("running %s", shlex.join(argv))
            # QEMU's own messages go to a file: an unread pipe could fill and stall it
            self._log = tempfile.TemporaryFile()
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self._log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
            self._watchdog = threading.Timer(self.timeout_s, self._expire)
            self._watchdog.daemon = True
            self._watchdog.start()
            if self._connect(port):
                return self
            self._stop()
        raise RunError(f"QEMU did not open its serial port for {self.elf}", self._output_hint())

    def _connect(self, port: int) -> bool:
        import serial

        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                raw = serial.serial_for_url(f"socket://127.0.0.1:{port}", timeout=self.read_timeout_s)
                # small frames and short ack lines: without this, Nagle adds ~40 ms per frame
                raw._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self.port = _GuardedPort(raw, self)
                return True
            except serial.SerialException:
                time.sleep(0.05)
        return False

    def _expire(self) -> None:
        self.timed_out = True
        self._kill()

    def _kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def _stop(self) -> None:
        if self._watchdog:
            self._watchdog.cancel()
        if self.port is not None:
            try:
                self.port.close()
            except Exception:  # noqa: BLE001 - closing a dead socket may fail; QEMU is killed next
                pass
            self.port = None
        self._kill()
        if self.proc:
            self.proc.wait(timeout=10)

    def _output_hint(self) -> str:
        out = b""
        if self._log is not None:
            self._log.seek(0)
            out = self._log.read()
        text = out.decode("utf-8", "replace").strip().splitlines()
        own = [t for t in text if (t.startswith("qemu") or "error" in t.lower()) and "info:" not in t]
        said = (own or text or ["QEMU printed nothing"])[0]
        return f"QEMU said: {said[:200]} (is {self.elf.name} firmware for {self.machine}?)"

    def __exit__(self, *exc) -> None:
        self._stop()

    def read_line(self, timeout_s: float | None = None) -> dict | None:
        """The next parsed line (garbage skipped), or None when nothing arrives in time."""
        deadline = time.monotonic() + (timeout_s or self.read_timeout_s)
        while time.monotonic() < deadline:
            self.check_alive()
            raw = self.port.readline()
            line = parse_line(raw) if raw else None
            if line is not None:
                return line
        return None

    def boot_line(self, timeout_s: float = 20.0) -> dict:
        """Wait for the firmware's boot line; RunError if it does not come."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            line = self.read_line(max(0.1, deadline - time.monotonic()))
            if line and line["type"] == "boot":
                return line
            if line and line["type"] == "fault":
                raise RunError(f"{self.elf}: the firmware faulted at boot: {line}",
                               "rebuild it; run QEMU with -s -S and attach gdb to see where")
        raise RunError(f"{self.elf}: no boot line within {timeout_s:.0f} s",
                       "is this the asc-tool firmware for this board?")

    def check_alive(self) -> None:
        if self.timed_out:
            raise RunError(f"QEMU ran past its {self.timeout_s:.0f} s limit and was stopped",
                           "give a larger --timeout or feed less audio")
        if self.proc.poll() is not None:
            raise RunError(f"QEMU exited with status {self.proc.returncode}", self._output_hint())


class _GuardedPort:
    """The serial port, with a lost connection turned into RunError (QEMU died or timed out,
    with its last message) or SerialError, instead of pyserial's exception."""

    def __init__(self, raw, board: QemuBoard):
        self.raw = raw
        self.board = board

    def _guard(self, func, *args):
        import serial

        try:
            return func(*args)
        except (serial.SerialException, OSError) as exc:
            time.sleep(0.2)                      # let a dying QEMU exit, so its message is there
            self.board.check_alive()
            raise SerialError(f"serial connection to QEMU lost ({exc})",
                              "QEMU is still running; rerun with -v to see its command") from None

    def write(self, data: bytes) -> int:
        return self._guard(self.raw.write, data)

    def readline(self) -> bytes:
        return self._guard(self.raw.readline)

    def close(self) -> None:
        self.raw.close()


@dataclass
class ClipResult:
    name: str
    samples: int
    results: list[dict] = field(default_factory=list)
    faults: list[dict] = field(default_factory=list)


def feed_clip(board: QemuBoard, name: str, pcm: np.ndarray) -> ClipResult:
    """Stream one clip (int16) through the host feed; collect its result lines."""
    clip = ClipResult(name=name, samples=int(len(pcm)))

    def on_line(line: dict) -> None:
        if line["type"] == "result":
            clip.results.append(line)
        elif line["type"] == "fault":
            clip.faults.append(line)

    session = FeedSession(board.port, on_line=on_line, ack_timeout_s=board.read_timeout_s)
    try:
        session.feed(pcm)
    except SerialError:
        board.check_alive()
        if clip.faults:
            raise RunError(f"the firmware faulted on {name}: {clip.faults[0]}",
                           "rebuild it with debug info and attach gdb (-s -S)") from None
        raise
    return clip


def summarize(boot: dict, clips: list[ClipResult]) -> dict:
    """The JSON report of an emulation: boot line, per-clip labels, instruction counts."""
    results = [r for c in clips for r in c.results]
    net = [to_instructions(r["net_cycles"], boot) for r in results]
    hops_per_1024_ms = 1.024 * boot["sample_rate"] / boot["hop"]      # the firmware's own rate and hop
    feat = [to_instructions(r["feat_cycles"], boot) * hops_per_1024_ms / r["feat_hops"] for r in results
            if r.get("feat_hops")]
    return {
        "boot": boot,
        "clips": [{"name": c.name, "samples": c.samples, "windows": len(c.results),
                   "labels": [r["label"] for r in c.results],
                   "smoothed": [r["smoothed"] for r in c.results],
                   "scores": [r["scores"] for r in c.results]} for c in clips],
        "windows": len(results),
        "instructions_per_inference": int(np.median(net)) if net and None not in net else None,
        "feature_instructions_per_1024_ms": int(np.median(feat)) if feat else None,
        "stack_high_water_bytes": max((r.get("stack", 0) for r in results), default=None),
    }


def emulate(elf: str | Path, clips, board: Board | str | None = None, timeout_s: float = 600.0) -> dict:
    """Run ``elf`` in QEMU as ``board`` (None: the default board) and feed each (name, int16 pcm)
    clip; return ``summarize``'s report. ``clips`` may also be a function of the boot line that
    returns them, so audio can be loaded at the sample rate the firmware reports. Clips given as
    a generator are read while QEMU runs: their reading counts inside ``timeout_s``."""
    with QemuBoard(elf, board, timeout_s=timeout_s) as qemu:
        boot = qemu.boot_line()
        clips = clips(boot) if callable(clips) else clips
        done = []
        for name, pcm in clips:
            qemu.check_alive()
            done.append(feed_clip(qemu, name, pcm))
    return summarize(boot, done)


def compare_with_host(report: dict, clips: list[tuple[str, np.ndarray]], run) -> dict:
    """Add the host-compiled C engine's answers (the run's RUN/c) for the same int16 audio.

    The firmware classifies every ``columns`` new columns (its boot line says how many), so each
    clip gets ``host_labels`` and ``host_scores`` of the host's per-hop windows 0, columns,
    2 columns, …; the report gets ``agreement`` (labels and int8 scores equal). The network's
    input size comes from the run's feature parameters (n_mels × n_columns).
    """
    from ..codegen.validate import build_harness, c_dir_of, c_end_to_end

    boot = report["boot"]
    if "columns" not in boot:
        raise RunError("the firmware's boot line does not say how many columns a window has",
                       "rebuild the firmware with this asc-tool (`asc-tool build`)")
    columns, classes = int(boot["columns"]), boot["classes"]
    params = run.feature_params
    exe = build_harness(c_dir_of(run))
    same_labels = same_scores = total = 0
    for (_, pcm), clip in zip(clips, report["clips"]):
        host = c_end_to_end(exe, pcm.astype(np.float64) / 32768.0, params.n_mels * params.n_columns,
                            len(classes))[1][::columns]
        clip["host_scores"] = host.tolist()
        clip["host_labels"] = [classes[int(np.argmax(h))] for h in host]
        same_labels += sum(a == b for a, b in zip(clip["labels"], clip["host_labels"]))
        same_scores += sum(a == b for a, b in zip(clip["scores"], clip["host_scores"]))
        total += max(len(host), clip["windows"])
    report["agreement"] = {"windows": total, "labels_equal": same_labels, "scores_equal": same_scores,
                           "labels_equal_pct": round(100.0 * same_labels / max(1, total), 3)}
    return report


def load_clips(paths: list[str | Path], sample_rate: int, max_seconds: float | None = None,
               deadline: float | None = None, timeout_s: float | None = None):
    """Audio files as (name, int16 pcm) the way the host C engine converts them, one at a time as
    the caller takes them (a generator: only the clip being fed is held). With ``deadline`` (a
    time.monotonic() value) reading is part of the emulation's time: past it, RunError naming
    ``timeout_s``, checked between blocks of a few seconds of audio, so a long file cannot
    hold the command beyond its limit."""
    from ..data.audio_stream import audio_blocks

    for p in paths:
        def late(p=p):
            limit = f"{timeout_s:.0f} s " if timeout_s is not None else ""
            raise RunError(f"the emulation ran past its {limit}limit while reading {p}",
                           "give a larger --timeout or feed less audio (--max-seconds)")

        parts = [to_int16(b) for b in audio_blocks(p, sample_rate, max_seconds, deadline, late)]
        yield str(p), (np.concatenate(parts) if parts else np.zeros(0, np.int16))


def qemu_engine(run, items):
    """Evaluation engine `qemu`: the built firmware (RUN/build) in the emulated board, fed each recording."""
    from ..evaluate.metrics import Predictions
    from .build import built_board, default_elf

    elf = default_elf(run)
    index = {c: i for i, c in enumerate(run.class_names)}
    max_s = run.manifest.get("training", {}).get("max_seconds")
    clips = load_clips([it.path for it in items], run.feature_params.sample_rate, max_s)
    report = emulate(elf, clips, built_board(elf))             # each clip read as it is fed
    ys, preds, clip_ids, scores = [], [], [], []
    for k, (item, clip) in enumerate(zip(items, report["clips"])):
        ys += [index[item.label]] * clip["windows"]
        preds += [index[label] for label in clip["labels"]]
        clip_ids += [k] * clip["windows"]
        scores += [(np.asarray(s, np.float32) + 128.0) / 256.0 for s in clip["scores"]]
    return Predictions(np.asarray(ys, int), np.asarray(preds, int), np.asarray(clip_ids, int),
                       np.asarray(scores, np.float32).reshape(len(ys), -1))
