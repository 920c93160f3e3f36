"""`asc-tool monitor serial`: the board's JSON lines as a live view, a log and a summary.

Bytes are split into lines here (not with pyserial's readline, which hands back half a line on a
timeout). Each line goes through ``resultline.parse_line``; anything else is garbage: skipped and
counted, never fatal. A partial line cut by a disconnect is dropped and counted as broken; the port
reconnects (``serialport.ReconnectingPort``) and every complete line after that is kept.
With ``feed`` the audio goes to the board through the host-feed protocol and its classifications
are compared with the host's (the generated C compiled for this machine) window by window.
"""

from __future__ import annotations

import csv
import json
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from ...core.errors import ConfigError
from .resultline import parse_line

MAX_LINE = 8192          # longer than any firmware line: a run of bytes without newline is garbage


@dataclass
class Stats:
    lines: int = 0            # complete, parsed lines
    results: int = 0
    garbage_lines: int = 0    # complete lines that are not firmware JSON
    broken_lines: int = 0     # partial lines lost to a disconnect, over-long runs of bytes
    reconnects: int = 0
    faults: int = 0


class LineSplitter:
    """Turns a byte stream into complete lines; keeps a partial line until its newline."""

    def __init__(self, stats: Stats):
        self.buffer = bytearray()
        self.stats = stats

    def push(self, data: bytes) -> list[bytes]:
        self.buffer += data
        *lines, rest = self.buffer.split(b"\n")
        self.buffer = bytearray(rest)
        if len(self.buffer) > MAX_LINE:
            self.stats.broken_lines += 1
            self.buffer.clear()
        return [bytes(line) for line in lines]

    def drop_partial(self) -> None:
        """The port went away: what we hold of the current line can never complete."""
        if self.buffer.strip():
            self.stats.broken_lines += 1
        self.buffer.clear()


def confidence(result: dict) -> float | None:
    """The winning class's probability (``probs``), else its dequantized int8 score."""
    if result.get("probs"):
        return float(max(result["probs"]))
    if result.get("scores"):
        return (max(result["scores"]) + 128) / 256.0
    return None


class LiveView:
    """Plain-text view on stderr: one line per result, boot and fault lines spelled out."""

    def __init__(self, echo: Callable[[str], None]):
        self.echo = echo

    def show(self, line: dict) -> None:
        kind = line["type"]
        if kind == "boot":
            self.echo(f"board {line['board']}  model {str(line['model'])[:12]}  "
                      f"classes {', '.join(line['classes'])}  fw {line.get('fw', '?')}")
        elif kind == "result":
            conf = confidence(line)
            self.echo(f"#{line['seq']:<5} {line['label']:<10} {'' if conf is None else f'{conf:5.2f}':>5}  "
                      f"smoothed {line.get('smoothed', '-'):<10} features {line.get('feat_cycles', 0):>10,}  "
                      f"network {line.get('net_cycles', 0):>10,} cycles")
        elif kind == "fault":
            self.echo("FAULT " + " ".join(f"{k}={v}" for k, v in line.items() if k != "type"))


class LogWriter:
    """Appends lines to ``path``: CSV (results) or JSON lines (every parsed line) by extension."""

    CSV_FIELDS = ("host_time", "seq", "src", "label", "confidence", "smoothed", "feat_cycles",
                  "net_cycles", "stack", "scores")
    JSON_SUFFIXES = (".jsonl", ".ndjson", ".json")

    def __init__(self, path: str | Path):
        self.path = Path(path)
        suffix = self.path.suffix.lower()
        if suffix not in (".csv", *self.JSON_SUFFIXES):
            raise ConfigError(f"{self.path}: unknown log format {suffix or '(no extension)'}",
                              "name the log .csv or .jsonl")
        self.is_csv = suffix == ".csv"
        new = not self.path.is_file() or self.path.stat().st_size == 0
        self.file = open(self.path, "a", encoding="utf-8", newline="")
        self.csv = csv.writer(self.file) if self.is_csv else None
        if self.csv and new:
            self.csv.writerow(self.CSV_FIELDS)

    def write(self, line: dict) -> None:
        now = round(time.time(), 3)
        if not self.is_csv:
            self.file.write(json.dumps({"host_time": now, **line}) + "\n")
        elif line["type"] == "result":
            conf = confidence(line)
            self.csv.writerow([now, line["seq"], line.get("src", ""), line["label"],
                               "" if conf is None else round(conf, 4), line.get("smoothed", ""),
                               line.get("feat_cycles", ""), line.get("net_cycles", ""), line.get("stack", ""),
                               " ".join(str(s) for s in line.get("scores", []))])
        self.file.flush()      # a Ctrl-C or a crash keeps every line written so far

    def close(self) -> None:
        self.file.close()


@dataclass
class Monitor:
    """Routes parsed lines to the view, the log and the collected results."""

    view: LiveView | None = None
    log: LogWriter | None = None
    stats: Stats = field(default_factory=Stats)
    boot: dict | None = None
    results: list[dict] = field(default_factory=list)
    labels: Counter = field(default_factory=Counter)

    def handle_raw(self, raw: bytes) -> dict | None:
        if not raw.strip():
            return None
        line = parse_line(raw)
        if line is None:
            self.stats.garbage_lines += 1
            return None
        self.handle(line)
        return line

    def handle(self, line: dict) -> None:
        self.stats.lines += 1
        if line["type"] == "boot":
            self.boot = line
        elif line["type"] == "result":
            self.stats.results += 1
            self.results.append(line)
            self.labels[line["label"]] += 1
        elif line["type"] == "fault":
            self.stats.faults += 1
        if self.view and line["type"] in ("boot", "result", "fault"):
            self.view.show(line)
        if self.log:
            self.log.write(line)

    def summary(self, port: str) -> dict:
        return {"port": port, **asdict(self.stats), "labels": dict(sorted(self.labels.items())),
                "boot": self.boot, "last": self.results[-1] if self.results else None}


