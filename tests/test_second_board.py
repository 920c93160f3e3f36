"""The board file is the only source of board facts: a second board file (another name, a smaller
SRAM1, another stack, flash base, baud, USB ids, QEMU machine and runners) and every stage that
takes --board follows it: generate-c --check-ram, build (defines, linker script, memory report),
flash --dry-run, emulate and the monitor."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
import yaml
from conftest import require_tool
from test_firmware_build import require_cross_tools

from asc_toolchain.boards import DEFAULT_BOARD, load_board
from asc_toolchain.deploy.build import BuildConfig, board_defines, built_board, cmake_commands

FLASH_BASE = 0x08004000          # behind a 16 KB boot loader


def second_board(folder: Path, ram: int = 64 * 1024, cpu: dict | None = None) -> Path:
    """The default board's file with other numbers everywhere, written to FOLDER/small-l4.yaml."""
    data = yaml.safe_load(load_board(DEFAULT_BOARD).path.read_text(encoding="utf-8"))
    data["name"] = "small-l4"
    data["memory"]["ram"]["size"] = ram
    data["memory"]["flash"] = {"base": FLASH_BASE, "size": 512 * 1024}
    data["reserve"] = {"stack": 2048, "heap": 0}
    data["serial"] = {"uart": "USART2", "baud": 57600, "usb_vid": 0xF055, "usb_pid": 0x0001}
    data["qemu"] = {"machine": "small-l4-machine"}           # never started: only printed or probed
    data["runners"] = {"default": "openocd", "openocd": {"openocd_config": "board/small_l4.cfg"},
                       "pyocd": {"pyocd_target": "stm32l4small"}, "stlink": {}, "qemu": {}}
    if cpu:
        data["cpu"].update(cpu)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "small-l4.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


# -- generate-c --check-ram ----------------------------------------------------------------------

def test_check_ram_budgets_against_the_boards_ram_and_stack(quantized_run, tmp_path, cli):
    board = second_board(tmp_path / "fits")
    code, out, err = cli("generate-c", "--run", quantized_run, "--out", tmp_path / "c", "--board", board,
                         "--check-ram", "--json")
    assert code == 0, err
    budget = json.loads(out)["budget"]
    ram = budget["ram"]
    assert budget["board"] == "small-l4" and ram["limit_bytes"] == 64 * 1024
    assert ram["items"]["stack"] == 2048 and budget["flash"]["limit_bytes"] == 512 * 1024

    tiny = second_board(tmp_path / "tiny", ram=16 * 1024)
    code, out, err = cli("generate-c", "--run", quantized_run, "--out", tmp_path / "c2", "--board", tiny,
                         "--check-ram")
    need = ram["total_bytes"]                     # same model, same stack: the same estimate
    assert code == 2 and "Traceback" not in err
    assert f"model needs {need:,} B of RAM, small-l4 has 16,384 B" in err
    assert f"over by {need - 16 * 1024:,} B" in err
    assert not (tmp_path / "c2").exists()


# -- build ---------------------------------------------------------------------------------------

def test_cmake_values_follow_the_board(tmp_path):
    board = load_board(str(second_board(tmp_path, cpu={"core": "cortex-m7", "fpu": "fpv5-d16"})))
    d = board_defines(board, 16000)
    assert d["ASC_BOARD_NAME"] == "small-l4" and d["ASC_RAM_SIZE"] == "65536"
    assert d["ASC_STACK_SIZE"] == "2048" and d["ASC_UART_BAUD"] == "57600"
    assert d["ASC_FLASH_BASE"] == "0x8004000" and d["ASC_FLASH_SIZE"] == str(512 * 1024)
    configure, _ = cmake_commands(BuildConfig(board=board, gen_dir=tmp_path / "c", build_dir=tmp_path / "b"),
                                  {"cmake": "cmake"})
    assert {"-DASC_CPU=cortex-m7", "-DASC_FPU=fpv5-d16", "-DASC_FLOAT_ABI=hard",
            "-DASC_STACK_SIZE=2048"} <= set(configure)


