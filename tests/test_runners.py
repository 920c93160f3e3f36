"""Flash runners: exact command lines for several option sets, option checks, the registry,
missing tools, the mass-storage drive, and `asc-tool flash --dry-run` as a user runs it."""

from __future__ import annotations

import os
import stat
import threading
import time
from pathlib import Path

import pytest

from asc_toolchain.boards import load_board
from asc_toolchain.core.errors import ConfigError, ToolFailedError, ToolMissingError
from asc_toolchain.core.executor import Executor, RecordingExecutor
from asc_toolchain.core.locate import FixedLocator, Locator
from asc_toolchain.deploy.runners import RUNNERS, RunnerConfig, board_runners, make_runner
from asc_toolchain.deploy.runners.mass_storage import find_drives

TOOLS = {"st-flash": "/t/st-flash", "openocd": "/t/openocd", "cubeprogrammer": "/t/STM32_Programmer_CLI",
         "pyocd": "/t/pyocd", "gdb": "/t/gdb-multiarch", "qemu": "/t/qemu-system-arm",
         "objcopy": "/t/arm-none-eabi-objcopy"}
GDB = ["/t/gdb-multiarch", "-nx", "--batch", "-ex", "set pagination off", "-ex", "set confirm off"]
MACHINES = b"Supported machines are:\nb-l475e-iot01a       B-L475E-IOT01A Discovery Kit (Cortex-M4)\n"
QEMU_PROBE = ["/t/qemu-system-arm", "-M", "help"]
QEMU = ["/t/qemu-system-arm", "-M", "b-l475e-iot01a", "-nographic", "-monitor", "none", "-icount", "shift=0"]


@pytest.fixture
def image(tmp_path) -> Path:
    """An ELF with an up-to-date .bin beside it (as `asc-tool build` leaves them)."""
    elf = tmp_path / "fw.elf"
    elf.write_bytes(b"\x7fELF")
    time.sleep(0.01)
    elf.with_suffix(".bin").write_bytes(b"\0" * 16)
    return elf


def commands_of(name: str, args: dict, elf: Path, action: str = "flash") -> list[list[str]]:
    board = load_board("b-l475e-iot01a")
    executor = RecordingExecutor(outputs={"qemu-system-arm": MACHINES})
    config = RunnerConfig(board=board, elf=elf, executor=executor, locator=FixedLocator(TOOLS), echo=lambda s: None)
    make_runner(config, name, args, env={}).run(action)
    return executor.calls


