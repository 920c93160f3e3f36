"""The built ELF in QEMU's B-L475E-IOT01A: boot line, host-feed protocol, and predictions equal
to the host-compiled C engine (same int16 input, same non-overlapping windows of the run's columns)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import first_clip_per_class, require_tool
from test_firmware_build import firmware  # noqa: F401

from asc_toolchain.deploy.serial.hostfeed import END, INFO, PCM, START, encode_frame

pytestmark = pytest.mark.toolchain


@pytest.fixture(scope="module")
def params(firmware):  # noqa: F811
    """The run's feature parameters: the firmware classifies every ``n_columns`` new columns."""
    from asc_toolchain.asc.run import open_asc_run

    return open_asc_run(firmware).feature_params


@pytest.fixture(scope="module")
def elf(firmware):  # noqa: F811
    require_tool("qemu-system-arm")
    return firmware / "build" / "asc_fw.elf"


@pytest.fixture(scope="module")
def host_engine(firmware, host_cache, params):  # noqa: F811
    """Host C (features + network) from the same generated folder: int8 outputs per hop-window."""
    from asc_toolchain.codegen.validate import build_harness, c_end_to_end

    exe = build_harness(firmware / "c")
    size = params.n_mels * params.n_columns
    return lambda pcm: c_end_to_end(exe, pcm.astype(np.float64) / 32768.0, size, 3)[1]


def expect_line(board, kind: str) -> dict:
    line = board.read_line(10)
    assert line is not None and line["type"] == kind, line
    return line


def test_boot_line_and_protocol_errors(elf, firmware):
    from asc_toolchain.deploy.emulate import QemuBoard

    manifest = json.loads((firmware / "manifest.json").read_text())
    with QemuBoard(elf, timeout_s=120) as board:
        boot = board.boot_line()
        assert boot["board"] == "b-l475e-iot01a" and boot["classes"] == manifest["class_names"]
        assert len(boot["model"]) == 64 and boot["sysclk_hz"] == 80_000_000 and boot["counter"] == "systick"
        assert (boot["mic_hz"], boot["mic_fosr"], boot["mic_sinc"]) == (2_000_000, 125, 4)
        board.port.write(encode_frame(PCM, 1, b"\x00\x00"))                   # no feed started
        assert expect_line(board, "nak") == {"type": "nak", "seq": 1, "err": "state"}
        bad = bytearray(encode_frame(START, 2))
        bad[-1] ^= 0xFF
        board.port.write(b"garbage" + bytes(bad))
        assert expect_line(board, "nak")["err"] == "crc"
        board.port.write(encode_frame(INFO, 3))
        assert expect_line(board, "boot")["model"] == boot["model"]
        expect_line(board, "ack")
        board.port.write(encode_frame(START, 4))
        assert expect_line(board, "feed")["state"] == "on"
        expect_line(board, "ack")
        block = encode_frame(PCM, 5, bytes(200))
        board.port.write(block + block)                                       # a resent block
        assert expect_line(board, "ack")["seq"] == 5 and expect_line(board, "ack")["seq"] == 5
        board.port.write(encode_frame(END, 6))
        off = expect_line(board, "feed")
        assert (off["state"], off["samples"], off["windows"]) == ("off", 100, 0)


@pytest.mark.data
def test_firmware_equals_host_c_on_real_recordings(elf, host_engine, params):
    from asc_toolchain.deploy.emulate import emulate

    seconds = 4.2 * params.n_columns / 32                                 # four windows of every clip
    clips = first_clip_per_class(seconds) + [("silence", np.zeros(params.window_samples, np.int16))]
    report = emulate(elf, clips, timeout_s=300)
    compared = 0
    for (name, pcm), clip in zip(clips, report["clips"], strict=True):
        host = host_engine(pcm)[::params.n_columns]
        assert clip["windows"] == len(host) >= 1, name
        assert clip["scores"] == host.tolist(), name                         # int8, every window
        compared += clip["windows"]
    assert compared == 3 * 4 + 1
    assert 0 < report["instructions_per_inference"] and 0 < report["feature_instructions_per_1024_ms"]