@pytest.mark.toolchain
def test_build_links_for_the_boards_memory_stack_and_baud(quantized_run, tmp_path, cli):
    require_cross_tools()
    board = second_board(tmp_path)
    out_dir = tmp_path / "b"
    code, out, err = cli("build", "--run", quantized_run, "--board", board, "--build-dir", out_dir, "--json")
    assert code == 0, err
    r = json.loads(out)
    assert r["board"] == "small-l4" and r["ram_size_bytes"] == 64 * 1024
    assert r["sections"][".stack"] == r["stack_reserved_bytes"] == 2048
    assert r["flash_size_bytes"] == 512 * 1024
    memory_ld = (out_dir / "memory.ld").read_text()
    assert "LENGTH = 65536" in memory_ld and "ORIGIN = 0x8004000" in memory_ld
    assert "ASC_STACK_SIZE = 2048;" in memory_ld
    sp, reset = struct.unpack_from("<II", (out_dir / "asc_fw.bin").read_bytes())
    assert 0x20000000 < sp <= 0x20000000 + r["ram_bytes"]
    assert FLASH_BASE <= reset < FLASH_BASE + r["flash_bytes"]              # linked at the board's base
    flags = "".join(p.read_text() for p in out_dir.rglob("*") if p.name in ("build.ninja", "flags.make"))
    assert "-DASC_UART_BAUD=57600u" in flags and "-mcpu=cortex-m4" in flags and "-mfloat-abi=hard" in flags
    assert built_board(out_dir / "asc_fw.elf").name == "small-l4"        # what the qemu engine reads


# -- flash --dry-run -----------------------------------------------------------------------------

@pytest.fixture
def stub_path(tmp_path, monkeypatch):
    """A PATH with stub flash tools that must never run in a dry run (no QEMU: its probe is skipped)."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for name in ("st-flash", "openocd", "pyocd", "arm-none-eabi-objcopy"):
        (bindir / name).write_text("#!/bin/sh\necho stub ran >&2\nexit 99\n")
        (bindir / name).chmod(0o755)
    monkeypatch.setenv("PATH", str(bindir))
    monkeypatch.delenv("ASC_TOOL_BOARD", raising=False)
    return bindir


@pytest.mark.parametrize("runner,expected", [
    (None, "{bin}/openocd -f board/small_l4.cfg -c 'program {{{elf}}} verify reset exit'"),
    ("stlink", "{bin}/st-flash --reset write {image} 0x8004000"),
    ("pyocd", "{bin}/pyocd load -W -t stm32l4small {elf}"),
    ("qemu", "qemu-system-arm -M small-l4-machine -nographic"),
])
def test_flash_dry_run_follows_the_boards_runners(cli, stub_path, tmp_path, runner, expected):
    board = second_board(tmp_path)
    elf = tmp_path / "fw.elf"
    elf.write_bytes(b"\x7fELF")
    elf.with_suffix(".bin").write_bytes(b"\0" * 16)
    code, out, err = cli("flash", "--board", board, "--elf", elf, "--dry-run",
                         *(["--runner", runner] if runner else []))
    assert code == 0, err
    assert f"small-l4 with runner {runner or 'openocd'}" in err
    assert "would run: " + expected.format(bin=stub_path, elf=elf, image=elf.with_suffix(".bin")) in err
    assert "stub ran" not in err


def test_flash_list_shows_the_boards_default_first(cli, stub_path, tmp_path):
    code, out, _ = cli("flash", "--board", second_board(tmp_path), "--list", "--json")
    rows = json.loads(out)["runners"]
    assert code == 0 and [r["runner"] for r in rows] == ["openocd", "pyocd", "stlink", "qemu"]


# -- emulate and the monitor ---------------------------------------------------------------------

def test_emulate_asks_qemu_for_the_boards_machine(cli, tmp_path):
    import soundfile

    require_tool("qemu-system-arm")
    elf = tmp_path / "fw.elf"
    elf.write_bytes(b"\x7fELF")
    wav = tmp_path / "a.wav"
    soundfile.write(wav, [0.0] * 1600, 16000)
    code, out, err = cli("emulate", "--board", second_board(tmp_path), "--elf", elf, "--feed", wav)
    assert code == 2 and "has no machine 'small-l4-machine'" in err


def test_monitor_default_baud_and_usb_ids_follow_the_board(cli, tmp_path):
    board = second_board(tmp_path)
    code, out, err = cli("monitor", "serial", "--board", board, "--port", "loop://", "--duration", 0.2)
    assert code == 0 and "monitoring loop:// at 57600 baud" in err
    code, out, err = cli("monitor", "serial", "--board", board, "--port", "loop://", "--baud", 9600,
                         "--duration", 0.2)
    assert code == 0 and "at 9600 baud" in err
    code, out, err = cli("monitor", "serial", "--board", board, "--count", 1)
    assert code == 2 and "no serial port with USB vendor id 0xf055 and product id 0x0001" in err
