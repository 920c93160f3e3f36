"""`asc-tool quantize`: the int8 model a microcontroller can run, and the float→int8 report."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from asc_toolchain.codegen.tflite_model import read_tflite


@pytest.mark.slow
def test_quantize_writes_int8_batch1_model(quantized_run):
    m = read_tflite(quantized_run / "model_int8.tflite")
    ops = [op.name for op in m.operators]
    assert ops == ["CONV_2D", "MAX_POOL_2D", "CONV_2D", "MAX_POOL_2D", "RESHAPE",
                   "FULLY_CONNECTED", "FULLY_CONNECTED", "SOFTMAX"]
    inp, out = m.tensor(m.inputs[0]), m.tensor(m.outputs[0])
    assert inp.shape == (1, 30, 64, 1) and inp.dtype is np.int8         # 30 mels x 64 columns by default
    assert out.shape == (1, 3) and out.dtype is np.int8
    conv_w = m.tensor(m.operators[0].inputs[1])
    assert len(conv_w.scales) == 16, "Conv2D weights must be quantized per channel"


@pytest.mark.slow
def test_io_quantization_matches_the_model(quantized_run):
    from asc_toolchain.asc.quantize import io_quantization

    tflite = (quantized_run / "model_int8.tflite").read_bytes()
    m, q = read_tflite(tflite), io_quantization(tflite)
    inp, out = m.tensor(m.inputs[0]), m.tensor(m.outputs[0])
    assert q == {"input_scale": float(inp.scales[0]), "input_zero_point": int(inp.zero_points[0]),
                 "output_scale": float(out.scales[0]), "output_zero_point": int(out.zero_points[0]),
                 "input_shape": [1, 30, 64, 1], "output_shape": [1, 3]}


@pytest.mark.parametrize("data", [b"PK\x03\x04 not a model", b"", b"\0\0\0\0TFL3" + bytes(8)])
def test_io_quantization_of_bytes_that_are_no_model_is_a_data_error(data):
    from asc_toolchain.asc.quantize import io_quantization
    from asc_toolchain.core.errors import DataError

    with pytest.raises(DataError, match="TensorFlow Lite model"):
        io_quantization(data)


@pytest.mark.slow
def test_quant_report_figures(quantized_run):
    r = json.loads((quantized_run / "quant_report.json").read_text())
    assert r["int8_engine"] == "tflm" and r["split"] == "test"
    assert r["n_windows"] > 0
    assert 0 <= r["argmax_changed"] <= r["n_windows"]
    assert r["argmax_changed_pct"] == pytest.approx(100 * r["argmax_changed"] / r["n_windows"], abs=1e-3)
    for kind in ("float", "int8"):
        assert 0.0 <= r[kind]["accuracy"] <= 1.0 and 0.0 <= r[kind]["macro_f1"] <= 1.0
    assert abs(r["float"]["accuracy"] - r["int8"]["accuracy"]) < 0.2
    assert "tflite-micro" in r["versions"] and r["representative_windows"] == 100
    assert -128 <= r["input_zero_point"] <= 127 and r["input_scale"] > 0


@pytest.mark.slow
def test_quantize_json_on_stdout_only(quantized_run, tmp_path, cli):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(quantized_run, run)
    code, out, err = cli("quantize", "--run", run, "--representative", "50", "--json")
    assert code == 0, err
    r = json.loads(out)                      # exactly one JSON object, no converter chatter
    assert r["model"] == str(run / "model_int8.tflite") and r["representative_windows"] == 50


def test_missing_tflite_micro_names_the_package(monkeypatch):
    from asc_toolchain.core.errors import ToolMissingError
    from asc_toolchain.asc.quantize import TFLM_PACKAGE, tflm_runtime

    monkeypatch.setitem(sys.modules, "tflite_micro", None)
    monkeypatch.setitem(sys.modules, "tflite_micro.python.tflite_micro", None)
    with pytest.raises(ToolMissingError) as exc:
        tflm_runtime()
    assert TFLM_PACKAGE in str(exc.value)


def test_quantize_unknown_run_exits_2(tmp_path, cli):
    code, out, err = cli("quantize", "--run", tmp_path / "nope")
    assert code == 2 and "not a run directory" in err


def test_quantize_multiplier_matches_tflite_rounding():
    from asc_toolchain.codegen.lower import quantize_multiplier

    assert quantize_multiplier(0.5) == (1 << 30, 0)
    assert quantize_multiplier(1.0) == (1 << 30, 1)
    assert quantize_multiplier(0.0) == (0, 0)
    assert quantize_multiplier(2.0 ** -40) == (0, 0)          # flushed, as the reference does
    q, shift = quantize_multiplier(0.0070751821)
    assert abs(q * 2.0 ** (shift - 31) - 0.0070751821) < 1e-11
    assert quantize_multiplier(1 - 2.0 ** -33) == (1 << 30, 1)  # rounds up to 2^31 -> halved
