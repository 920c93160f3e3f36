"""`generate-c --model` and `validate --model` as a user runs them: the MLPerf Tiny reference
models (skipped without ../shared), an unsupported op refused with one line and no files, the
X-CUBE-AI names after --name, determinism and the header, strict builds for the host and the M4."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from conftest import require_tool

MLPERF = Path(__file__).resolve().parents[2] / "shared" / "models" / "mlperf-tiny"
# model: (weights bytes, our arena bytes) as generated; the arena must stay <= 0.8x TFLite Micro's.
# Convolution weights are int16 in matrix-product order (2 bytes each, taps padded to groups of
# 4). The arena also holds the int16 columns of the DSP convolution (three output pixels' taps)
# and the depthwise padded plane (4 channels as int16), each alive during its step only.
MODELS = {"kws_ref_model": (43312, 17656), "pretrainedResnet_quant": (155496, 35920),
          "ad01_int8": (270880, 264)}
MODEL_MACS = {"kws_ref_model": 2_656_768, "pretrainedResnet_quant": 12_501_632, "ad01_int8": 264_192}
M4_FLAGS = ("-mcpu=cortex-m4", "-mthumb", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard", "-std=c99",
            "-Wall", "-Wextra", "-Werror", "-Wdouble-promotion", "-O2")


def mlperf_model(name: str) -> Path:
    path = MLPERF / f"{name}.tflite"
    if not path.is_file():
        pytest.skip(f"{path} not present (the MLPerf Tiny models live in ../shared)")
    return path


def small_model(tmp_path: Path, last_activation: str = "softmax") -> Path:
    import keras

    from asc_toolchain.asc.quantize import convert_int8

    keras.utils.set_random_seed(0)
    inp = keras.Input((10, 8, 2))
    x = keras.layers.Conv2D(4, 3, padding="same", strides=2, activation="relu")(inp)
    x = keras.layers.DepthwiseConv2D(3, padding="same")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inp, keras.layers.Dense(3, activation=last_activation)(x))
    data = np.random.default_rng(0).normal(0, 1, (16, 10, 8, 2)).astype(np.float32)
    path = tmp_path / f"small_{last_activation}.tflite"
    path.write_bytes(convert_int8(model, data))
    return path


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(MODELS))
def test_mlperf_model_generates_fits_and_is_bit_exact(name, tmp_path, cli, host_cache):
    require_tool("cc")
    model = mlperf_model(name)
    out = tmp_path / "c"
    code, stdout, err = cli("generate-c", "--model", model, "--out", out, "--name", "net",
                            "--board", "b-l475e-iot01a", "--check-ram", "--json")
    assert code == 0, err
    r = json.loads(stdout)
    assert (r["weights_bytes"], r["activations_bytes"]) == MODELS[name]
    assert r["activations_bytes"] <= 0.8 * r["tflm_arena"]["total_bytes"], r["tflm_arena"]
    assert r["budget"]["ram"]["total_bytes"] <= r["budget"]["ram"]["limit_bytes"]
    assert {"net.h", "net.c", "net_data.h", "net_data.c"} <= {p.name for p in out.iterdir()}
    code, stdout, err = cli("validate", "--model", model, "--c-dir", out, "--samples", "12", "--json")
    assert code == 0, err
    v = json.loads(stdout)["network"]
    assert (v["bit_exact"], v["total"], v["max_abs_diff"]) == (12, 12, 0)


def test_unsupported_op_is_refused_with_one_line_and_no_files(tmp_path, cli, capsys):
    model = small_model(tmp_path, last_activation="sigmoid")
    capsys.readouterr()     # the converter's own messages
    out = tmp_path / "out"
    code, stdout, err = cli("generate-c", "--model", model, "--out", out)
    assert code == 2 and stdout == ""
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and "error: op 4 (LOGISTIC) is not supported" in lines[0], err
    assert "replace the layer" in lines[0]
    assert not out.exists()


def test_names_header_determinism_and_strict_builds(tmp_path, cli):
    model = small_model(tmp_path)
    for d in ("a", "b"):
        assert cli("generate-c", "--model", model, "--out", tmp_path / d, "--name", "kws")[0] == 0
    files = sorted(p.name for p in (tmp_path / "a").iterdir())
    digest = hashlib.sha256(model.read_bytes()).hexdigest()
    for f in files:
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f
    for f in ("kws.h", "kws.c", "kws_data.h", "kws_data.c"):
        head = (tmp_path / "a" / f).read_text().splitlines()
        assert "do not edit" in head[0] and head[1].split()[-1] == digest
    api = (tmp_path / "a" / "kws.h").read_text() + (tmp_path / "a" / "kws_data.h").read_text()
    for symbol in ("ai_kws_create(", "ai_kws_init(", "ai_kws_run(", "ai_kws_data_weights_get(",
                   "AI_KWS_DATA_ACTIVATIONS_SIZE", "AI_KWS_IN_1_SIZE"):
        assert symbol in api, symbol
    sources = [tmp_path / "a" / f for f in files if f.endswith(".c")]
    for cc, flags in (("cc", ("-std=c99", "-Wall", "-Wextra", "-Werror", "-O2")),
                      ("arm-none-eabi-gcc", M4_FLAGS)):
        exe = require_tool(cc)
        for src in sources:
            subprocess.run([exe, *flags, f"-I{tmp_path / 'a'}", "-c", str(src), "-o",
                            str(tmp_path / "x.o")], check=True)


def test_validate_model_refuses_a_folder_of_another_model(tmp_path, cli):
    model = small_model(tmp_path)
    other = small_model(tmp_path, last_activation="relu")
    assert cli("generate-c", "--model", model, "--out", tmp_path / "c")[0] == 0
    code, _, err = cli("validate", "--model", other, "--c-dir", tmp_path / "c")
    assert code == 2 and "another model" in err


@pytest.mark.slow
@pytest.mark.toolchain
@pytest.mark.parametrize("name", sorted(MODELS))
def test_mlperf_model_on_the_cortex_m4_equals_tflite_micro(name, tmp_path, cli):
    """`validate --on m4`: the network built for the board's M4 (-O2, DSP) in the runner firmware,
    run in the emulated board, equals TFLite Micro; its instruction count is plausible."""
    require_tool("arm-none-eabi-gcc")
    require_tool("qemu-system-arm")
    model = mlperf_model(name)
    out = tmp_path / "c"
    code, _, err = cli("generate-c", "--model", model, "--out", out, "--name", "net")
    assert code == 0, err
    code, stdout, err = cli("validate", "--model", model, "--c-dir", out, "--samples", "5",
                            "--on", "m4", "--json")
    assert code == 0, err
    m4 = json.loads(stdout)["targets"]["m4"]
    assert (m4["bit_exact"], m4["total"], m4["max_abs_diff"]) == (5, 5, 0), m4
    assert m4["instructions_per_inference_median"] > MODEL_MACS[name] // 8, m4
    print(f"{name}: {m4['instructions_per_inference_median']:,} instructions per inference in the emulated M4")


def test_differently_named_networks_validate_at_the_same_time(tmp_path, host_cache):
    """Two validations at once, of networks generated under different names (each host harness
    calls its own ai_<name>_* API): both build and are bit-exact."""
    from concurrent.futures import ThreadPoolExecutor

    import asc_toolchain

    require_tool("cc")
    model = small_model(tmp_path)
    for name in ("net_a", "net_b"):
        asc_toolchain.generate(model, tmp_path / name, name=name)
    with ThreadPoolExecutor(2) as pool:
        reports = list(pool.map(lambda n: asc_toolchain.validate(model, tmp_path / n, samples=6),
                                ("net_a", "net_b")))
    assert [(r["name"], r["network"]["bit_exact"]) for r in reports] == [("net_a", 6), ("net_b", 6)]
