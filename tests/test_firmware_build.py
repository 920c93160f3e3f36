"""`asc-tool build`: board values reach the linker, ELF/BIN/HEX appear, the budget is enforced."""

from __future__ import annotations

import json
import struct

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


def test_build_without_generated_c_says_what_to_run(synth_run, cli):
    code, out, err = cli("build", "--run", synth_run, "--board", BOARD)
    assert code == 2
    assert "missing generated C" in err and "asc-tool generate-c --run" in err


@pytest.mark.toolchain
def test_build_reports_memory_within_budget(firmware, cli):
    code, out, err = cli("build", "--run", firmware, "--board", BOARD, "--json")
    assert code == 0, err
    r = json.loads(out)
    s = r["sections"]
    assert 0 <= r["ram_bytes"] - (s.get(".data", 0) + s[".bss"] + s[".stack"]) < 16   # alignment only
    assert r["flash_bytes"] == s[".isr_vector"] + s[".text"] + s[".rodata"] + s.get(".data", 0)
    assert s[".stack"] == 4096 and r["ram_size_bytes"] == 98304
    assert r["ram_bytes"] <= 40 * 1024 and r["flash_bytes"] <= 48 * 1024       # the firmware's goals
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
