"""Shared fixtures: a synthetic scene set, a small trained run, the real recordings when present."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# Session fixtures of the int8/C stages (a quantized run, the host build cache), defined once.
pytest_plugins = ["codegen_fixtures"]

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("ASC_TOOL_SHARED_DATA", REPO.parent / "shared" / "data"))
ASC_META = SHARED_DATA / "asc" / "metadata.csv"
SER_META = SHARED_DATA / "ser" / "metadata.csv"


TIERS = ("toolchain", "hil", "gpu", "slow")


def pytest_addoption(parser):
    parser.addoption("--port", default=None,
                     help="serial port (or URL) of a real B-L475E-IOT01A running the asc-tool firmware: runs the hil tier")
    parser.addoption("--baud", default=None, type=int, help="baud rate for --port (default: the board file's)")


def pytest_collection_modifyitems(config, items):
    """Unmarked tests are the `host` tier; `hil` tests skip (with the reason) unless --port is given."""
    skip_hil = pytest.mark.skip(reason="hil tier: needs a real board, pass --port PORT")
    for item in items:
        marks = {m.name for m in item.iter_markers()}
        if not marks & set(TIERS):
            item.add_marker(pytest.mark.host)
        if "hil" in marks and config.getoption("--port") is None:
            item.add_marker(skip_hil)


def require_shared(path: Path = ASC_META) -> Path:
    """Skip (with the reason) when the real recordings are not beside the checkout."""
    if not path.is_file():
        pytest.skip(f"real recordings not found at {path} (../shared/data beside the checkout)")
    return path


def first_clip_per_class(seconds: float = 4.2) -> list:
    """One real recording per class (the first by path), its first ``seconds``, as int16 PCM."""
    import csv

    from asc_toolchain.data.audio import load_audio
    from asc_toolchain.deploy.serial.hostfeed import to_int16

    require_shared(ASC_META)
    with open(ASC_META, newline="", encoding="utf-8") as fh:
        rows = sorted(csv.DictReader(fh), key=lambda r: r["path"])
    first = {}
    for row in rows:
        first.setdefault(row["label"], row["path"])
    return [(p, to_int16(load_audio(SHARED_DATA / p, 16000, seconds))) for p in first.values()]


def require_tool(name: str) -> str:
    """Skip when an external tool is missing, unless ASC_TOOL_REQUIRE_TOOLCHAIN=1 makes it a failure."""
    path = shutil.which(name)
    if path:
        return path
    if os.environ.get("ASC_TOOL_REQUIRE_TOOLCHAIN") == "1":
        pytest.fail(f"{name} is required (ASC_TOOL_REQUIRE_TOOLCHAIN=1) but not on PATH")
    pytest.skip(f"{name} not installed")


@pytest.fixture(scope="session")
def synth_dir(tmp_path_factory) -> Path:
    from asc_toolchain.data.synth import make_synth_dataset

    return make_synth_dataset(tmp_path_factory.mktemp("synth") / "scenes", per_class=6, seconds=5.0, seed=1)


@pytest.fixture(scope="session")
def synth_run(synth_dir, tmp_path_factory) -> Path:
    """A run trained for a few epochs on the synthetic set (shared by every test that needs one)."""
    from asc_toolchain.cli import main

    out = tmp_path_factory.mktemp("runs") / "synth-run"
    code = main(["train", "--data", str(synth_dir / "metadata.csv"), "--out", str(out),
                 "--epochs", "4", "--seed", "3", "--batch-size", "128"])
    assert code == 0
    return out


@pytest.fixture
def cli(capsys):
    """Run `asc-tool ARGS` in-process; returns (exit code, stdout, stderr)."""
    from asc_toolchain.cli import main

    def invoke(*args):
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return invoke