def test_evaluate_engine_qemu_matches_engine_c(firmware, cli, host_cache, params):  # noqa: F811
    """`evaluate --engine qemu` on the run's test split scores the c engine's windows 0, C, 2C…"""
    from asc_toolchain.evaluate.engines import get_engine
    from asc_toolchain.evaluate.metrics import scores_report
    from asc_toolchain.asc.run import open_asc_run

    require_tool("qemu-system-arm")
    code, out, err = cli("evaluate", "--run", firmware, "--engine", "qemu", "--json")
    assert code == 0, err
    window = json.loads(out)["window"]
    run = open_asc_run(firmware)
    c = get_engine("c")(run, run.items("test"))
    keep = np.concatenate([np.flatnonzero(c.clip == k)[::params.n_columns] for k in np.unique(c.clip)])
    expected = scores_report(c.y_true[keep], c.y_pred[keep], run.class_names)
    assert window["n"] == len(keep) > 0
    assert window["confusion_matrix"] == expected["confusion_matrix"]


def test_emulate_cli_prints_board_beside_host(firmware, cli, tmp_path, host_cache, params):  # noqa: F811
    import soundfile

    rng = np.random.default_rng(5)
    wav = tmp_path / "noise.wav"
    samples = params.window_samples + params.n_columns * params.hop_length + 2000       # two windows
    soundfile.write(wav, (rng.standard_normal(samples) * 0.1).astype(np.float32), 16000)
    code, out, err = cli("emulate", "--run", firmware, "--feed", wav, "--json")
    assert code == 0, err
    r = json.loads(out)
    assert r["windows"] == 2 and r["agreement"]["scores_equal"] == 2 == r["agreement"]["labels_equal"]
    assert r["clips"][0]["labels"] == r["clips"][0]["host_labels"]
    code, out, err = cli("emulate", "--run", firmware, "--feed", wav)
    assert code == 0 and "board = host on 2 of 2 windows (100.0 %)" in err and out == ""


def test_a_crashing_image_is_one_line_with_qemus_reason(tmp_path, cli):
    import soundfile

    require_tool("qemu-system-arm")
    bogus = tmp_path / "bogus.elf"
    bogus.write_bytes(b"\x7fELF" + bytes(60))
    wav = tmp_path / "z.wav"
    soundfile.write(wav, np.zeros(1600, np.float32), 16000)
    code, out, err = cli("emulate", "--elf", bogus, "--feed", wav, "--timeout", 60)
    assert code == 2 and "QEMU exited with status" in err and "QEMU said: qemu" in err
    assert "Traceback" not in err


def test_fault_handler_reports_registers(firmware, tmp_path):
    """A test build (ASC_FAULT_TEST) runs an undefined instruction on frame type F: the
    HardFault handler must print the escalated UsageFault as one fault line."""
    from asc_toolchain.boards import load_board
    from asc_toolchain.deploy.build import BuildConfig, build_firmware
    from asc_toolchain.deploy.emulate import QemuBoard
    from asc_toolchain.deploy.serial.hostfeed import crc16

    cfg = BuildConfig(board=load_board("b-l475e-iot01a"), gen_dir=firmware / "c", build_dir=tmp_path / "b",
                      extra_defines={"ASC_FAULT_TEST": "ON"})
    report = build_firmware(cfg)
    body = b"F\x01\x00\x00"
    with QemuBoard(report["elf"], timeout_s=60) as board:
        board.boot_line()
        board.port.write(b"\xa5\x5a" + body + crc16(body).to_bytes(2, "little"))
        fault = expect_line(board, "fault")
    assert fault["cfsr"] == "0x00010000"             # UFSR.UNDEFINSTR
    assert fault["hfsr"] == "0x40000000"             # HFSR.FORCED: escalated to HardFault
    assert 0x08000000 <= int(fault["pc"], 16) < 0x08000000 + report["flash_bytes"]


def test_bench_firmware_prices_the_run_against_real_time(firmware, cli, params):  # noqa: F811
    code, out, err = cli("bench", "firmware", "--run", firmware, "--json")
    assert code == 0, err
    r = json.loads(out)
    window_s = params.n_columns * params.hop_length / params.sample_rate
    expected = (r["feature_instructions_per_1024_ms"] / 1.024 + r["instructions_per_inference"] / window_s) / 80e6
    assert r["windows"] >= 2 and r["load"] == pytest.approx(expected, abs=1e-4)
    assert r["goals"]["load"] == {"goal": 0.25, "value": r["load"], "met": r["load"] <= 0.25}
    assert r["goals"]["ram_bytes"]["value"] == r["ram_bytes"] and "instructions_per_inference" not in r["goals"]
