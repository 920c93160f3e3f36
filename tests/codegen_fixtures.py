"""Session fixtures of the int8/C stages, loaded once through conftest.py (pytest_plugins)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def quantized_run(synth_run, tmp_path_factory) -> Path:
    """A copy of the synthetic run, quantized and with generated C in RUN/c (once per session:
    every test file that imports this fixture reuses the same folder)."""
    from asc_toolchain.cli import main

    path = tmp_path_factory.getbasetemp() / "quantized-run"
    if (path / "c" / "asc.c").is_file():
        return path
    shutil.rmtree(path, ignore_errors=True)
    shutil.copytree(synth_run, path)
    assert main(["quantize", "--run", str(path), "--representative", "100"]) == 0
    assert main(["generate-c", "--run", str(path)]) == 0
    return path


@pytest.fixture(scope="session")
def host_cache(tmp_path_factory):
    """Host builds go to a per-session cache, not the user's."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ASC_TOOL_CACHE", str(tmp_path_factory.getbasetemp() / "hostcache"))
        yield
