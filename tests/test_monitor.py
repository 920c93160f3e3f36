"""`asc-tool monitor serial`: garbage and broken lines, logs, port discovery, permission errors,
and a port that vanishes mid-stream and comes back (no complete line after the reconnection lost)."""

from __future__ import annotations

import csv
import errno
import json
import socket
import threading
import time

import pytest

from asc_toolchain.core.errors import SerialError
from asc_toolchain.deploy.serial.monitor import LineSplitter, Stats
from asc_toolchain.deploy.serial.port import PortInfo, explain, find_port

BOOT = {"type": "boot", "board": "b-l475e-iot01a", "model": "0123456789abcdef", "classes": ["indoor", "outdoor", "vehicle"],
        "fw": "asc-fw/test"}


def result(seq: int, label: str = "indoor") -> bytes:
    line = {"type": "result", "src": "mic", "seq": seq, "label": label, "class": 0, "scores": [90, -100, -118],
            "probs": [0.85, 0.11, 0.04], "smoothed": label, "feat_cycles": 812345, "feat_hops": 32,
            "net_cycles": 498000, "stack": 2100}
    return json.dumps(line).encode() + b"\r\n"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FakeBoard:
    """A TCP serial port (like QEMU's) serving one list of chunks per connection; between
    connections the port is gone (connection refused) for ``gap_s``."""

    def __init__(self, connections: list[list[bytes]], gap_s: float = 0.6, hold_last: bool = True):
        self.port = free_port()
        self.hold_last = hold_last
        self.connections = connections
        self.gap_s = gap_s
        self.listening = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()
        assert self.listening.wait(10)

    @property
    def url(self) -> str:
        return f"socket://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        for k, chunks in enumerate(self.connections):
            with socket.socket() as server:
                server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                server.bind(("127.0.0.1", self.port))
                server.listen(1)
                self.listening.set()
                server.settimeout(20)
                conn, _ = server.accept()
            with conn:
                for chunk in chunks:
                    conn.sendall(chunk)
                    time.sleep(0.002)
                if self.hold_last and k == len(self.connections) - 1:   # the last one stays up until the monitor leaves
                    conn.settimeout(20)
                    try:
                        while conn.recv(100):
                            pass
                    except OSError:
                        pass
            time.sleep(self.gap_s)