# (runner, explicit options, action, expected command lines with ELF / BIN placeholders)
CASES = [
    ("stlink", {}, "flash", [["/t/st-flash", "--reset", "write", "BIN", "0x8000000"]]),
    ("stlink", {"dev_id": "066DFF", "speed": 4000, "erase": True, "reset": False}, "flash",
     [["/t/st-flash", "--serial", "066DFF", "--freq=4000k", "erase"],
      ["/t/st-flash", "--serial", "066DFF", "--freq=4000k", "write", "BIN", "0x8000000"]]),
    ("stlink", {}, "erase", [["/t/st-flash", "erase"]]),
    ("stlink", {"dev_id": "X1"}, "reset", [["/t/st-flash", "--serial", "X1", "reset"]]),
    ("openocd", {}, "flash",
     [["/t/openocd", "-f", "board/st_b-l475e-iot01a.cfg", "-c", "program {ELF} verify reset exit"]]),
    ("openocd", {"dev_id": "066D", "speed": 1800, "verify": False, "reset": False, "erase": True}, "flash",
     [["/t/openocd", "-f", "board/st_b-l475e-iot01a.cfg", "-c", "adapter serial 066D", "-c", "adapter speed 1800",
       "-c", "init", "-c", "reset halt", "-c", "flash erase_sector 0 0 last", "-c", "program {ELF} exit"]]),
    ("openocd", {"openocd_config": "board/stm32l476g-disco.cfg"}, "reset",
     [["/t/openocd", "-f", "board/stm32l476g-disco.cfg", "-c", "init", "-c", "reset run", "-c", "shutdown"]]),
    ("cubeprogrammer", {}, "flash",
     [["/t/STM32_Programmer_CLI", "-c", "port=SWD", "-w", "ELF", "-v", "-s", "0x8000000"]]),
    ("cubeprogrammer", {"dev_id": "0670FF", "speed": 4000, "erase": True, "verify": False, "reset": False}, "flash",
     [["/t/STM32_Programmer_CLI", "-c", "port=SWD", "sn=0670FF", "freq=4000", "-e", "all", "-w", "ELF"]]),
    ("cubeprogrammer", {"cube_port": "JTAG"}, "erase", [["/t/STM32_Programmer_CLI", "-c", "port=JTAG", "-e", "all"]]),
    ("pyocd", {}, "flash", [["/t/pyocd", "load", "-W", "-t", "stm32l475xg", "ELF"]]),
    ("pyocd", {"dev_id": "0671FF", "speed": 4000, "erase": True, "reset": False}, "flash",
     [["/t/pyocd", "load", "-W", "-t", "stm32l475xg", "-u", "0671FF", "-f", "4000k", "-e", "chip", "--no-reset", "ELF"]]),
    ("pyocd", {"pyocd_target": "stm32l476rg"}, "erase", [["/t/pyocd", "erase", "-W", "-t", "stm32l476rg", "--chip"]]),
    ("gdb", {}, "flash", [GDB + ["-ex", "target extended-remote localhost:1234", "-ex", "load", "-ex",
                                 "compare-sections", "-ex", "monitor reset", "-ex", "detach", "ELF"]]),
    ("gdb", {"gdb_remote": "localhost:3333", "gdb_server": "openocd", "verify": False}, "flash",
     [GDB + ["-ex", "target extended-remote localhost:3333", "-ex", "load", "-ex", "monitor reset run",
             "-ex", "detach", "ELF"]]),
    ("gdb", {"gdb_server": "qemu", "reset": False}, "flash",
     [GDB + ["-ex", "target extended-remote localhost:1234", "-ex", "load", "-ex", "compare-sections",
             "-ex", "detach", "ELF"]]),
    ("gdb", {"gdb_server": "qemu", "gdb_remote": "127.0.0.1:5000"}, "reset",
     [GDB + ["-ex", "target extended-remote 127.0.0.1:5000", "-ex", "monitor system_reset", "-ex", "detach"]]),
    ("qemu", {"timeout": 5}, "flash",
     [QEMU_PROBE, QEMU + ["-serial", "tcp:127.0.0.1:4444,server=on,wait=on,nodelay=on", "-kernel", "ELF"]]),
    ("qemu", {"halt": True, "serial_port": 5000, "gdb_port": 5001, "timeout": 5}, "flash",
     [QEMU_PROBE, QEMU + ["-serial", "tcp:127.0.0.1:5000,server=on,wait=off", "-gdb", "tcp:127.0.0.1:5001", "-S"]]),
]


@pytest.mark.parametrize("name,args,action,expected", CASES,
                         ids=[f"{c[0]}-{c[2]}-{k}" for k, c in enumerate(CASES)])
def test_exact_command_lines(name, args, action, expected, image):
    subst = {"ELF": str(image), "BIN": str(image.with_suffix(".bin")), "{ELF}": "{" + str(image) + "}"}

    def fill(word):
        for key, value in subst.items():
            word = word.replace(key, value) if key.startswith("{") else (value if word == key else word)
        return word

    assert commands_of(name, args, image, action) == [[fill(w) for w in argv] for argv in expected]


def test_qemu_runner_reuses_the_emulate_stage_command(image):
    from asc_toolchain.deploy.emulate import qemu_command

    got = commands_of("qemu", {"timeout": 5, "serial_port": 4555}, image)[-1]
    assert got == qemu_command("/t/qemu-system-arm", image, "b-l475e-iot01a", 4555)


