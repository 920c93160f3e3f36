"""The monitor never dies: every line a board sends passes one schema (resultline.parse_line);
odd JSON is skipped and counted, `--json` stays valid JSON, and a port gone for good still
leaves what was received in the log and the summary (then one line, exit 2)."""

from __future__ import annotations

import json

import pytest
from test_monitor import BOOT, FakeBoard, result

from asc_toolchain.deploy.serial.resultline import parse_line

GOOD = {"type": "result", "src": "mic", "seq": 5, "label": "indoor", "class": 0, "scores": [90, -100, -118],
        "probs": [0.854, 0.098, 0.027], "smoothed": "indoor", "peak_band": 2, "feat_cycles": 109211,
        "feat_hops": 32, "net_cycles": 361982, "stack": 704, "dropped": 0, "dma_irqs": 48, "dma_errors": 0,
        "overruns": 0}
BOOT_LINE = {"type": "boot", "board": "b-l475e-iot01a", "fw": "asc-fw/0.1.0", "model": "ab" * 32,
             "classes": ["indoor", "outdoor", "vehicle"], "sysclk_hz": 80000000, "lse": 1, "counter": "dwt",
             "calib_instr": 2000, "calib_cycles": 2000, "sample_rate": 16000, "hop": 512, "columns": 32,
             "max_block": 1024, "stack_size": 4096, "mic_hz": 2000000, "mic_fosr": 125, "mic_sinc": 4,
             "init_error": 0}


def with_(**fields) -> bytes:
    return json.dumps({**GOOD, **fields}, ensure_ascii=False).encode()


def nested(depth: int) -> bytes:
    return b'{"type":"ack","seq":1,"x":' + b"[" * depth + b"]" * depth + b"}"


# Lines that must be skipped: each once crashed the monitor or got through as a "result".
ODD = {
    "label is a list": with_(label=["indoor"]),
    "label is a number": with_(label=1),
    "seq is a list": with_(seq=[1]),
    "seq is a bool": with_(seq=True),
    "seq is a float": with_(seq=1.5),
    "seq over uint32": with_(seq=2**32),
    "huge integer": b'{"type":"result","seq":' + b"9" * 1500 + b',"label":"a","scores":[1]}',
    "probs is a string": with_(probs="abc"),
    "probs NaN": with_(probs=[0.5, 0.5, 0.0]).replace(b"0.5, 0.5", b"NaN, 0.5"),
    "probs Infinity": with_(probs=[0.5, 0.5, 0.0]).replace(b"0.5, 0.5", b"Infinity, 0.5"),
    "number overflowing to inf": with_(probs=[0.5, 0.5, 0.0]).replace(b"0.5, 0.5", b"1e999, 0.5"),
    "NaN in an unknown field": with_()[:-1] + b', "future": NaN}',
    "probs longer than scores": with_(probs=[0.5, 0.25, 0.125, 0.125]),
    "class outside scores": with_(**{"class": 3}),
    "score outside int8": with_(scores=[300, 0, 0]),
    "scores empty": with_(scores=[], probs=[]),
    "src unknown": with_(src="radio"),
    "mic counter negative": with_(dma_irqs=-1),
    "nested object in an unknown field": with_(extra={"a": 1}),
    "nested 4,000 deep (over-long)": nested(4000),
    "nested 1,000 deep (RecursionError)": nested(1000),
    "over-long line": with_(label="x" * 3000),
    "not UTF-8": with_(label="ind\u00e9or").replace("é".encode(), b"\xe9"),
    "classes of mixed types": json.dumps({**BOOT_LINE, "classes": ["indoor", 2]}).encode(),
    "boot without classes": json.dumps({**BOOT_LINE, "classes": []}).encode(),
    "sysclk as a string": json.dumps({**BOOT_LINE, "sysclk_hz": "80 MHz"}).encode(),
    "fault pc not hex": b'{"type":"fault","pc":"main+4"}',
    "feed state unknown": b'{"type":"feed","state":"maybe","samples":0,"windows":0}',
    "type is a list": b'{"type":["result"],"seq":1,"label":"a","scores":[1]}',
    "an array, not an object": b'[{"type":"ack","seq":1}]',
}


@pytest.mark.parametrize("raw", list(ODD.values()), ids=list(ODD))
def test_odd_lines_are_not_firmware_lines(raw):
    assert parse_line(raw) is None
    assert parse_line(raw + b"\r\n") is None


