"""`asc-tool build`: board values reach the linker, ELF/BIN/HEX appear, the budget is enforced."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
from pathlib import Path

import pytest
from conftest import require_tool

from asc_toolchain.boards import load_board
from asc_toolchain.deploy.build import BuildConfig, board_defines, cmake_commands, memory_report

BOARD = "b-l475e-iot01a"


def require_cross_tools() -> None:
    for tool in ("arm-none-eabi-gcc", "arm-none-eabi-objcopy", "cmake"):
        require_tool(tool)


@pytest.fixture(scope="session")
def firmware(quantized_run):  # noqa: F811 - pytest fixture injection
    """The firmware built from the quantized synthetic run into RUN/build (once per session)."""
    from asc_toolchain.cli import main

    require_cross_tools()
    elf = quantized_run / "build" / "asc_fw.elf"
    if not elf.is_file():
        assert main(["build", "--run", str(quantized_run), "--board", BOARD]) == 0
    return quantized_run


def test_board_values_come_from_the_board_file(tmp_path):
    board = load_board(BOARD)
    d = board_defines(board, 16000, stack_size=2048)
    assert d["ASC_FLASH_BASE"] == hex(board.flash.base) and d["ASC_FLASH_SIZE"] == str(board.flash.size)
    assert d["ASC_RAM_BASE"] == hex(board.ram.base) and d["ASC_RAM_SIZE"] == str(board.ram.size)
    assert d["ASC_SYSCLK_HZ"] == str(board.cpu.max_clock_hz)
    assert d["ASC_UART_BAUD"] == str(board.serial.baud) and d["ASC_STACK_SIZE"] == "2048"
    assert d["ASC_MIC_MIN_HZ"] == "1000000" and d["ASC_SAMPLE_RATE_HZ"] == "16000"
    assert (d["ASC_CPU"], d["ASC_FPU"], d["ASC_FLOAT_ABI"]) == ("cortex-m4", "fpv4-sp-d16", "hard")
    assert board_defines(board, 16000)["ASC_STACK_SIZE"] == str(board.reserve.stack) == "4096"
    assert d["ASC_HEAP_SIZE"] == str(board.reserve.heap)
    cfg = BuildConfig(board=board, gen_dir=tmp_path / "c", build_dir=tmp_path / "b")
    configure, build = cmake_commands(cfg, {"cmake": "cmake"})
    assert f"-DASC_RAM_SIZE={board.ram.size}" in configure and f"-DASC_GENERATED_DIR={tmp_path / 'c'}" in configure
    assert any(a.endswith("cmake/arm-none-eabi.cmake") for a in configure)
    assert build[:3] == ["cmake", "--build", str(tmp_path / "b")]


def test_board_without_microphone_block_is_refused(tmp_path):
    from asc_toolchain.core.errors import ConfigError

    text = load_board(BOARD).path.read_text(encoding="utf-8")
    head, _, tail = text.partition("microphone:")
    broken = tmp_path / "board.yaml"
    broken.write_text(head + "qemu:" + tail.split("qemu:", 1)[1], encoding="utf-8")
    with pytest.raises(ConfigError, match="microphone block lacks clock_min_hz"):
        board_defines(load_board(str(broken)), 16000)


def test_build_without_generated_c_or_int8_model_says_what_to_run(synth_run, cli):
    code, out, err = cli("build", "--run", synth_run, "--board", BOARD)
    assert code == 2
    assert "missing generated C" in err and "has no model_int8.tflite to generate it from" in err
    assert "asc-tool quantize --run" in err and not (synth_run / "c").exists()


@pytest.fixture
def fresh_run(quantized_run, tmp_path) -> Path:
    """A private copy of the quantized run (its C and firmware may be changed by the test)."""
    path = tmp_path / "run"
    shutil.copytree(quantized_run, path, ignore=shutil.ignore_patterns("build"))
    return path


def test_stale_generated_c_is_generated_again(fresh_run):
    """The model sha256 in the header decides, not the file times: a header naming another model
    is stale even when the file is newer than the model; the C is then generated again."""
    from asc_toolchain.asc.run import open_asc_run
    from asc_toolchain.deploy.build import generated_dir, header_hash, stale_reason

    c_dir = fresh_run / "c"
    digest = hashlib.sha256((fresh_run / "model_int8.tflite").read_bytes()).hexdigest()
    run = open_asc_run(fresh_run)
    assert header_hash(c_dir / "asc_data.h") == digest and stale_reason(run, c_dir) is None
    data = c_dir / "asc_data.c"
    original = data.read_bytes()
    data.write_bytes(original.replace(digest.encode(), b"0" * 64))
    assert stale_reason(run, c_dir) == (f"stale generated C (asc_data.c was made from model 000000000000, "
                                        f"the run's model_int8.tflite is {digest[:12]})")
    said = []
    assert generated_dir(run, None, said.append) == c_dir.resolve()
    assert said == [f"{c_dir}: stale generated C (asc_data.c was made from model "
                    f"000000000000, the run's model_int8.tflite is {digest[:12]}); generating it again from "
                    f"{fresh_run / 'model_int8.tflite'}"]
    assert header_hash(data) == digest and stale_reason(run, c_dir) is None
    assert data.read_bytes().split(b"*/", 1)[1] == original.split(b"*/", 1)[1]     # the same C again


def test_c_without_header_older_than_the_model_is_stale(fresh_run):
    from asc_toolchain.asc.run import open_asc_run
    from asc_toolchain.deploy.build import stale_reason

    c_dir = fresh_run / "c"
    for name in ("asc.h", "asc.c", "asc_data.h", "asc_data.c", "asc_features.h", "asc_features.c"):
        text = (c_dir / name).read_text(encoding="utf-8")
        (c_dir / name).write_text(text.split("*/", 1)[1], encoding="utf-8")     # header removed
        os.utime(c_dir / name, (1_000_000, 1_000_000))
    assert stale_reason(open_asc_run(fresh_run), c_dir) == "stale generated C (older than the run's model_int8.tflite)"


@pytest.mark.toolchain
def test_build_generates_missing_c_and_flash_run_builds_missing_firmware(fresh_run, cli, tmp_path, monkeypatch):
    """`build` with RUN/c gone generates it and says so; `flash --run` with no firmware builds it,
    then hands the new image to the runner (a stand-in st-flash that records its arguments)."""
    require_cross_tools()
    shutil.rmtree(fresh_run / "c")
    code, out, err = cli("build", "--run", fresh_run, "--board", BOARD, "--json")
    assert code == 0, err
    assert f"{fresh_run / 'c'}: missing generated C (asc.h, asc.c, asc_data.h" in err and "generating it again" in err
    assert json.loads(out)["generated_dir"] == str((fresh_run / "c").resolve())
    shutil.rmtree(fresh_run / "build")
    calls = tmp_path / "calls.txt"
    stub = tmp_path / "st-flash"
    stub.write_text(f'#!/bin/sh\necho "$@" >> {calls}\n')
    stub.chmod(0o755)
    monkeypatch.setenv("ASC_TOOL_ST_FLASH", str(stub))
    code, out, err = cli("flash", "--board", BOARD, "--runner", "stlink", "--run", fresh_run)
    assert code == 0, err
    elf = fresh_run / "build" / "asc_fw.elf"
    assert f"{elf}: no firmware built for this run; building it" in err and elf.is_file()
    assert calls.read_text().split() == ["--reset", "write", str(elf.with_suffix(".bin")), "0x8000000"]
    code, out, err = cli("flash", "--board", BOARD, "--runner", "stlink", "--run", fresh_run)
    assert code == 0 and "building it" not in err                  # current firmware: flashed as it is
    before, later = elf.stat().st_mtime_ns, elf.stat().st_mtime + 5
    os.utime(fresh_run / "c" / "asc.c", (later, later))            # C changed after the build
    code, out, err = cli("flash", "--board", BOARD, "--runner", "stlink", "--run", fresh_run)
    assert code == 0 and f"{elf}: older than the generated C in {(fresh_run / 'c').resolve()}; building it" in err
    assert elf.stat().st_mtime_ns > before and len(calls.read_text().splitlines()) == 3


@pytest.mark.toolchain
def test_build_reports_memory_within_budget(firmware, cli):
    code, out, err = cli("build", "--run", firmware, "--board", BOARD, "--json")
    assert code == 0, err
    r = json.loads(out)
    s = r["sections"]
    assert 0 <= r["ram_bytes"] - (s.get(".data", 0) + s[".bss"] + s[".stack"]) < 16   # alignment only
    assert r["flash_bytes"] == s[".isr_vector"] + s[".text"] + s[".rodata"] + s.get(".data", 0)
    assert s[".stack"] == 4096 and r["ram_size_bytes"] == 98304
    assert r["ram_bytes"] <= 40 * 1024 and r["flash_bytes"] <= 64 * 1024       # of 96 KiB and 1 MiB
    board = firmware / "build"
    assert "LENGTH = 98304" in (board / "memory.ld").read_text()
    binary = (board / "asc_fw.bin").read_bytes()
    sp, reset = struct.unpack_from("<II", binary)
    assert 0x20000000 < sp <= 0x20000000 + r["ram_bytes"]                  # stack top inside SRAM1
    assert reset & 1 and 0x08000000 <= reset < 0x08000000 + r["flash_bytes"]  # thumb, in flash
    assert (board / "asc_fw.hex").read_text().startswith(":")
    assert memory_report(board / "asc_fw.elf", load_board(BOARD))["ram_bytes"] == r["ram_bytes"]


@pytest.mark.toolchain
def test_over_budget_is_exit_2_with_numbers(firmware, cli, tmp_path):
    code, out, err = cli("build", "--run", firmware, "--board", BOARD, "--build-dir", tmp_path / "big",
                         "--stack-size", 120000)
    assert code == 2
    assert "RAM overflowed by" in err and "region is 98,304 B" in err and "--stack-size" in err


def test_emulate_without_qemu_names_the_package(tmp_path, cli, monkeypatch):
    elf = tmp_path / "fw.elf"
    elf.write_bytes(b"\x7fELF")
    wav = tmp_path / "a.wav"
    import soundfile

    soundfile.write(wav, [0.0] * 1600, 16000)
    monkeypatch.setenv("ASC_TOOL_QEMU", "qemu-system-arm-not-installed")
    code, out, err = cli("emulate", "--elf", elf, "--feed", wav)
    assert code == 2 and "not found on PATH" in err and "bookworm-backports qemu-system-arm" in err


def test_emulate_with_missing_elf_is_exit_2(tmp_path, cli):
    wav = tmp_path / "a.wav"
    import soundfile

    soundfile.write(wav, [0.0] * 1600, 16000)
    code, out, err = cli("emulate", "--elf", tmp_path / "none.elf", "--feed", wav)
    assert code == 2 and "none.elf: ELF file not found" in err and "asc-tool build" in err