def test_stale_bin_is_remade_with_objcopy(tmp_path):
    elf = tmp_path / "fw.elf"
    elf.with_suffix(".bin").write_bytes(b"old")
    time.sleep(0.01)
    elf.write_bytes(b"\x7fELF")
    calls = commands_of("stlink", {}, elf)
    assert calls[0] == ["/t/arm-none-eabi-objcopy", "-O", "binary", str(elf), str(elf.with_suffix(".bin"))]
    assert calls[1][-3:] == ["write", str(elf.with_suffix(".bin")), "0x8000000"]


@pytest.mark.parametrize("name,args,flag", [("stlink", {"verify": False}, "--verify"),
                                           ("pyocd", {"verify": True}, "--verify"),
                                           ("mass-storage", {"dev_id": "X"}, "--dev-id"),
                                           ("qemu", {"erase": True}, "--erase"),
                                           ("gdb", {"speed": 4000}, "--speed")])
def test_unsupported_option_is_rejected_naming_the_flag(name, args, flag, image):
    with pytest.raises(ConfigError) as err:
        commands_of(name, args, image)
    assert f"runner {name!r} does not support {flag}" in str(err.value)


def test_unsupported_action_is_rejected(image):
    with pytest.raises(ConfigError, match="runner 'qemu' cannot erase"):
        commands_of("qemu", {}, image, "erase")


def test_registry_is_sorted_and_board_default_comes_first():
    assert list(RUNNERS) == sorted(RUNNERS)
    assert set(RUNNERS) == {"stlink", "openocd", "cubeprogrammer", "pyocd", "mass-storage", "gdb", "qemu"}
    listed = board_runners(load_board("b-l475e-iot01a"))
    assert listed[0] == "stlink" and sorted(listed) == sorted(RUNNERS)


def test_precedence_board_then_environment_then_command_line(image):
    board = load_board("b-l475e-iot01a")
    executor = RecordingExecutor()
    config = RunnerConfig(board=board, elf=image, executor=executor, locator=FixedLocator(TOOLS), echo=lambda s: None)
    make_runner(config, "gdb", {}, env={"ASC_TOOL_GDB_REMOTE": "envhost:2331"}).run("flash")
    make_runner(config, "gdb", {"gdb_remote": "cli:1"}, env={"ASC_TOOL_GDB_REMOTE": "envhost:2331"}).run("flash")
    make_runner(config, "gdb", {}, env={}).run("flash")
    remotes = [next(w for w in argv if w.startswith("target ")) for argv in executor.calls]
    assert remotes == ["target extended-remote envhost:2331", "target extended-remote cli:1",
                       "target extended-remote localhost:1234"]


def test_bad_board_runner_block_names_the_file(tmp_path, image):
    text = Path(load_board("b-l475e-iot01a").path).read_text(encoding="utf-8")
    bad = tmp_path / "board.yaml"
    bad.write_text(text.replace("openocd_config:", "openocd_cfg:"), encoding="utf-8")
    config = RunnerConfig(board=load_board(str(bad)), elf=image, executor=RecordingExecutor(),
                          locator=FixedLocator(TOOLS), echo=lambda s: None)
    with pytest.raises(ConfigError, match=r"board\.yaml: runners\.openocd has unknown option\(s\) openocd_cfg"):
        make_runner(config, "openocd", {}, env={})


def test_missing_tool_names_the_package(image):
    config = RunnerConfig(board=load_board("b-l475e-iot01a"), elf=image, executor=RecordingExecutor(),
                          locator=FixedLocator({}), echo=lambda s: None)
    with pytest.raises(ToolMissingError) as err:
        make_runner(config, "stlink", {}, env={}).run("flash")
    assert "st-flash not found" in str(err.value) and "apt-get install stlink-tools" in str(err.value)


