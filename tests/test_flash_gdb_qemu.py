"""The gdb and qemu runners for real: QEMU's B-L475E-IOT01A started halted with an empty flash,
the built firmware ELF loaded through its GDB server, the boot line read over the serial port;
then the user flow: `asc-tool flash --runner qemu --halt` in one terminal, `asc-tool flash --runner
gdb` and `asc-tool monitor serial --feed` in another, classifications equal to the host's."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import require_tool
from test_firmware_build import firmware  # noqa: F401

from asc_toolchain.boards import load_board
from asc_toolchain.core.executor import Executor
from asc_toolchain.deploy.runners import RunnerConfig, make_runner
from asc_toolchain.deploy.runners.qemu import stop
from asc_toolchain.deploy.serial.port import open_url

pytestmark = pytest.mark.toolchain
BOARD = "b-l475e-iot01a"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port: int, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing listens on port {port} after {timeout_s} s")


def read_lines(port, seconds: float) -> list[dict]:
    from asc_toolchain.deploy.serial.resultline import parse_line

    lines, buf, deadline = [], b"", time.monotonic() + seconds
    while time.monotonic() < deadline:
        buf += port.read(port.in_waiting or 1)
        *done, buf = buf.split(b"\n")
        lines += [line for line in map(parse_line, done) if line]
        if any(line["type"] == "boot" for line in lines):
            break
    return lines


@pytest.fixture(scope="module")
def elf(firmware) -> Path:  # noqa: F811
    from asc_toolchain.core.locate import Locator

    require_tool("qemu-system-arm")
    if Locator().which("gdb") is None:
        require_tool("gdb-multiarch")
    return firmware / "build" / "asc_fw.elf"


def test_gdb_runner_loads_the_elf_into_the_halted_emulated_board(elf):
    board = load_board(BOARD)
    serial_port, gdb_port = free_port(), free_port()
    quiet = RunnerConfig(board=board, executor=Executor(), echo=lambda s: None)
    qemu = make_runner(quiet, "qemu", {"halt": True, "serial_port": serial_port, "gdb_port": gdb_port}, env={})
    proc = qemu.start()
    try:
        wait_listening(gdb_port)
        port = open_url(qemu.serial_url(), timeout=0.2)
        assert read_lines(port, 1.0) == []                  # empty flash, halted: not a word
        flashed = RunnerConfig(board=board, elf=elf, executor=Executor(), echo=lambda s: None)
        make_runner(flashed, "gdb", {"gdb_remote": f"127.0.0.1:{gdb_port}", "gdb_server": "qemu"}, env={}).run()
        boot = [line for line in read_lines(port, 20.0) if line["type"] == "boot"]
        port.close()
    finally:
        stop(proc)
    manifest = json.loads((elf.parent.parent / "manifest.json").read_text())
    assert boot and boot[0]["board"] == BOARD and boot[0]["classes"] == manifest["class_names"]


def test_gdb_runner_failure_names_the_command(elf, cli):
    code, _, err = cli("flash", "--runner", "gdb", "--elf", elf, "--gdb-remote", f"127.0.0.1:{free_port()}",
                       "--timeout", 60)
    assert code == 2 and "command exited with status 1:" in err and "target extended-remote 127.0.0.1:" in err


def test_user_flow_build_flash_gdb_monitor_feed_equals_host(firmware, host_cache, synth_dir, cli, tmp_path):  # noqa: F811
    require_tool("qemu-system-arm")
    serial_port, gdb_port = free_port(), free_port()
    url = f"socket://127.0.0.1:{serial_port}"
    terminal1 = subprocess.Popen([sys.executable, "-m", "asc_toolchain.cli", "flash", "--runner", "qemu", "--halt",
                                  "--serial-port", str(serial_port), "--gdb-port", str(gdb_port), "--timeout", "300"],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_listening(gdb_port, 60)
        code, _, err = cli("flash", "--runner", "gdb", "--gdb-server", "qemu", "--gdb-remote",
                           f"localhost:{gdb_port}", "--run", firmware)
        assert code == 0, err
        clips = sorted(Path(synth_dir).rglob("*.wav"))[:2]
        log = tmp_path / "board.jsonl"
        code, out, err = cli("monitor", "serial", "--port", url, "--feed", clips[0], "--feed", clips[1],
                             "--run", firmware, "--log", log, "--json")
        assert code == 0, err
    finally:
        terminal1.send_signal(signal.SIGTERM)
        banner = terminal1.communicate(timeout=30)[0].decode()
    summary = json.loads(out)
    host = summary["host"]
    assert summary["boot"]["board"] == BOARD and summary["faults"] == 0
    assert host["windows"] >= 2 * 2 and host["labels_equal"] == host["windows"] == host["scores_equal"]
    assert host["labels_equal_pct"] == 100.0
    assert [c["board_labels"] for c in host["clips"]] == [c["host_labels"] for c in host["clips"]]
    assert sum(1 for line in log.read_text().splitlines() if json.loads(line)["type"] == "result") == host["windows"]
    assert f"serial {url}" in banner and "asc-tool flash --runner gdb" in banner
    with pytest.raises(OSError):                             # QEMU went with the command that started it
        socket.create_connection(("127.0.0.1", serial_port), timeout=1).close()


def test_qemu_runner_refuses_a_missing_elf(cli, tmp_path):
    require_tool("qemu-system-arm")
    code, _, err = cli("flash", "--runner", "qemu", "--elf", tmp_path / "nope.elf", "--timeout", 5)
    assert code == 2 and "nope.elf: ELF file not found" in err