def test_every_line_the_firmware_writes_passes():
    """The README's examples and every field the firmware sends (incl. the microphone counters
    and the boot line's lse/sysclk), as bytes and as text."""
    lines = [GOOD, BOOT_LINE, {"type": "ack", "seq": 255}, {"type": "nak", "seq": 3, "err": "crc"},
             {"type": "feed", "state": "on", "samples": 0, "windows": 0},
             {"type": "result", "src": "feed", "seq": 0, "label": "indoor", "class": 0, "scores": [127, -127, -128],
              "probs": [0.996, 0.004, 0.0], "smoothed": "indoor", "peak_band": 3, "feat_cycles": 108403,
              "feat_hops": 33, "net_cycles": 362053, "stack": 412},
             {"type": "fault", "cfsr": "0x00010000", "hfsr": "0x40000000", "exc_return": "0xfffffff9",
              "r0": "0x00000000", "pc": "0x08000abc", "xpsr": "0x61000000"},
             {**GOOD, "new_counter": 7, "new_list": [1, 2]}]         # a newer firmware's flat fields
    for line in lines:
        raw = json.dumps(line, separators=(",", ":"))
        assert parse_line(raw.encode() + b"\r\n") == line and parse_line(raw) == line


def test_monitor_skips_odd_lines_and_prints_valid_json(cli, tmp_path):
    chunks = [json.dumps(BOOT).encode() + b"\n", result(0)]
    chunks += [raw + b"\n" for raw in ODD.values()]
    chunks += [result(1, "outdoor"), result(2, "vehicle")]
    board = FakeBoard([chunks])
    log = tmp_path / "log.jsonl"
    code, out, err = cli("monitor", "serial", "--port", board.url, "--count", 3, "--log", log, "--json")
    assert code == 0, err
    summary = json.loads(out, parse_constant=lambda name: pytest.fail(f"--json printed {name}"))
    assert summary["results"] == 3 and summary["garbage_lines"] == len(ODD)
    assert summary["labels"] == {"indoor": 1, "outdoor": 1, "vehicle": 1}
    assert summary["last"]["label"] == "vehicle"
    logged = [json.loads(line, parse_constant=lambda name: pytest.fail(f"log holds {name}"))
              for line in log.read_text(encoding="utf-8").splitlines()]
    assert [line["type"] for line in logged] == ["boot", "result", "result", "result"]
    assert "Traceback" not in err


def test_odd_lines_in_the_text_view_and_csv_log(cli, tmp_path):
    """The live view and the CSV log format every field they show: only schema-valid lines reach them."""
    chunks = [json.dumps(BOOT_LINE).encode() + b"\n", ODD["label is a list"] + b"\n", ODD["seq is a list"] + b"\n",
              ODD["probs is a string"] + b"\n", with_(seq=7, label="outdoor") + b"\n"]
    board = FakeBoard([chunks])
    log = tmp_path / "log.csv"
    code, out, err = cli("monitor", "serial", "--port", board.url, "--count", 1, "--log", log)
    assert code == 0, err
    assert "#7" in err and "outdoor" in err and "sysclk 80 MHz  lse 1" in err
    assert "dma -/s  dropped 0  overruns 0  dma_errors 0" in err and "band 2" in err
    assert "1 classifications, 3 garbage lines" in err
    assert log.read_text(encoding="utf-8").count("\n") == 2       # header + the one result


def test_port_gone_for_good_keeps_what_was_received(cli, tmp_path):
    board = FakeBoard([[json.dumps(BOOT).encode() + b"\n", result(0), result(1, "vehicle")]], hold_last=False)
    log = tmp_path / "log.jsonl"
    code, out, err = cli("monitor", "serial", "--port", board.url, "--count", 5, "--log", log, "--json",
                         "--reconnect-timeout", 0.5)
    assert code == 2
    summary = json.loads(out)
    assert summary["results"] == 2 and summary["labels"] == {"indoor": 1, "vehicle": 1}
    assert [json.loads(line)["seq"] for line in log.read_text().splitlines()[1:]] == [0, 1]
    last = err.strip().splitlines()[-1]
    assert "the port vanished and did not come back within 0.5 s" in last and "cable" in last


def test_port_gone_for_good_text_summary(cli):
    board = FakeBoard([[result(0)]], hold_last=False)
    code, out, err = cli("monitor", "serial", "--port", board.url, "--count", 3, "--reconnect-timeout", 0.5)
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert "1 classifications, 0 garbage lines" in lines[-2] and "did not come back" in lines[-1]
