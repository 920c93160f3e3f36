"""generate-c (builtin) and validate: the C a user gets, its sizes, and its equality with TFLite Micro."""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest
from conftest import require_tool

from asc_toolchain.codegen.planner import Buffer, check_plan, plan
from asc_toolchain.core.errors import DataError

NETWORK_FILES = ("asc.h", "asc.c", "asc_data.h", "asc_data.c", "asc_kernels.h", "asc_kernels.c")


@pytest.fixture(scope="module")
def seed_tflite():
    from asc_toolchain.bench.codegen import seed_model_tflite

    return seed_model_tflite()


def keras_tflite(build):
    import keras

    from asc_toolchain.asc.quantize import convert_int8

    keras.utils.set_random_seed(0)
    model = build(keras, keras.layers)
    rng = np.random.default_rng(0)
    return convert_int8(model, rng.normal(0, 1, (16, *model.inputs[0].shape[1:])).astype(np.float32))


@pytest.mark.slow
def test_seed_model_meets_the_byte_goals(seed_tflite, tmp_path):
    from asc_toolchain.codegen.network import generate_network_c

    r = generate_network_c(seed_tflite, tmp_path, ["indoor", "outdoor", "vehicle"])
    assert r["weights_bytes"] == 7836 <= r["xcubeai_weights_bytes"]
    # conv1 runs row by row inside conv2: a ring of 4 int16 rows of 15x16, plus the 6x6x16 pool
    assert r["activations_bytes"] == 4 * 15 * 16 * 2 + 6 * 6 * 16 <= 4096
    assert r["macc"] == 28 * 30 * 16 * 9 + 12 * 13 * 16 * 144 + 576 * 9 + 9 + 9 * 3 + 3 + 13440 + 2304
    header = (tmp_path / "asc.h").read_text()
    for macro in ("AI_ASC_IN_1_SIZE 960", "AI_ASC_OUT_1_SIZE 3", "ASC_N_CLASSES 3",
                  'ASC_CLASS_NAMES { "indoor", "outdoor", "vehicle" }', f'ASC_MODEL_HASH "{r["model_sha256"]}"'):
        assert macro in header
    assert "AI_ASC_DATA_ACTIVATIONS_SIZE 2496" in (tmp_path / "asc_data.h").read_text()


@pytest.mark.slow
@pytest.mark.parametrize("dsp", [False, True], ids=["portable", "dsp-emulated"])
def test_seed_model_fast_kernels_equal_tflite_micro(seed_tflite, tmp_path, host_cache, dsp):
    """The seed architecture takes the Cortex-M4 fast paths (one-channel conv kernel, conv1 in
    an int16 ring inside conv2, one requantization per pooled output): bit-exact either way."""
    require_tool("cc")
    from asc_toolchain.codegen.network import generate_network_c
    from asc_toolchain.asc.quantize import tflm_outputs
    from asc_toolchain.codegen.validate import build_harness, c_network_outputs

    generate_network_c(seed_tflite, tmp_path, ["indoor", "outdoor", "vehicle"])
    source = (tmp_path / "asc.c").read_text()
    assert "asc_conv_c1k3_rows(" in source and "asc_conv_ring_row(" in source and "smlad" in source
    x = np.random.default_rng(3).integers(-128, 128, (150, 30, 32, 1)).astype(np.int8)
    ref = tflm_outputs(seed_tflite, x)
    got = c_network_outputs(build_harness(tmp_path, sanitize=True, dsp_emulate=dsp), x.reshape(150, -1), 3)
    assert int(np.sum(np.any(got != ref, axis=1))) == 0
    assert len(np.unique(ref, axis=0)) > 1


@pytest.mark.slow
def test_generation_is_deterministic_with_header(seed_tflite, tmp_path):
    from asc_toolchain.codegen.network import generate_network_c

    for d in ("a", "b"):
        generate_network_c(seed_tflite, tmp_path / d, ["indoor", "outdoor", "vehicle"])
    for name in NETWORK_FILES:
        a, b = (tmp_path / "a" / name).read_bytes(), (tmp_path / "b" / name).read_bytes()
        assert a == b, f"{name} differs between two generations"
        assert b"do not edit" in a.splitlines()[0]


@pytest.mark.slow
def test_generate_c_cli_writes_network_and_features(quantized_run, tmp_path, cli):
    out = tmp_path / "c"
    code, stdout, stderr = cli("generate-c", "--run", quantized_run, "--out", out, "--check-ram", "--json")
    assert code == 0, stderr
    r = json.loads(stdout)
    for name in (*NETWORK_FILES, "asc_features.h", "asc_features.c"):
        assert (out / name).is_file(), name
    assert r["backend"] == "builtin" and r["weights_bytes"] > 0 and r["activations_bytes"] > 0
    assert r["budget"]["ram"]["total_bytes"] <= r["budget"]["ram"]["limit_bytes"] == 98304
    assert not list(tmp_path.glob(".c.tmp-*")), "temporary folder left behind"


