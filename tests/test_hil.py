"""Bring-up checks on a real B-L475E-IOT01A running the asc-tool firmware: the `hil` tier,
`pytest tests/test_hil.py --port PORT` (firmware/README.md, "Bring-up checklist", gives the
`asc-tool monitor` command that shows each by hand). The checks that need no microphone also
run on the emulated board (toolchain tier), so their expectations are tested without a board.
A known scene needs the run the board was built from: ASC_HIL_RUN=RUN."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
from conftest import first_clip_per_class, require_tool
from test_firmware_build import firmware  # noqa: F401

from asc_toolchain.asc.features import FeatureParams, mel_columns
from asc_toolchain.deploy.serial.hostfeed import END, INFO, FeedSession, to_int16
from asc_toolchain.deploy.serial.resultline import parse_line

TONE_HZ = 1000.0
DMA_IRQS_PER_WINDOW = 8          # 16,384 samples per window / 2,048 per half of the DMA ring
MIC_COUNTER_ERRORS = ("dropped", "dma_errors", "overruns")


@pytest.fixture(scope="module")
def port(request):
    """The board's serial port from --port (skip without it), at --baud or the board file's."""
    url = request.config.getoption("--port")
    if url is None:
        pytest.skip("hil tier: needs a B-L475E-IOT01A running the asc-tool firmware; pass --port PORT")
    from asc_toolchain.boards import load_board
    from asc_toolchain.deploy.serial.port import open_url

    baud = request.config.getoption("--baud", default=None) or load_board("b-l475e-iot01a").serial.baud
    serial = open_url(url, baud, timeout=1.0)
    yield serial
    serial.close()


class Board:
    """Lines from the board with their host arrival time; the host feed on the same port."""

    def __init__(self, port):
        self.port = port
        self.lines: list[tuple[float, dict]] = []

    def keep(self, line: dict) -> None:
        self.lines.append((time.monotonic(), line))

    def send(self, kind: bytes, payload: bytes = b"") -> None:
        FeedSession(self.port, on_line=self.keep).send(kind, payload)

    def boot(self) -> dict:
        """The boot line, asked for again (frame I), so the board need not be reset."""
        self.send(INFO)
        boots = [line for _, line in self.lines if line["type"] == "boot"]
        assert boots, "the board answered I without its boot line"
        return boots[-1]

    def feed(self, pcm: np.ndarray) -> list[dict]:
        first = len(self.lines)
        FeedSession(self.port, on_line=self.keep).feed(pcm)
        return [line for _, line in self.lines[first:] if line["type"] == "result"]

    def watch(self, seconds: float) -> list[tuple[float, dict]]:
        """Every line that arrives within ``seconds``."""
        first, deadline = len(self.lines), time.monotonic() + seconds
        while time.monotonic() < deadline:
            raw = self.port.readline()
            line = parse_line(raw) if raw else None
            if line is not None:
                self.keep(line)
        return self.lines[first:]


def tone(boot: dict, freq: float = TONE_HZ) -> np.ndarray:
    """One window (33 hops) of a sine at a quarter of full scale, int16."""
    n = (boot["columns"] + 1) * boot["hop"]
    return to_int16(0.25 * np.sin(2 * np.pi * freq * np.arange(n) / boot["sample_rate"]))


def expected_band(boot: dict, pcm: np.ndarray) -> int:
    """The firmware's peak_band computed on the host: the mel band loudest in most columns."""
    params = FeatureParams(sample_rate=boot["sample_rate"], hop_length=boot["hop"], n_columns=boot["columns"])
    columns = mel_columns(pcm.astype(np.float32) / 32768.0, params)[-params.n_columns:]
    return int(np.bincount(columns.argmax(axis=1), minlength=params.n_mels).argmax())


def check_tone_band(board: Board) -> dict:
    boot = board.boot()
    pcm = tone(boot)
    results = board.feed(pcm)
    assert len(results) == 1 and results[0]["src"] == "feed"
    assert results[0]["peak_band"] == expected_band(boot, pcm)
    assert "dma_irqs" not in results[0]                 # fed audio: no microphone counters
    return results[0]


# -- the emulated board (toolchain tier) and the monitor: the expectations themselves -------------

