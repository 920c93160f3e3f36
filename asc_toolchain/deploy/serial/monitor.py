"""`asc-tool monitor serial`: the board's JSON lines as a live view, a log and a summary.

Bytes are split into lines here (not with pyserial's readline, which hands back half a line on a
timeout). Each line goes through ``resultline.parse_line`` (the result-line schema); anything else
is garbage: skipped and counted, never fatal. A partial line cut by a disconnect is dropped and
counted as broken; the port reconnects (``port.ReconnectingPort``) and every complete line after
that is kept. A port gone for good ends the watch with ``PortLost``, which carries the summary of
what was received (the log already holds every line: it is flushed line by line). The baud and
the USB ids that find the port come from the board file.
With ``feed`` the audio goes to the board through the host-feed protocol, at the sample rate its
boot line names, and its classifications are compared with the host's (the generated C compiled
for this machine) window by window.
"""

from __future__ import annotations

import csv
import functools
import json
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from ...core.errors import ConfigError, SerialError
from .resultline import parse_line

MAX_LINE = 8192          # longer than any firmware line: a run of bytes without newline is garbage


class PortLost(SerialError):
    """The port failed for good (or the board stopped answering the feed); ``summary`` holds
    what was received until then."""

    def __init__(self, error: SerialError, summary: dict):
        super().__init__(error.message, error.hint)
        self.summary = summary


@dataclass
class Stats:
    lines: int = 0            # complete, parsed lines
    results: int = 0
    garbage_lines: int = 0    # complete lines that are not firmware JSON
    broken_lines: int = 0     # partial lines lost to a disconnect, over-long runs of bytes
    reconnects: int = 0
    faults: int = 0

    def received(self) -> bool:
        """Whether anything at all came from the board."""
        return bool(self.lines or self.garbage_lines or self.broken_lines or self.reconnects)


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
        self.last_dma: tuple[float, int] | None = None    # (host time, dma_irqs) of the last mic result

    def show(self, line: dict) -> None:
        kind = line["type"]
        if kind == "boot":
            self.echo(f"board {line['board']}  model {str(line['model'])[:12]}  "
                      f"classes {', '.join(line['classes'])}  fw {line.get('fw', '?')}"
                      + (f"  sysclk {line['sysclk_hz'] / 1e6:g} MHz  lse {line.get('lse', '?')}"
                         if "sysclk_hz" in line else ""))
        elif kind == "result":
            conf = confidence(line)
            self.echo(f"#{line['seq']:<5} {line['label']:<10} {'' if conf is None else f'{conf:5.2f}':>5}  "
                      f"smoothed {line.get('smoothed', '-'):<10} features {line.get('feat_cycles', 0):>10,}  "
                      f"network {line.get('net_cycles', 0):>10,} cycles" + self.mic_status(line))
        elif kind == "fault":
            self.echo("FAULT " + " ".join(f"{k}={v}" for k, v in line.items() if k != "type"))

    def mic_status(self, line: dict) -> str:
        """Peak mel band, and for microphone results the DMA interrupt rate (host clock) and the
        error counters since boot (firmware/README.md, bring-up)."""
        text = f"  band {line['peak_band']}" if "peak_band" in line else ""
        if "dma_irqs" not in line:
            return text
        now, rate = time.monotonic(), "-"
        if self.last_dma and now > self.last_dma[0]:
            rate = f"{(line['dma_irqs'] - self.last_dma[1]) / (now - self.last_dma[0]):.1f}"
        self.last_dma = (now, line["dma_irqs"])
        return (f"{text}  dma {rate}/s  dropped {line.get('dropped', 0)}  overruns {line.get('overruns', 0)}"
                f"  dma_errors {line.get('dma_errors', 0)}")


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

def feed_clips(session, monitor: Monitor, clips: list[tuple[str, "object"]]) -> list[dict]:
    """Stream each (name, int16 pcm) clip through ``session`` (a hostfeed.FeedSession whose
    lines go to ``monitor.handle``); the board's results per clip."""
    done = []
    for name, pcm in clips:
        first = len(monitor.results)
        session.feed(pcm)
        results = [r for r in monitor.results[first:] if r.get("src", "feed") == "feed"]
        done.append({"name": name, "samples": int(len(pcm)), "results": results})
    return done


def feed_rate(boot: dict | None, run) -> int:
    """The sample rate the firmware expects: its boot line's, else the run's."""
    from ...core.errors import RunError

    if boot and boot.get("sample_rate"):
        return int(boot["sample_rate"])
    if run is not None:
        return run.feature_params.sample_rate
    raise RunError("the board did not send its boot line, so the sample rate it expects is unknown",
                   "is this the asc-tool firmware? reset the board and try again, or give --run RUN")


