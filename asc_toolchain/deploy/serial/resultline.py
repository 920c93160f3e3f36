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
"""

from __future__ import annotations

import json

LINE_TYPES = ("boot", "result", "ack", "nak", "feed", "fault")
_REQUIRED = {
    "boot": ("board", "model", "classes"),
    "result": ("seq", "label", "scores"),
    "ack": ("seq",),
    "nak": ("seq",),
    "feed": ("state",),
    "fault": ("pc",),
}


def parse_line(raw: bytes | str) -> dict | None:
    """The line as a dict, or None for garbage (not JSON, unknown type, fields missing)."""
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", errors="replace")
    text = raw.strip()
    if not text.startswith("{"):
        return None
    try:
        line = json.loads(text)
    except ValueError:
        return None
    if not isinstance(line, dict) or line.get("type") not in LINE_TYPES:
        return None
    if any(key not in line for key in _REQUIRED[line["type"]]):
        return None
    return line


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