def watch(port, monitor: Monitor, count: int | None = None, duration_s: float | None = None) -> None:
    """Read ``port`` (a ReconnectingPort) into ``monitor`` until ``count`` results or ``duration_s``."""
    splitter = LineSplitter(monitor.stats)
    port.on_disconnect = splitter.drop_partial
    deadline = None if duration_s is None else time.monotonic() + duration_s
    while count is None or monitor.stats.results < count:
        if deadline is not None and time.monotonic() > deadline:
            break
        for raw in splitter.push(port.read()):
            monitor.handle_raw(raw)
            if count is not None and monitor.stats.results >= count:
                break
        monitor.stats.reconnects = port.reconnects


# -- feeding audio and comparing with the host ---------------------------------------------------

def feed_clips(port, monitor: Monitor, clips: list[tuple[str, "object"]], ack_timeout_s: float = 5.0) -> list[dict]:
    """Stream each (name, int16 pcm) clip through the host feed; the board's results per clip.

    ``port`` is a plain pyserial port (write, readline). The board is first asked to repeat its
    boot line, so the summary names the model even when the boot happened before we connected.
    """
    from .hostfeed import INFO, FeedSession

    session = FeedSession(port, on_line=monitor.handle, ack_timeout_s=ack_timeout_s)
    session.send(INFO)
    done = []
    for name, pcm in clips:
        first = len(monitor.results)
        session.feed(pcm)
        results = [r for r in monitor.results[first:] if r.get("src", "feed") == "feed"]
        done.append({"name": name, "samples": int(len(pcm)), "results": results})
    monitor.stats.garbage_lines += session.stats.garbage_lines
    return done


# -- the command's library entry ---------------------------------------------------------------

def monitor_serial(port: str | None = None, baud: int | None = None, board: str = "b-l475e-iot01a",
                   audio: list[str] = (), run_dir: str | None = None, max_seconds: float | None = None,
                   log_path: str | None = None, count: int | None = None, duration_s: float | None = None,
                   give_up_s: float = 60.0, echo: Callable[[str], None] = print, live: bool = True) -> dict:
    """Watch (or, with ``audio``, feed and compare) the board on ``port``; return the summary.

    No ``port``: the one serial port with the board file's USB vendor id (the ST-LINK VCP).
    """
    from ...boards import load_board

    spec = load_board(board)
    baud = baud or int(spec.serial.get("baud", 115200))
    if port is None:
        from .port import find_port

        port, note = find_port(int(spec.serial.get("usb_vid", 0x0483)))
        echo(note)
    log = LogWriter(log_path) if log_path else None
    monitor = Monitor(view=LiveView(echo) if live else None, log=log)
    try:
        if audio:
            return _feed(port, baud, monitor, list(audio), run_dir, max_seconds, echo)
        _watch(port, baud, monitor, count, duration_s, give_up_s, echo)
        return monitor.summary(port)
    finally:
        if log:
            log.close()


def _watch(url, baud, monitor, count, duration_s, give_up_s, echo) -> None:
    from .port import ReconnectingPort

    port = ReconnectingPort(url, baud, give_up_s=give_up_s, echo=echo).open()
    echo(f"monitoring {url} at {baud} baud" + (f" for {count} classifications" if count else ""))
    try:
        watch(port, monitor, count, duration_s)
    finally:
        port.close()


def _feed(url, baud, monitor, audio, run_dir, max_seconds, echo) -> dict:
    from ..emulate import load_clips
    from .port import open_url

    rate = 16000
    if run_dir:
        from ...core.runs import Run

        rate = Run.open(run_dir).feature_params.sample_rate
    clips = load_clips(audio, rate, max_seconds)
    port = open_url(url, baud, timeout=1.0)
    try:
        board_clips = feed_clips(port, monitor, clips)
    finally:
        port.close()
    summary = monitor.summary(url)
    summary["feed"] = [{"name": c["name"], "samples": c["samples"], "windows": len(c["results"]),
                        "labels": [r["label"] for r in c["results"]],
                        "scores": [r["scores"] for r in c["results"]]} for c in board_clips]
    if run_dir:
        summary["host"] = host_agreement(run_dir, monitor.boot, summary["feed"], clips)
    else:
        echo("note: give --run RUN to compare the board's classifications with the host's")
    return summary


def host_agreement(run_dir, boot: dict | None, feed: list[dict], clips) -> dict:
    """Labels and int8 scores of the board vs the run's generated C on the host, window by window
    (the emulate stage's comparison: the host's per-hop windows taken every ``columns``)."""
    from ..emulate import compare_with_host
    from ...core.errors import RunError
    from ...core.runs import Run
    from ...codegen.validate import c_dir_of

    if boot is None:
        raise RunError("the board did not send its boot line, so its classes are unknown",
                       "is this the asc-tool firmware? reset the board and try again")
    report = {"boot": boot, "clips": [dict(c) for c in feed]}
    compare_with_host(report, clips, c_dir_of(Run.open(run_dir)), columns=int(boot.get("columns", 32)))
    return {**report["agreement"], "clips": [{"name": c["name"], "board_labels": c["labels"],
                                              "host_labels": c["host_labels"]} for c in report["clips"]]}
