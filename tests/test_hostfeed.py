"""Host-feed protocol: frames, checksum, corrupt input, the board's C parser and stop-and-wait."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from asc_toolchain.codegen import hostbuild
from asc_toolchain.core.errors import SerialError
from asc_toolchain.deploy.serial.hostfeed import (END, INFO, MAX_PAYLOAD, PCM, START, FeedSession, FrameDecoder,
                                    crc16, encode_frame, pcm_blocks, to_int16)
from asc_toolchain.deploy.serial.resultline import parse_line

FIRMWARE = Path(__file__).resolve().parents[1] / "firmware"


def test_crc16_check_value():
    assert crc16(b"123456789") == 0x29B1          # CRC-16/CCITT-FALSE catalogue value


def test_frame_layout():
    frame = encode_frame(PCM, 7, b"\x01\x00\xff\xff")
    assert frame[:2] == b"\xa5\x5a"
    assert frame[2:6] == b"P\x07\x04\x00"
    assert frame[6:10] == b"\x01\x00\xff\xff"
    assert int.from_bytes(frame[10:], "little") == crc16(frame[2:10])


def test_encode_rejects_bad_payloads():
    with pytest.raises(ValueError, match="1026 bytes"):
        encode_frame(PCM, 1, bytes(MAX_PAYLOAD + 2))
    with pytest.raises(ValueError, match="even"):
        encode_frame(PCM, 1, b"\x01")
    with pytest.raises(ValueError, match="unknown frame type"):
        encode_frame(b"X", 1)


def test_decoder_round_trip_with_garbage_between_frames():
    rng = np.random.default_rng(0)
    payloads = [rng.integers(0, 256, n, dtype=np.uint8).tobytes() for n in (0, 2, 1024, 300)]
    stream = b"junk" + b"".join(encode_frame(PCM, i, p) + b"\x00\xa5" for i, p in enumerate(payloads))
    dec = FrameDecoder()
    frames = [f for i in range(0, len(stream), 7) for f in dec.push(stream[i:i + 7])]
    assert [f.payload for f in frames] == payloads
    assert [f.seq for f in frames] == [0, 1, 2, 3]
    # the last 0xA5 may still start a frame: held back, not yet counted as garbage
    assert dec.errors == 0 and dec.garbage == 4 + 2 * len(payloads) - 1
    assert bytes(dec.buffer) == b"\xa5"


def test_decoder_counts_corrupt_frame_and_recovers():
    good = encode_frame(PCM, 2, b"\x10\x20")
    bad = bytearray(encode_frame(PCM, 1, b"\x01\x02"))
    bad[6] ^= 0x40                                  # one flipped payload bit
    dec = FrameDecoder()
    frames = dec.push(bytes(bad) + good)
    assert [(f.seq, f.payload) for f in frames] == [(2, b"\x10\x20")]
    assert dec.errors == 1


def test_to_int16_rounds_and_clips():
    out = to_int16(np.array([0.0, 0.5, -1.0, 1.0, 1.5, -2.0, 1 / 65536], np.float32))
    assert out.tolist() == [0, 16384, -32768, 32767, 32767, -32768, 0]
    assert [len(b) for b in pcm_blocks(np.zeros(1100, np.int16))] == [1024, 1024, 152]


# -- the board's parser (firmware/src/hostfeed.c) compiled for the host ----------------------

@pytest.fixture(scope="module")
def c_parser(tmp_path_factory):
    hostbuild.find_cc()
    return hostbuild.build([FIRMWARE / "host" / "hostfeed_cli.c", FIRMWARE / "src" / "hostfeed.c"],
                           "hostfeed-cli", include_dirs=(str(FIRMWARE / "include"),),
                           sanitize=True, cache=tmp_path_factory.mktemp("hfcache"))


def run_parser(exe, data: bytes) -> list[str]:
    return hostbuild.run_program(exe, [], data).decode().splitlines()


def test_c_parser_accepts_python_frames(c_parser):
    payload = np.arange(-256, 256, dtype="<i2").tobytes()
    stream = encode_frame(START, 1) + encode_frame(PCM, 2, payload) + encode_frame(END, 3) + encode_frame(INFO, 4)
    lines = run_parser(c_parser, stream)
    assert lines == ["frame S 1 0 ", f"frame P 2 1024 {payload.hex()}", "frame E 3 0 ",
                     "frame I 4 0 ", "garbage 0"]


def test_c_parser_reports_corruption_and_resyncs(c_parser):
    bad_crc = bytearray(encode_frame(PCM, 9, b"\x01\x02\x03\x04"))
    bad_crc[-1] ^= 1
    too_long = b"\xa5\x5aP\x0a" + (MAX_PAYLOAD + 2).to_bytes(2, "little")
    odd = b"\xa5\x5aP\x0b\x03\x00"
    unknown = bytearray(b"\xa5\x5aX\x0c\x00\x00")
    unknown += crc16(bytes(unknown[2:])).to_bytes(2, "little")
    stream = b"noise" + bytes(bad_crc) + too_long + odd + bytes(unknown) + encode_frame(PCM, 13, b"\x05\x06")
    assert run_parser(c_parser, stream) == ["crc 9", "len 10", "len 11", "type 12",
                                            "frame P 13 2 0506", "garbage 5"]


# -- stop-and-wait against a simulated board -------------------------------------------------

class FakeBoard:
    """A pyserial-like port that behaves like the firmware's feed loop; NAKs chosen frames once."""

    def __init__(self, nak_once: set[int] = frozenset(), garbage: bool = False):
        self.decoder = FrameDecoder()
        self.lines: list[bytes] = []
        self.samples: list[int] = []
        self.nak_once = set(nak_once)
        self.garbage = garbage
        self.last_seq = None
        self.writes = 0

    def write(self, data: bytes) -> None:
        self.writes += 1
        for frame in self.decoder.push(data):
            self._handle(frame)

    def _handle(self, frame) -> None:
        if frame.seq in self.nak_once:
            self.nak_once.discard(frame.seq)
            self.lines.append(b'{"type":"nak","seq":%d,"err":"crc"}\n' % frame.seq)
            return
        if frame.kind == PCM and frame.seq != self.last_seq:
            self.samples += np.frombuffer(frame.payload, "<i2").tolist()
            self.lines.append(json.dumps({"type": "result", "seq": len(self.samples), "label": "x",
                                          "scores": [0]}).encode() + b"\n")
        if self.garbage:
            self.lines.append(b"\x00\xffnot json\n")
        self.last_seq = frame.seq
        self.lines.append(b'{"type":"ack","seq":%d}\n' % frame.seq)

    def readline(self) -> bytes:
        return self.lines.pop(0) if self.lines else b""