# -- the command's library entry ---------------------------------------------------------------

def monitor_serial(port: str | None = None, baud: int | None = None, board=None,
                   audio: list[str] = (), run_dir: str | None = None, max_seconds: float | None = None,
                   log_path: str | None = None, count: int | None = None, duration_s: float | None = None,
                   give_up_s: float = 60.0, echo: Callable[[str], None] = print, live: bool = True) -> dict:
    """Watch (or, with ``audio``, feed and compare) ``board`` (a Board, a name or a board file;
    None: the default board) on ``port``; return the summary.

    No ``port``: the one serial port with the board file's USB ids (the debug probe's virtual COM
    port); no ``baud``: the board file's.
    """
    from ...boards import get_board
    from .port import find_port, open_url

    defaults = get_board(board).need("serial")
    baud = baud or defaults.baud
    if port is None:
        port, note = find_port(defaults.usb_vid, pid=defaults.usb_pid)
        echo(note)
    opener = functools.partial(open_url, vid=defaults.usb_vid)
    log = LogWriter(log_path) if log_path else None
    monitor = Monitor(view=LiveView(echo) if live else None, log=log)
    try:
        if audio:
            return _feed(port, baud, opener, monitor, list(audio), run_dir, max_seconds, echo)
        _watch(port, baud, opener, monitor, count, duration_s, give_up_s, echo)
        return monitor.summary(port)
    except SerialError as exc:
        if isinstance(exc, PortLost) or not monitor.stats.received():
            raise                   # nothing received: the one line is all there is to say
        raise PortLost(exc, monitor.summary(port)) from None
    finally:
        if log:
            log.close()


def _watch(url, baud, opener, monitor, count, duration_s, give_up_s, echo) -> None:
    from .port import ReconnectingPort

    port = ReconnectingPort(url, baud, give_up_s=give_up_s, echo=echo, opener=opener).open()
    echo(f"monitoring {url} at {baud} baud" + (f" for {count} classifications" if count else ""))
    try:
        watch(port, monitor, count, duration_s)
    finally:
        port.close()


def _feed(url, baud, opener, monitor, audio, run_dir, max_seconds, echo) -> dict:
    """Ask the board for its boot line (classes, sample rate, columns), load the audio at that
    rate, feed it, and compare with the host when a run is given."""
    from ..emulate import load_clips
    from .hostfeed import INFO, FeedSession

    run = None
    if run_dir:
        from ...asc.run import open_asc_run

        run = open_asc_run(run_dir)
    port = opener(url, baud, 1.0)
    try:
        session = FeedSession(port, on_line=monitor.handle)
        session.send(INFO)                   # the board repeats its boot line, even after a late connect
        clips = load_clips(audio, feed_rate(monitor.boot, run), max_seconds)
        board_clips = feed_clips(session, monitor, clips)
        monitor.stats.garbage_lines += session.stats.garbage_lines
    finally:
        port.close()
    summary = monitor.summary(url)
    summary["feed"] = [{"name": c["name"], "samples": c["samples"], "windows": len(c["results"]),
                        "labels": [r["label"] for r in c["results"]],
                        "scores": [r["scores"] for r in c["results"]]} for c in board_clips]
    if run is not None:
        # the clips were streamed while fed: read them again for the host (memory stays flat)
        summary["host"] = host_agreement(run, monitor.boot, summary["feed"],
                                         load_clips(audio, feed_rate(monitor.boot, run), max_seconds))
    else:
        echo("note: give --run RUN to compare the board's classifications with the host's")
    return summary


def host_agreement(run, boot: dict | None, feed: list[dict], clips) -> dict:
    """Labels and int8 scores of the board vs the run's generated C on the host, window by window
    (the emulate stage's comparison: the host's per-hop windows taken every boot-line ``columns``)."""
    from ..emulate import compare_with_host
    from ...core.errors import RunError

    if boot is None:
        raise RunError("the board did not send its boot line, so its classes are unknown",
                       "is this the asc-tool firmware? reset the board and try again")
    report = {"boot": boot, "clips": [dict(c) for c in feed]}
    compare_with_host(report, clips, run)
    return {**report["agreement"], "clips": [{"name": c["name"], "board_labels": c["labels"],
                                              "host_labels": c["host_labels"]} for c in report["clips"]]}