def test_locator_search_order(tmp_path):
    prog = tmp_path / "openocd"
    prog.write_text("#!/bin/sh\n")
    prog.chmod(prog.stat().st_mode | stat.S_IXUSR)
    assert Locator(env={}, path=str(tmp_path)).which("openocd") == str(prog)
    assert Locator(env={"ASC_TOOL_OPENOCD": str(prog)}, path="/nonexistent").which("openocd") == str(prog)
    with pytest.raises(ToolMissingError, match="ASC_TOOL_PYOCD=/no/pyocd is not an executable"):
        Locator(env={"ASC_TOOL_PYOCD": "/no/pyocd"}, path="").find("pyocd")


def test_executor_reports_failures_with_status_and_command(tmp_path):
    with pytest.raises(ToolFailedError) as err:
        Executor().run(["sh", "-c", "echo flash error >&2; exit 3", "x y"])
    assert "command exited with status 3: sh -c 'echo flash error >&2; exit 3' 'x y'" in str(err.value)
    assert "flash error" in str(err.value)
    echoed = []
    done = Executor(dry_run=True, echo=echoed.append).run(["rm", "-rf", str(tmp_path)])
    assert done.returncode == 0 and tmp_path.is_dir() and echoed == [f"would run: rm -rf {tmp_path}"]


# -- mass storage ----------------------------------------------------------------------------------

def test_find_drives_by_folder_name():
    mounts = ("/dev/sda1 / ext4 rw 0 0\n/dev/sdb /media/ann/DIS_L4IOT vfat rw 0 0\n"
              "/dev/sdc /media/ann/My\\040Disk vfat rw 0 0\n")
    assert find_drives("DIS_L4IOT", mounts, label_dir=Path("/nonexistent")) == [Path("/media/ann/DIS_L4IOT")]
    assert find_drives("My Disk", mounts, label_dir=Path("/nonexistent")) == [Path("/media/ann/My Disk")]
    assert find_drives("NODE_L476RG", mounts, label_dir=Path("/nonexistent")) == []