def test_feed_session_streams_everything_once_despite_naks():
    pcm = np.arange(-3000, 3000, 3, dtype=np.int16)              # 2000 samples: 4 blocks
    board = FakeBoard(nak_once={3, 5}, garbage=True)
    got = []
    session = FeedSession(board, on_line=got.append, ack_timeout_s=0.2)
    session.feed(pcm)
    assert board.samples == pcm.tolist()
    assert session.stats.frames == 6 and session.stats.naks == 2 and session.stats.resends == 2
    assert session.stats.garbage_lines == 6            # one per accepted frame
    assert [line["type"] for line in got] == ["result"] * 4


def test_feed_session_gives_up_with_a_clear_error():
    class Silent:
        def write(self, data):
            pass

        def readline(self):
            return b""

    with pytest.raises(SerialError, match=r"did not acknowledge frame S #1 after 3 tries"):
        FeedSession(Silent(), ack_timeout_s=0.01, retries=2).send(START)


def test_parse_line_skips_garbage():
    assert parse_line(b'{"type":"ack","seq":3}\r\n') == {"type": "ack", "seq": 3}
    for raw in (b"", b"\xff\xfe", b'{"type":"ack"}', b'{"type":"other","seq":1}', b'{"type":"result",'):
        assert parse_line(raw) is None