def test_monitor_view_shows_the_bringup_fields(monkeypatch):
    from asc_toolchain.deploy.serial import monitor

    shown = []
    view = monitor.LiveView(shown.append)
    view.show({"type": "boot", "board": "b-l475e-iot01a", "model": "ab" * 32, "classes": ["a", "b"],
               "sysclk_hz": 80_000_000, "lse": 1})
    clock = iter([100.0, 101.024])
    monkeypatch.setattr(monitor.time, "monotonic", lambda: next(clock))
    for seq, irqs in ((4, 40), (5, 48)):
        view.show({"type": "result", "src": "mic", "seq": seq, "label": "a", "scores": [1, -1], "peak_band": 9,
                   "dropped": 0, "dma_irqs": irqs, "dma_errors": 0, "overruns": 2})
    assert "sysclk 80 MHz  lse 1" in shown[0]
    assert shown[1].endswith("band 9  dma -/s  dropped 0  overruns 2  dma_errors 0")
    assert "dma 7.8/s" in shown[2]



@pytest.mark.toolchain
def test_tone_band_check_holds_on_the_emulated_board(firmware):  # noqa: F811
    from asc_toolchain.deploy.emulate import QemuBoard

    require_tool("qemu-system-arm")
    with QemuBoard(firmware / "build" / "asc_fw.elf", timeout_s=120) as qemu:
        qemu.boot_line()
        result = check_tone_band(Board(qemu.port))
    assert result["peak_band"] == 9                    # 1 kHz, 30 Slaney bands at 16 kHz (README)


# -- a real board (hil tier) ---------------------------------------------------------------------

@pytest.mark.hil
def test_boot_line_shows_80_mhz_the_crystal_and_the_plan(port):
    boot = Board(port).boot()
    assert boot["sysclk_hz"] == 80_000_000 and boot["lse"] == 1, boot
    assert boot["counter"] == "dwt" and boot["init_error"] == 0
    assert (boot["mic_hz"], boot["mic_fosr"], boot["mic_sinc"]) == (2_000_000, 125, 4)


@pytest.mark.hil
def test_microphone_windows_come_at_16_khz_without_errors(port):
    board = Board(port)
    board.send(END)                                    # back to the microphone if a feed was left on
    mic = [(t, line) for t, line in board.watch(7.5) if line["type"] == "result" and line["src"] == "mic"]
    assert len(mic) >= 5, f"{len(mic)} microphone windows in 7.5 s (1.024 s each at 16 kHz)"
    times = np.array([t for t, _ in mic])
    irqs = np.array([line["dma_irqs"] for _, line in mic])
    assert abs(np.median(np.diff(times)) / 1.024 - 1) < 0.05, np.diff(times)
    assert set(np.diff(irqs)) == {DMA_IRQS_PER_WINDOW}
    assert abs((irqs[-1] - irqs[0]) / (times[-1] - times[0]) - 16_000 / 2048) < 0.4     # 7.8 per second
    first, last = mic[0][1], mic[-1][1]
    assert {k: last[k] - first[k] for k in MIC_COUNTER_ERRORS} == dict.fromkeys(MIC_COUNTER_ERRORS, 0), last


@pytest.mark.hil
def test_a_1_khz_tone_lands_in_its_mel_band(port):
    check_tone_band(Board(port))


@pytest.mark.hil
def test_known_scenes_give_the_hosts_labels(port):
    from asc_toolchain.asc.run import AscRun
    from asc_toolchain.codegen.validate import build_harness, c_dir_of, c_end_to_end

    if not os.environ.get("ASC_HIL_RUN"):
        pytest.skip("set ASC_HIL_RUN=RUN, the run whose firmware the board runs")
    run = AscRun.open(os.environ["ASC_HIL_RUN"])
    exe = build_harness(c_dir_of(run))
    params = run.feature_params
    board = Board(port)
    for name, pcm in first_clip_per_class():
        board_results = board.feed(pcm)
        host = c_end_to_end(exe, pcm.astype(np.float64) / 32768.0, params.n_mels * params.n_columns,
                            len(run.class_names))[1][::params.n_columns]
        assert [r["scores"] for r in board_results] == host.tolist(), name
        assert [r["label"] for r in board_results] == [run.class_names[k] for k in host.argmax(axis=1)], name
