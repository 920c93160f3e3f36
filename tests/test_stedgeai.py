"""--backend stedgeai: locating the program, the exact command line, the report parser, and the
clear failure when ST Edge AI Core is not installed (it cannot be installed here)."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from asc_toolchain.codegen import stedgeai
from asc_toolchain.core.executor import RecordingExecutor
from asc_toolchain.core.errors import ToolFailedError, ToolMissingError

REPORT = Path(__file__).parent / "data" / "stedgeai_report.txt"


def fake_stedgeai(folder: Path) -> Path:
    """A stand-in `stedgeai` that writes the recorded report where the real one would."""
    folder.mkdir(parents=True, exist_ok=True)
    prog = folder / "stedgeai"
    prog.write_text(
        f"#!{sys.executable}\n"
        "import shutil, sys\n"
        "out = sys.argv[sys.argv.index('--output') + 1]\n"
        f"shutil.copy({str(REPORT)!r}, out + '/asc_generate_report.txt')\n"
        "open(out + '/asc.c', 'w').write('/* from stedgeai */\\n')\n", encoding="utf-8")
    prog.chmod(prog.stat().st_mode | stat.S_IXUSR)
    return prog


def test_parse_recorded_report():
    r = stedgeai.parse_report(REPORT.read_text(encoding="utf-8"))
    assert (r["weights_bytes"], r["activations_bytes"], r["macc"]) == (7836, 5152, 501428)
    assert (r["input_bytes"], r["output_bytes"], r["io_bytes"]) == (960, 3, 963)
    assert r["stedgeai_version"] == "2.0.0"


def test_parse_report_missing_field_names_it():
    text = REPORT.read_text(encoding="utf-8").replace("activations (rw)", "scratch")
    with pytest.raises(ToolFailedError, match="activations_bytes"):
        stedgeai.parse_report(text, "out/asc_generate_report.txt")


def test_exact_command_line(tmp_path):
    prog = fake_stedgeai(tmp_path / "st")
    rec = RecordingExecutor(outputs={"stedgeai": REPORT.read_bytes()})
    r = stedgeai.generate(tmp_path / "run" / "model_int8.tflite", tmp_path / "out",
                          stedgeai_dir=tmp_path / "st", extra_args=["--compression", "none"],
                          executor=rec)
    assert rec.calls == [[str(prog), "generate", "--model", str(tmp_path / "run" / "model_int8.tflite"),
                          "--target", "stm32l4", "--name", "asc", "--output", str(tmp_path / "out"),
                          "--compression", "none"]]
    assert r["weights_bytes"] == 7836 and r["backend"] == "stedgeai"


def test_locate_in_st_install_layout(tmp_path):
    prog = fake_stedgeai(tmp_path / "stedgeai-core" / "Utilities" / "linux")
    assert stedgeai.locate(tmp_path / "stedgeai-core") == prog


def test_missing_program_says_where_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ToolMissingError, match="st.com"):
        stedgeai.locate()
    with pytest.raises(ToolMissingError, match="no stedgeai program"):
        stedgeai.locate(tmp_path)


@pytest.mark.slow
def test_cli_missing_stedgeai_exits_2_without_fallback(quantized_run, tmp_path, monkeypatch, cli):
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable) + os.pathsep + "/usr/bin")
    monkeypatch.delenv("ASC_TOOL_STEDGEAI_DIR", raising=False)
    out = tmp_path / "c"
    code, stdout, stderr = cli("generate-c", "--run", quantized_run, "--backend", "stedgeai", "--out", out)
    assert code == 2
    assert "stedgeai" in stderr and "st.com" in stderr and "Traceback" not in stderr
    assert not out.exists(), "nothing may be generated when the chosen backend is missing"


@pytest.mark.slow
def test_cli_stedgeai_from_env_dir(quantized_run, tmp_path, monkeypatch, cli):
    import json

    fake_stedgeai(tmp_path / "st")
    monkeypatch.setenv("ASC_TOOL_STEDGEAI_DIR", str(tmp_path / "st"))
    out = tmp_path / "c"
    code, stdout, stderr = cli("generate-c", "--run", quantized_run, "--backend", "stedgeai",
                               "--out", out, "--json")
    assert code == 0, stderr
    r = json.loads(stdout)
    assert (r["backend"], r["weights_bytes"], r["activations_bytes"], r["macc"]) == ("stedgeai", 7836, 5152, 501428)
    assert (out / "asc.c").read_text() == "/* from stedgeai */\n"
    assert (out / "asc_features.c").is_file()
