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


# -- real ST Edge AI Core 1.0 reports (../shared/fixtures/stedgeai) --------------------------------

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "stedgeai"
TEXT = "sww_model_generate_report.txt"
JSONS = ("sww_model_strm_ww_int8.tflite_report.json", "sww_model_strm_ww_int8.tflite_c_graph.json",
         "sww_model_strm_ww_int8.tflite_c_info.json")
needs_fixtures = pytest.mark.skipif(not (FIXTURES / TEXT).is_file(),
                                    reason=f"the real stedgeai reports are not here ({FIXTURES})")
C_LAYERS = ["conv2d_0", "conv2d_1", "conv2d_2", "conv2d_3", "conv2d_4", "conv2d_5", "conv2d_6",
            "conv2d_7", "gemm_9", "nl_10"]
C_OPS = ["DEPTHWISE_CONV_2D", "CONV_2D"] * 4 + ["FULLY_CONNECTED", "SOFTMAX"]


@needs_fixtures
def test_real_text_report():
    r = stedgeai.read_report(FIXTURES / TEXT)
    assert (r["macc"], r["weights_bytes"], r["activations_bytes"]) == (827_256, 49_412, 10_116)
    assert r["report_format"] == "text" and r["stedgeai_version"] == "1.0.0"
    assert (r["input"]["shape"], r["input"]["bytes"]) == ([1, 30, 1, 40], 1200)
    assert r["input"]["zero_point"] == -128
    assert r["io_bytes"] == 1203
    layers = r["layers"]
    assert [x["name"] for x in layers] == C_LAYERS
    assert [x["op"] for x in layers] == C_OPS
    # The report's "Number of operations per c-layer" total and its weights equal the rows' sums.
    assert sum(x["macc"] for x in layers) == r["macc"]
    assert sum(x["weights_bytes"] for x in layers) == r["weights_bytes"]
    assert layers[3] == {"name": "conv2d_3", "kind": "Conv2D", "op": "CONV_2D",
                         "output_shape": [1, 24, 1, 128], "macc": 393_344, "weights_bytes": 16_896}


@needs_fixtures
@pytest.mark.parametrize("name", JSONS)
def test_real_json_reports_each(name):
    r = stedgeai.read_report(FIXTURES / name)
    assert (r["macc"], r["weights_bytes"], r["activations_bytes"]) == (652_551, 23_520, 5_836)
    assert r["report_format"] == "json" and r["io_bytes"] == 1203
    if name == JSONS[0]:
        # Alone, *_report.json has only the model layers (before fusion): more MACC than the C.
        assert r["layers_level"] == "model" and len(r["layers"]) == 15
        assert sum(x["macc"] for x in r["layers"]) == 835_864 > r["macc"]
    else:
        assert r["layers_level"] == "c" and [x["name"] for x in r["layers"]] == C_LAYERS
        assert sum(x["macc"] for x in r["layers"]) == r["macc"]
        assert r["layers"][1]["output_shape"] == [28, 1, 108] and r["layers"][1]["macc"] == 141_246


@needs_fixtures
def test_real_report_folder_prefers_json(tmp_path):
    import shutil

    for name in (TEXT, *JSONS):
        shutil.copy(FIXTURES / name, tmp_path / name)
    r = stedgeai.read_report(tmp_path)
    assert r["report_format"] == "json" and r["macc"] == 652_551
    assert sorted(Path(p).name for p in r["report_files"]) == sorted(JSONS)
    assert [x["op"] for x in r["layers"]] == C_OPS      # TFLite ops from *_report.json
    assert r["input"]["scale"] == pytest.approx(0.003701043) and r["output"]["bytes"] == 3
    (tmp_path / JSONS[0]).unlink()
    (tmp_path / JSONS[1]).unlink()
    (tmp_path / JSONS[2]).unlink()
    assert stedgeai.read_report(tmp_path)["macc"] == 827_256   # the text report otherwise


@needs_fixtures
def test_damaged_reports_name_the_file(tmp_path):
    text = (FIXTURES / TEXT).read_text(encoding="utf-8")
    bad = tmp_path / "cut_generate_report.txt"
    bad.write_text(text.replace("\n6      conv2d_6", "\n"), encoding="utf-8")  # a C-Layers row lost
    with pytest.raises(ToolFailedError, match="cut_generate_report.txt.*C-Layers"):
        stedgeai.read_report(bad)
    bad_json = tmp_path / "x_c_graph.json"
    bad_json.write_text((FIXTURES / JSONS[1]).read_text(encoding="utf-8")[:5000], encoding="utf-8")
    with pytest.raises(ToolFailedError, match="x_c_graph.json: not valid JSON"):
        stedgeai.read_report(bad_json)
    bad_json.write_text('{"macc": 1, "c_layers": []}', encoding="utf-8")
    with pytest.raises(ToolFailedError, match="x_c_graph.json: missing or malformed field"):
        stedgeai.read_report(bad_json)


def test_not_a_report_is_one_line(tmp_path, cli):
    code, stdout, stderr = cli("stedgeai-report", tmp_path)
    assert code == 2 and "no ST Edge AI Core report" in stderr and "Traceback" not in stderr


@needs_fixtures
def test_cli_stedgeai_report_json(cli):
    import json

    code, stdout, stderr = cli("stedgeai-report", FIXTURES / TEXT, "--json")
    assert code == 0, stderr
    r = json.loads(stdout)
    assert (r["backend"], r["macc"], r["weights_bytes"], r["activations_bytes"]) == (
        "stedgeai", 827_256, 49_412, 10_116)
    assert len(r["layers"]) == 10
    code, stdout, stderr = cli("stedgeai-report", FIXTURES)
    assert code == 0 and "652,551" in stderr and "conv2d_3" in stderr


@needs_fixtures
def test_generate_reads_real_report_written_by_stedgeai(tmp_path):
    """`generate` reads whatever report stedgeai leaves in --output (here the real text one)."""
    import shutil

    out = tmp_path / "out"
    out.mkdir()
    shutil.copy(FIXTURES / TEXT, out / "asc_generate_report.txt")
    fake_stedgeai(tmp_path / "st")
    rec = RecordingExecutor(outputs={"stedgeai": b""})
    r = stedgeai.generate(tmp_path / "m.tflite", out, stedgeai_dir=tmp_path / "st", executor=rec)
    assert (r["macc"], r["weights_bytes"], len(r["layers"])) == (827_256, 49_412, 10)


@needs_fixtures
def test_cli_generate_model_with_stedgeai_reads_its_report(tmp_path, monkeypatch, cli):
    """`generate-c --model FILE --backend stedgeai`: ST's generator on the .tflite, its real
    report read back into the builtin keys."""
    import json
    import shutil

    prog = fake_stedgeai(tmp_path / "st")
    prog.write_text(prog.read_text().replace(repr(str(REPORT)), repr(str(FIXTURES / TEXT))))
    monkeypatch.setenv("ASC_TOOL_STEDGEAI_DIR", str(tmp_path / "st"))
    model = tmp_path / "m.tflite"
    shutil.copy(FIXTURES / TEXT, model)     # stands for the model: the fake reads no file
    code, stdout, stderr = cli("generate-c", "--model", model, "--backend", "stedgeai",
                               "--out", tmp_path / "out", "--json")
    assert code == 0, stderr
    r = json.loads(stdout)
    assert (r["backend"], r["macc"], r["weights_bytes"], r["activations_bytes"]) == (
        "stedgeai", 827_256, 49_412, 10_116)
    assert [x["name"] for x in r["layers"]] == C_LAYERS and r["model"] == str(model)