def test_garbage_and_broken_lines_are_skipped_and_counted(cli, tmp_path):
    chunks = [json.dumps(BOOT).encode() + b"\n", b"\x00\xff\xfe\x80 noise\n", result(0),
              b'{"type":"result","seq":1,"lab', b"\n",          # a line cut in half
              b"ready>\n", b'{"type":"unknown"}\n', b"\n", result(1)[:20], result(1)[20:], result(2, "vehicle")]
    board = FakeBoard([chunks])
    log = tmp_path / "log.csv"
    code, out, err = cli("monitor", "serial", "--port", board.url, "--count", 3, "--log", log, "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["results"] == 3 and summary["garbage_lines"] == 4 and summary["reconnects"] == 0
    assert summary["labels"] == {"indoor": 2, "vehicle": 1}
    assert summary["boot"]["model"] == BOOT["model"]
    rows = list(csv.DictReader(log.open()))
    assert [r["seq"] for r in rows] == ["0", "1", "2"] and rows[2]["label"] == "vehicle"
    assert rows[0]["confidence"] == "0.85" and rows[0]["net_cycles"] == "498000"
    assert "#0" in err and "smoothed indoor" in err and "board b-l475e-iot01a" in err


def test_port_vanishes_and_comes_back_without_losing_lines(cli, tmp_path):
    first = [result(k) for k in range(20)] + [b'{"type":"result","seq":20,"la']     # cut mid-line
    second = [result(k) for k in range(20, 40)]
    board = FakeBoard([first, second], gap_s=0.8)
    log = tmp_path / "log.jsonl"
    code, out, err = cli("monitor", "serial", "--port", board.url, "--count", 40, "--log", log, "--json",
                         "--reconnect-timeout", 20)
    assert code == 0, err
    summary = json.loads(out)
    assert summary["reconnects"] == 1 and summary["broken_lines"] == 1 and summary["garbage_lines"] == 0
    seqs = [json.loads(line)["seq"] for line in log.read_text().splitlines()]
    assert seqs == list(range(40))           # every line after the reconnection arrived, in order
    assert "port lost" in err and "reconnected" in err


def test_port_that_never_comes_back_is_an_error(cli):
    board = FakeBoard([[result(0)]], hold_last=False)
    code, out, err = cli("monitor", "serial", "--port", board.url, "--count", 2, "--reconnect-timeout", 0.5)
    assert code == 2
    assert f"{board.url}: the port vanished and did not come back within 0.5 s" in err and "cable" in err
    code, out, err = cli("monitor", "serial", "--port", f"socket://127.0.0.1:{free_port()}", "--count", 1)
    assert code == 2 and "socket://127.0.0.1:" in err and "cable, driver or permission" in err


def test_loop_url_and_jsonl_log(cli, tmp_path):
    log = tmp_path / "log.jsonl"
    code, out, err = cli("monitor", "serial", "--port", "loop://", "--duration", 0.3, "--log", log, "--json")
    assert code == 0, err
    assert json.loads(out)["results"] == 0 and log.read_text() == ""


def test_log_with_unknown_extension_is_refused(cli, tmp_path):
    code, _, err = cli("monitor", "serial", "--port", "loop://", "--count", 1, "--log", tmp_path / "log.txt")
    assert code == 2 and "log.txt: unknown log format .txt" in err and ".csv or .jsonl" in err


def test_missing_device_path_says_so(cli):
    code, _, err = cli("monitor", "serial", "--port", "/dev/ttyNOPE9", "--count", 1)
    assert code == 2 and "/dev/ttyNOPE9: no such port" in err


def test_permission_denied_explains_dialout_and_udev():
    import serial

    from asc_toolchain.boards import load_board

    exc = serial.SerialException(errno.EACCES, "could not open port /dev/ttyACM0: [Errno 13] Permission denied")
    err = explain(exc, "/dev/ttyACM0", load_board("b-l475e-iot01a").serial.usb_vid)
    assert isinstance(err, SerialError)
    text = str(err)
    assert text.startswith("/dev/ttyACM0: permission denied") and "dialout" in text and "udev" in text
    assert 'ATTRS{idVendor}=="0483"' in text


def test_port_discovery_by_usb_vendor_id():
    stlink = PortInfo("/dev/ttyACM0", 0x0483, 0x374B, "066DFF", "STM32 STLink")
    other = PortInfo("/dev/ttyUSB0", 0x0403, 0x6001, None, "FT232R")
    device, note = find_port(0x0483, [other, stlink])
    assert device == "/dev/ttyACM0" and "using /dev/ttyACM0" in note and "0483:374b" in note
    with pytest.raises(SerialError, match=r"no serial port with USB vendor id 0x0483.*/dev/ttyUSB0"):
        find_port(0x0483, [other])
    second = PortInfo("/dev/ttyACM1", 0x0483, 0x374B, "0670AA", "STM32 STLink")
    with pytest.raises(SerialError, match=r"2 ports with USB vendor id 0x0483: /dev/ttyACM0.*/dev/ttyACM1"):
        find_port(0x0483, [stlink, second])
    v3 = PortInfo("/dev/ttyACM2", 0x0483, 0x374E, "0035AA", "STLINK-V3")
    assert find_port(0x0483, [v3, stlink], pid=0x374B)[0] == "/dev/ttyACM0"


def test_line_splitter_keeps_partial_lines_until_newline():
    stats = Stats()
    split = LineSplitter(stats)
    assert split.push(b'{"a":') == [] and split.push(b"1}\n{") == [b'{"a":1}']
    split.drop_partial()
    assert stats.broken_lines == 1 and split.push(b"x" * 9000) == [] and stats.broken_lines == 2
