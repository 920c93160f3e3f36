"""Host-feed protocol, host side: stream int16 PCM into the firmware over its serial port.

Frame (little endian), the same bytes firmware/src/hostfeed.c parses::

    A5 5A | type (1) | seq (1) | len (u16) | payload (len bytes) | crc (u16)

``crc`` is CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF) over type, seq, len and payload.
Types: ``S`` start feed (the board stops its microphones and resets its features), ``P`` a block
of int16 samples (at most 1024 bytes = 512 samples), ``E`` end feed (back to the microphones),
``I`` info (the board repeats its boot line).

Flow control is stop-and-wait: the board answers every frame with one JSON line,
``{"type":"ack","seq":N}`` once the frame is processed, or ``{"type":"nak","seq":N,"err":...}``;
the host resends on NAK or timeout. A resent frame whose seq equals the last accepted one is
acknowledged without being fed twice. Every other line (results, boot, feed) goes to the caller.
"""

from __future__ import annotations

import struct
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable

import numpy as np

from ...core.errors import SerialError
from .resultline import parse_line

SYNC = b"\xa5\x5a"
START, PCM, END, INFO = b"S", b"P", b"E", b"I"
TYPES = (START, PCM, END, INFO)
MAX_PAYLOAD = 1024
BLOCK_SAMPLES = MAX_PAYLOAD // 2
_HEADER = struct.Struct("<2scBH")


def crc16(data: bytes, crc: int = 0xFFFF) -> int:
    """CRC-16/CCITT-FALSE of ``data`` (check value of b"123456789" is 0x29B1)."""
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


def encode_frame(kind: bytes, seq: int, payload: bytes = b"") -> bytes:
    """One frame. ``kind`` is one of START/PCM/END/INFO; ``seq`` is taken modulo 256."""
    if kind not in TYPES:
        raise ValueError(f"unknown frame type {kind!r}")
    if len(payload) > MAX_PAYLOAD or (kind == PCM and len(payload) % 2):
        raise ValueError(f"payload of {len(payload)} bytes: at most {MAX_PAYLOAD}, even for PCM")
    body = _HEADER.pack(SYNC, kind, seq & 0xFF, len(payload))[2:] + payload
    return SYNC + body + struct.pack("<H", crc16(body))


def pcm_blocks(samples: np.ndarray, block: int = BLOCK_SAMPLES) -> Iterable[bytes]:
    """int16 little-endian payloads of at most ``block`` samples."""
    pcm = np.ascontiguousarray(samples, dtype="<i2")
    for start in range(0, len(pcm), block):
        yield pcm[start:start + block].tobytes()


def to_int16(audio: np.ndarray) -> np.ndarray:
    """Float audio in [-1, 1] to int16 the way the feed sends it (round, clip)."""
    return np.clip(np.round(np.asarray(audio, np.float64) * 32768.0), -32768, 32767).astype(np.int16)


@dataclass
class Frame:
    kind: bytes
    seq: int
    payload: bytes


@dataclass
class FrameDecoder:
    """Byte-stream decoder for frames (the board's parser in Python; tests and simulators).

    ``push(data)`` returns decoded frames; bad checksums and lengths are counted in ``errors``,
    bytes outside frames in ``garbage``. It resynchronises on the next sync pattern.
    """

    buffer: bytearray = field(default_factory=bytearray)
    errors: int = 0
    garbage: int = 0

    def push(self, data: bytes) -> list[Frame]:
        self.buffer += data
        frames: list[Frame] = []
        while True:
            frame, consumed = self._next()
            if consumed == 0:
                return frames
            del self.buffer[:consumed]
            if frame is not None:
                frames.append(frame)

    def _next(self) -> tuple[Frame | None, int]:
        at = self.buffer.find(SYNC)
        if at < 0:
            keep = 1 if self.buffer.endswith(SYNC[:1]) else 0
            self.garbage += len(self.buffer) - keep
            return None, len(self.buffer) - keep
        if at:
            self.garbage += at
            return None, at
        if len(self.buffer) < 6:
            return None, 0
        _, kind, seq, length = _HEADER.unpack_from(self.buffer)
        if length > MAX_PAYLOAD:
            self.errors += 1
            return None, 2
        if len(self.buffer) < 8 + length:
            return None, 0
        body = bytes(self.buffer[2:6 + length])
        (crc,) = struct.unpack_from("<H", self.buffer, 6 + length)
        if crc != crc16(body) or kind not in TYPES:
            self.errors += 1
            return None, 2
        return Frame(kind, seq, body[4:]), 8 + length


@dataclass
class FeedStats:
    frames: int = 0
    resends: int = 0
    naks: int = 0
    garbage_lines: int = 0


class FeedSession:
    """Stop-and-wait sender over a pyserial-like ``port`` (write, readline, timeout).

    Lines that are not this session's ack/nak are handed to ``on_line(dict)``; undecodable
    lines are counted in ``stats.garbage_lines`` and skipped.
    """

    def __init__(self, port, on_line: Callable[[dict], None] | None = None,
                 ack_timeout_s: float = 5.0, retries: int = 5):
        self.port = port
        self.on_line = on_line or (lambda line: None)
        self.ack_timeout_s = ack_timeout_s
        self.retries = retries
        self.seq = 0
        self.stats = FeedStats()

    def send(self, kind: bytes, payload: bytes = b"") -> None:
        """Send one frame and wait for its ack; SerialError after ``retries`` failed tries."""
        self.seq = (self.seq + 1) & 0xFF
        frame = encode_frame(kind, self.seq, payload)
        for attempt in range(self.retries + 1):
            if attempt:
                self.stats.resends += 1
            self.port.write(frame)
            if self._wait_ack(self.seq):
                self.stats.frames += 1
                return
        raise SerialError(f"the board did not acknowledge frame {kind.decode()} #{self.seq} "
                          f"after {self.retries + 1} tries",
                          "check that the firmware is running and nothing else holds the port")

    def _wait_ack(self, seq: int) -> bool:
        deadline = time.monotonic() + self.ack_timeout_s
        while time.monotonic() < deadline:
            raw = self.port.readline()
            if not raw:
                continue
            line = parse_line(raw)
            if line is None:
                self.stats.garbage_lines += 1
            elif line["type"] == "ack" and line.get("seq") == seq:
                return True
            elif line["type"] == "nak":
                # one frame in flight: any nak (its seq may itself be corrupted) means resend
                self.stats.naks += 1
                return False
            elif line["type"] not in ("ack", "nak"):
                self.on_line(line)
        return False

    def feed(self, samples: np.ndarray) -> None:
        """Start a feed, stream ``samples`` (int16) block by block, end the feed."""
        self.send(START)
        for payload in pcm_blocks(samples):
            self.send(PCM, payload)
        self.send(END)
