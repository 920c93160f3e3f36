"""The flash runners' command lines run by the real tools (openocd, st-flash, pyocd) up to the
point where a debug probe is needed: each tool accepts every argument of test_runners' argv
table and finds the board's configuration, and asc-tool turns "no probe" into one line saying
to connect the board / check the udev rule (exit 2). No probe may be plugged in here: these
commands would flash it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_runners import CASES, image  # noqa: F401 - image is a fixture

from asc_toolchain.boards import load_board
from asc_toolchain.core.errors import ToolFailedError
from asc_toolchain.core.executor import Executor
from asc_toolchain.core.locate import Locator, tool
from asc_toolchain.deploy.runners import RunnerConfig, make_runner

pytestmark = pytest.mark.toolchain

BOARD = "b-l475e-iot01a"
REAL = ("openocd", "stlink", "pyocd")        # installed by scripts/setup.sh (cubeprogrammer is not packaged)
TOOL_KEY = {"openocd": "openocd", "stlink": "st-flash", "pyocd": "pyocd"}
NO_PROBE_WORDS = {"openocd": "open failed", "stlink": "Couldn't find any ST-Link devices",
                  "pyocd": "No connected debug probe"}


def require_located(key: str) -> str:
    """The tool as the runners find it (PATH, then the virtual environment: pyocd); skip when it
    is missing, fail instead with ASC_TOOL_REQUIRE_TOOLCHAIN=1 (CI)."""
    found = Locator().which(key)
    if found:
        return found
    if os.environ.get("ASC_TOOL_REQUIRE_TOOLCHAIN") == "1":
        pytest.fail(f"{key} is required (ASC_TOOL_REQUIRE_TOOLCHAIN=1): {tool(key).install} (scripts/setup.sh)")
    pytest.skip(f"{key} not installed ({tool(key).install})")


@pytest.fixture(autouse=True)
def no_probe_attached():
    """Skip when an ST-LINK (USB vendor 0483) is on this machine's USB: a real flash would run."""
    vid = f"{load_board(BOARD).serial.usb_vid:04x}"
    for dev in Path("/sys/bus/usb/devices").glob("*/idVendor"):
        if dev.read_text().strip() == vid:
            pytest.skip(f"a USB device with vendor id {vid} is connected: these tests would flash it")


def real_runner(name: str, args: dict, elf: Path):
    require_located(TOOL_KEY[name])
    config = RunnerConfig(board=load_board(BOARD), elf=elf, executor=Executor(), locator=Locator(),
                          echo=lambda s: None)
    return make_runner(config, name, args, env={})


REAL_CASES = [c for c in CASES if c[0] in REAL]


@pytest.mark.parametrize("name,args,action,expected", REAL_CASES,
                         ids=[f"{c[0]}-{c[2]}-{k}" for k, c in enumerate(REAL_CASES)])
def test_tool_takes_every_argument_and_stops_at_the_probe(name, args, action, expected, image):  # noqa: F811
    with pytest.raises(ToolFailedError) as err:
        real_runner(name, args, image).run(action)
    text = str(err.value)
    assert text.startswith(f"no debug probe found: {Path(TOOL_KEY[name]).name} said")
    assert NO_PROBE_WORDS[name] in text and "ST-LINK USB port" in text and "udev" in text
    if args.get("dev_id"):
        assert f"check that {args['dev_id']} (--dev-id) is its serial number" in text


def test_openocd_finds_the_board_script_and_a_wrong_one_is_the_tools_error(image):  # noqa: F811
    script = load_board(BOARD).runners["openocd"]["openocd_config"]
    out = subprocess.run([require_located("openocd"), "-f", script, "-c", "shutdown"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "Can't find" not in out.stderr, out.stderr   # loads without a probe
    with pytest.raises(ToolFailedError) as err:
        real_runner("openocd", {"openocd_config": "board/no_such_board.cfg"}, image).run("flash")
    assert "command exited with status 1" in str(err.value) and "Can't find board/no_such_board.cfg" in str(err.value)


def test_pyocd_knows_the_board_target():
    target = load_board(BOARD).runners["pyocd"]["pyocd_target"]
    out = subprocess.run([require_located("pyocd"), "list", "--targets"], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert any(line.split()[:1] == [target] and "builtin" in line for line in out.stdout.splitlines())


def test_st_flash_rejects_what_it_does_not_know(image):  # noqa: F811
    """The check is real: st-flash says "invalid command line" (not "no probe") to a bad flag."""
    out = subprocess.run([require_located("st-flash"), "--verify", "write", str(image), "0x8000000"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and "invalid command line" in out.stdout + out.stderr


@pytest.mark.parametrize("name", REAL)
def test_cli_without_a_board_is_one_line_exit_2(name, image, tmp_path):  # noqa: F811
    require_located(TOOL_KEY[name])
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run([sys.executable, "-m", "asc_toolchain.cli", "flash", "--board", BOARD, "--runner", name,
                           "--elf", str(image)], capture_output=True, text=True, timeout=180, env=env,
                          cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert f"no debug probe found: {Path(TOOL_KEY[name]).name} said" in lines[-1]
    assert "connect the board's ST-LINK USB port" in lines[-1] and "udev" in lines[-1]
    assert "Traceback" not in proc.stderr