@pytest.mark.slow
def test_validate_is_bit_exact_with_sanitizers(quantized_run, host_cache, cli):
    require_tool("cc")
    code, stdout, stderr = cli("validate", "--run", quantized_run, "--sanitize", "--json")
    assert code == 0, stderr
    r = json.loads(stdout)
    n = r["network"]
    assert n["total"] > 0 and n["bit_exact"] == n["total"] and n["max_abs_diff"] == 0
    e = r["end_to_end"]
    assert e["windows"] == n["total"]
    assert e["input_elements_equal_pct"] >= 99.0 and e["input_elements_off_by_more"] == 0
    assert e["prediction_agreement_pct"] >= 95.0


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["tflm", "c"])
def test_evaluate_int8_engines(quantized_run, host_cache, engine, cli):
    code, stdout, stderr = cli("evaluate", "--run", quantized_run, "--engine", engine, "--json")
    assert code == 0, stderr
    r = json.loads(stdout)
    assert r["engine"] == engine and 0.0 <= r["window"]["accuracy"] <= 1.0


def test_validate_without_generated_c_exits_2(tmp_path, cli):
    (tmp_path / "manifest.json").write_text('{"target": "stm32-asc", "class_names": ["a", "b"]}')
    code, out, err = cli("validate", "--run", tmp_path)
    assert code == 2 and "generate-c" in err


def test_unsupported_op_is_named(tmp_path):
    from asc_toolchain.codegen.network import generate_network_c

    tflite = keras_tflite(lambda keras, layers: keras.Sequential([
        keras.Input((8, 8, 1)), layers.Conv2D(2, 3), layers.AveragePooling2D(2), layers.Flatten(),
        layers.Dense(2, activation="softmax")]))
    with pytest.raises(DataError, match="AVERAGE_POOL_2D"):
        generate_network_c(tflite, tmp_path, ["a", "b"])


def test_same_padding_is_refused_with_a_fix(tmp_path):
    from asc_toolchain.codegen.network import generate_network_c

    tflite = keras_tflite(lambda keras, layers: keras.Sequential([
        keras.Input((8, 8, 1)), layers.Conv2D(2, 3, padding="same"), layers.Flatten(),
        layers.Dense(2, activation="softmax")]))
    with pytest.raises(DataError, match="padding='valid'"):
        generate_network_c(tflite, tmp_path, ["a", "b"])


def test_not_a_tflite_file(tmp_path):
    from asc_toolchain.codegen.tflite_model import read_tflite

    bad = tmp_path / "model_int8.tflite"
    bad.write_bytes(b"PK\x03\x04 not a model")
    with pytest.raises(DataError, match="model_int8.tflite: not a TensorFlow Lite model"):
        read_tflite(bad)


def test_planner_reuses_dead_buffers_and_never_overlaps_live_ones():
    seed = [Buffer("pool1", 3360, 0, 1), Buffer("pool2", 576, 1, 2), Buffer("fc1", 9, 2, 3),
            Buffer("fc2", 3, 3, 4)]
    offsets, arena = plan(seed)
    check_plan(seed, offsets)
    assert arena == 3936 and offsets["fc1"] == 0
    rng = np.random.default_rng(5)
    for _ in range(200):
        bufs = []
        for i in range(int(rng.integers(1, 12))):
            first = int(rng.integers(0, 10))
            bufs.append(Buffer(f"b{i}", int(rng.integers(1, 500)), first, first + int(rng.integers(0, 4))))
        offsets, arena = plan(bufs)
        check_plan(bufs, offsets)
        assert all(o % 4 == 0 for o in offsets.values())
        assert arena >= max(b.size for b in bufs)


@pytest.mark.slow
@pytest.mark.toolchain
def test_cortex_m4_build_uses_dual_mac(seed_tflite, tmp_path):
    gcc = require_tool("arm-none-eabi-gcc")
    objdump = require_tool("arm-none-eabi-objdump")
    from asc_toolchain.codegen.network import generate_network_c

    generate_network_c(seed_tflite, tmp_path, ["indoor", "outdoor", "vehicle"])
    flags = ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16", "-std=c99",
             "-Wall", "-Wextra", "-Werror", "-Wdouble-promotion", "-O2", "-c"]
    for name in ("asc.c", "asc_data.c", "asc_kernels.c"):
        subprocess.run([gcc, *flags, str(tmp_path / name), "-o", str(tmp_path / (name + ".o"))],
                       check=True, capture_output=True)
    dis = subprocess.run([objdump, "-d", str(tmp_path / "asc_kernels.c.o")], check=True,
                         capture_output=True, text=True).stdout
    assert "smlad" in dis and "sxtb16" in dis
    assert "__aeabi_ldivmod" not in dis, "64-bit division must not call the runtime library"