def _fake_stlink_drive(drive: Path, name: str, fail_text: str | None) -> threading.Thread:
    """Behaves like the ST-LINK firmware: takes the file, then shows FAIL.TXT on failure."""
    def take():
        deadline = time.monotonic() + 5
        while not (drive / name).exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.1)
        (drive / name).unlink()
        if fail_text:
            (drive / "FAIL.TXT").write_text(fail_text)
    thread = threading.Thread(target=take, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("fail_text", [None, "The application file format is unknown\r\n"])
def test_mass_storage_copies_and_reports_fail_txt(tmp_path, image, fail_text):
    drive = tmp_path / "DIS_L4IOT"
    drive.mkdir()
    thread = _fake_stlink_drive(drive, "fw.bin", fail_text)
    config = RunnerConfig(board=load_board("b-l475e-iot01a"), elf=image, executor=Executor(),
                          locator=FixedLocator(TOOLS), echo=lambda s: None)
    runner = make_runner(config, "mass-storage", {"drive": str(drive), "timeout": 5}, env={})
    if fail_text:
        with pytest.raises(ToolFailedError, match="FAIL.TXT says 'The application file format is unknown'"):
            runner.run("flash")
    else:
        runner.run("flash")
    thread.join()


def test_mass_storage_times_out_when_the_drive_keeps_the_file(tmp_path, image):
    drive = tmp_path / "NOT_STLINK"
    drive.mkdir()
    config = RunnerConfig(board=load_board("b-l475e-iot01a"), elf=image, executor=Executor(),
                          locator=FixedLocator(TOOLS), echo=lambda s: None)
    with pytest.raises(ToolFailedError, match="still holds fw.bin after 0.5 s"):
        make_runner(config, "mass-storage", {"drive": str(drive), "timeout": 0.5}, env={}).run("flash")


# -- the command as a user runs it -----------------------------------------------------------------

@pytest.fixture
def fake_path(tmp_path, monkeypatch):
    """A PATH holding only stub programs for every flash tool (they must never run in a dry run)."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for name in ("st-flash", "openocd", "STM32_Programmer_CLI", "pyocd", "gdb-multiarch", "qemu-system-arm",
                 "arm-none-eabi-objcopy"):
        stub = bindir / name
        stub.write_text('#!/bin/sh\nif [ "$2" = help ]; then echo "b-l475e-iot01a  B-L475E-IOT01A"; exit 0; fi\n'
                        "echo stub ran >&2\nexit 99\n")
        stub.chmod(0o755)
    monkeypatch.setenv("PATH", str(bindir))
    for var in [v for v in os.environ if v.startswith("ASC_TOOL_") and v != "ASC_TOOL_REQUIRE_TOOLCHAIN"]:
        monkeypatch.delenv(var)
    return bindir


@pytest.mark.parametrize("runner,expected", [
    ("stlink", "st-flash --reset write {bin} 0x8000000"),
    ("openocd", "openocd -f board/st_b-l475e-iot01a.cfg -c 'program {{{elf}}} verify reset exit'"),
    ("cubeprogrammer", "STM32_Programmer_CLI -c port=SWD -w {elf} -v -s 0x8000000"),
    ("pyocd", "pyocd load -W -t stm32l475xg {elf}"),
    ("gdb", "gdb-multiarch -nx --batch -ex 'set pagination off' -ex 'set confirm off' -ex 'target "
            "extended-remote localhost:1234' -ex load -ex compare-sections -ex 'monitor reset' -ex detach {elf}"),
    ("qemu", "qemu-system-arm -M b-l475e-iot01a -nographic -monitor none -icount shift=0 "
             "-serial tcp:127.0.0.1:4444,server=on,wait=on,nodelay=on -kernel {elf}"),
    ("mass-storage", "copy {bin} {drive}/fw.bin"),
])
def test_cli_dry_run_prints_each_runners_command(cli, fake_path, image, tmp_path, runner, expected):
    drive = tmp_path / "DIS_L4IOT"
    drive.mkdir()
    extra = ["--drive", drive] if runner == "mass-storage" else []
    code, out, err = cli("flash", "--runner", runner, "--elf", image, "--dry-run", *extra)
    assert code == 0, err
    line = expected.format(elf=image, bin=image.with_suffix(".bin"), drive=drive)
    assert f"would run: {fake_path}/{line}" in err or f"would run: {line}" in err
    assert "stub ran" not in err and not list(drive.iterdir())


def test_cli_missing_tool_exits_2_naming_the_package(cli, fake_path, image):
    (fake_path / "openocd").unlink()
    code, out, err = cli("flash", "--runner", "openocd", "--elf", image)
    assert code == 2
    assert "openocd not found on PATH" in err and "apt-get install openocd" in err


def test_cli_tool_failure_exits_2_with_status_and_command(cli, fake_path, image):
    code, out, err = cli("flash", "--runner", "pyocd", "--elf", image)
    assert code == 2
    assert f"command exited with status 99: {fake_path}/pyocd load -W -t stm32l475xg {image}" in err


def test_cli_default_runner_and_unknown_runner(cli, fake_path, image):
    code, _, err = cli("flash", "--elf", image, "--dry-run")
    assert code == 0 and "with runner stlink" in err
    code, _, err = cli("flash", "--runner", "jlink", "--elf", image)
    assert code == 2 and "jlink" in err


def test_cli_run_without_firmware_says_how_to_build(cli, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "manifest.json").write_text('{"target": "stm32-asc", "class_names": ["indoor", "outdoor", "vehicle"]}')
    code, _, err = cli("flash", "--runner", "gdb", "--run", run, "--dry-run")
    assert code == 2 and "asc-tool build --run" in err


def test_cli_list_runners_json(cli, fake_path):
    import json

    code, out, _ = cli("flash", "--list", "--json")
    rows = json.loads(out)["runners"]
    assert code == 0 and rows[0]["runner"] == "stlink" and rows[0]["default"]
    by_name = {r["runner"]: r for r in rows}
    assert by_name["pyocd"]["tool_path"] == str(fake_path / "pyocd")
    assert "verify" not in by_name["stlink"]["options"] and "flash" in by_name["qemu"]["commands"]
