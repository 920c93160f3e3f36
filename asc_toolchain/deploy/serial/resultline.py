"""The firmware's serial lines: one JSON object per line, ``type`` says which (firmware/README.md).

``boot``    board, fw, model (hash), classes, sysclk_hz, lse (1: the 32.768 kHz crystal runs and
            trims MSI; 0: MSI untrimmed), counter ("dwt" or "systick"),
            calib_instr / calib_cycles (a loop of exactly calib_instr instructions took
            calib_cycles counter ticks), sample_rate, hop, columns, max_block, stack_size,
            mic_hz / mic_fosr / mic_sinc (the DFSDM plan; 0 when none), init_error.
``result``  src ("mic" or "feed"), seq, label, class, scores (int8), probs, smoothed (label over
            the last 7 windows), peak_band (the mel band loudest in most of the window's
            columns), feat_cycles / feat_hops (feature front end since the previous window),
            net_cycles (the network), stack (high-water mark, bytes); for src "mic" also the
            microphone counters since boot: dropped (blocks overwritten unread), dma_irqs
            (half/full-transfer interrupts, 7.8 per second at 16 kHz), dma_errors (DMA transfer
            errors), overruns (DFSDM regular overruns).
``ack`` / ``nak``   host-feed flow control: seq (and err for nak: crc, len, type, state).
``feed``    state ("on"/"off"), samples, windows.
``fault``   cfsr, hfsr, mmfar / bfar (only when CFSR marks them valid), exc_return and the
            stacked r0-r3, r12, lr, pc, xpsr (hex).

``parse_line`` is the one gate every line from a board passes (monitor, host feed, emulator):
the ``SCHEMA`` below is what firmware/src/jsonw.c can write — uint32/int32 numbers, plain
strings, flat arrays — so a line that parses is safe to print, count, log and dump as JSON.
"""

from __future__ import annotations

import json
import math
import re

MAX_LINE_BYTES = 2048      # jsonw.c cuts its lines at 511 bytes: anything longer is not ours
_U32, _I32 = (0, 2**32 - 1), (-2**31, 2**31 - 1)
_HEX = re.compile(r"0x[0-9a-fA-F]{1,8}\Z")


def _uint(value) -> bool:
    return type(value) is int and _U32[0] <= value <= _U32[1]


def _int(value) -> bool:
    return type(value) is int and _I32[0] <= value <= _I32[1]


def _text(value) -> bool:
    return type(value) is str


def _hex(value) -> bool:
    return type(value) is str and bool(_HEX.match(value))


def _names(value) -> bool:
    return type(value) is list and bool(value) and all(type(v) is str for v in value)


def _int8s(value) -> bool:
    return type(value) is list and bool(value) and all(type(v) is int and -128 <= v <= 127 for v in value)


def _probs(value) -> bool:
    return type(value) is list and all(type(v) in (int, float) and 0 <= v <= 1 for v in value)


def _one_of(*allowed):
    return lambda value: value in allowed and type(value) is str


_FAULT_REGS = ("cfsr", "hfsr", "mmfar", "bfar", "exc_return", "r0", "r1", "r2", "r3", "r12", "lr", "pc", "xpsr")
_MIC_COUNTERS = ("dropped", "dma_irqs", "dma_errors", "overruns")

# type -> (required fields, optional fields): field -> check. Other fields (a newer firmware's)
# are kept when they are a plain value or a flat array of plain values.
SCHEMA = {
    "boot": ({"board": _text, "model": _text, "classes": _names},
             {"fw": _text, "counter": _text, "init_error": _int,
              **dict.fromkeys(("sysclk_hz", "lse", "calib_instr", "calib_cycles", "sample_rate", "hop",
                               "columns", "max_block", "stack_size", "mic_hz", "mic_fosr", "mic_sinc"), _uint)}),
    "result": ({"seq": _uint, "label": _text, "scores": _int8s},
               {"src": _one_of("mic", "feed"), "class": _uint, "probs": _probs, "smoothed": _text,
                **dict.fromkeys(("peak_band", "feat_cycles", "feat_hops", "net_cycles", "stack",
                                 *_MIC_COUNTERS), _uint)}),
    "ack": ({"seq": _uint}, {}),
    "nak": ({"seq": _uint}, {"err": _text}),
    "feed": ({"state": _one_of("on", "off")}, {"samples": _uint, "windows": _uint}),
    "fault": ({"pc": _hex}, dict.fromkeys(_FAULT_REGS, _hex)),
}
LINE_TYPES = tuple(SCHEMA)


def _reject_constant(name: str):
    raise ValueError(f"{name} is not JSON")           # NaN, Infinity, -Infinity


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):                      # 1e999
        raise ValueError(f"{text} overflows")
    return value


def _decode(raw: bytes | str) -> dict | None:
    """The line as a JSON object (strict: UTF-8, finite numbers, bounded size), else None."""
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogatepass")
    if len(raw) > MAX_LINE_BYTES:
        return None
    try:
        text = raw.decode("utf-8").strip()
        if not text.startswith("{"):
            return None
        line = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except (ValueError, RecursionError):              # UnicodeDecodeError is a ValueError
        return None
    return line if isinstance(line, dict) else None


def _plain(value) -> bool:
    """A JSON scalar, or a flat array of them (all jsonw.c can write)."""
    scalar = (str, int, float, bool, type(None))
    return isinstance(value, scalar) or (type(value) is list and all(isinstance(v, scalar) for v in value))


def conforms(line: dict) -> bool:
    """Whether ``line`` (a decoded object) matches SCHEMA for its ``type``."""
    kind = line.get("type")
    if type(kind) is not str or kind not in SCHEMA:
        return False
    required, optional = SCHEMA[kind]
    if any(key not in line or not check(line[key]) for key, check in required.items()):
        return False
    for key, value in line.items():
        check = optional.get(key)
        if key != "type" and key not in required and not (check(value) if check else _plain(value)):
            return False
    if kind == "result":
        return _result_consistent(line)
    return True


def _result_consistent(line: dict) -> bool:
    """probs and class agree with scores (the firmware writes them from the same outputs)."""
    n = len(line["scores"])
    return len(line.get("probs", line["scores"])) == n and line.get("class", 0) < n


def parse_line(raw: bytes | str) -> dict | None:
    """The line as a dict when it is a firmware line matching SCHEMA; None for anything else
    (not UTF-8, not JSON, NaN/Infinity, nested, over-long, unknown type, a field missing or of
    the wrong kind). Never raises: callers count None as a skipped line."""
    line = _decode(raw)
    return line if line is not None and conforms(line) else None


def instructions_per_cycle(boot: dict) -> float | None:
    """Instructions per counter tick from the boot line's calibration loop.

    Meaningful in the emulator with ``-icount`` (the counter follows virtual time, which advances
    per instruction); on silicon the counter counts real cycles and this is the loop's IPC.
    """
    cycles = boot.get("calib_cycles") or 0
    return boot.get("calib_instr", 0) / cycles if cycles else None


def to_instructions(cycles: int, boot: dict) -> int | None:
    """Counter ticks converted to instructions with the boot line's calibration."""
    ratio = instructions_per_cycle(boot)
    return None if ratio is None else int(round(cycles * ratio))
