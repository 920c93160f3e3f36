"""The library calls (asc_toolchain.generate / validate / profile): importing the package stays
cheap, and each call returns the dict the CLI prints with --json."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import require_tool
from test_generator_model import small_model


def test_importing_the_package_loads_no_tensorflow_and_exposes_the_calls():
    code = ("import sys, asc_toolchain as asc; calls = [asc.generate, asc.validate, asc.profile]; "
            "print(json.dumps({'heavy': [m for m in ('tensorflow', 'keras', 'matplotlib', 'jinja2') "
            "if m in sys.modules], 'names': [c.__name__ for c in calls], 'dir': 'profile' in dir(asc)}))")
    out = subprocess.run([sys.executable, "-c", "import json; " + code], capture_output=True, text=True,
                         check=True).stdout
    assert json.loads(out) == {"heavy": [], "names": ["generate", "validate", "profile"], "dir": True}
    import asc_toolchain

    with pytest.raises(AttributeError):
        asc_toolchain.no_such_call


def test_generate_and_validate_return_what_the_cli_prints(tmp_path, cli):
    require_tool("cc")
    import asc_toolchain as asc

    model = small_model(tmp_path)
    out = tmp_path / "c"
    code, stdout, err = cli("generate-c", "--model", model, "--out", out, "--name", "tiny",
                            "--board", "b-l475e-iot01a", "--check-ram", "--json")
    assert code == 0, err
    from_cli = json.loads(stdout)
    from_api = asc.generate(model, out, name="tiny", board="b-l475e-iot01a", check_ram=True)
    assert json.loads(json.dumps(from_api)) == from_cli
    assert from_api["budget"]["ram"]["total_bytes"] <= from_api["budget"]["ram"]["limit_bytes"]

    code, stdout, err = cli("validate", "--model", model, "--c-dir", out, "--samples", "16", "--json")
    assert code == 0, err
    report = asc.validate(model, out, samples=16)
    assert json.loads(json.dumps(report)) == json.loads(stdout)
    assert (report["network"]["bit_exact"], report["network"]["total"]) == (16, 16)


def test_a_call_with_bad_input_raises_the_one_line_error(tmp_path):
    import asc_toolchain as asc
    from asc_toolchain.core.errors import ConfigError, RunError

    with pytest.raises(ConfigError, match="no such model file"):
        asc.generate(tmp_path / "missing.tflite", tmp_path / "out")
    with pytest.raises(ConfigError, match="unknown validation target"):
        asc.validate(small_model(tmp_path), tmp_path, on="gpu")
    with pytest.raises(RunError, match="no generated network"):
        asc.validate(small_model(tmp_path), tmp_path)
