"""Float-in / float-out models (the TFLite converter's default: QUANTIZE first, DEQUANTIZE last)
through `generate-c --model` and `validate --model` as a user runs them: bit-exact float32
outputs on the host, the float I/O in the generated API, an int8 -> int8 QUANTIZE in the graph,
a float op in the middle refused with one line and no files. The kernels alone (host and the
emulated Cortex-M4) are in tests/test_kernel_library.py (EDGE_CASES)."""

from __future__ import annotations

import functools
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from conftest import require_tool
from edge_models import add_requantize, convert_float_io

M4_FLAGS = ("-mcpu=cortex-m4", "-mthumb", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard", "-std=c99",
            "-Wall", "-Wextra", "-Werror", "-Wdouble-promotion", "-O2")
SHAPE = (12, 10, 3)


@functools.lru_cache(maxsize=None)
def float_io_tflite() -> bytes:
    """Conv (same padding, ReLU), depthwise (ReLU6), global average pooling, dense: float32 in
    and out."""
    import keras

    L = keras.layers
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input(SHAPE, batch_size=1),
                              L.Conv2D(6, 3, padding="same", activation="relu"),
                              L.DepthwiseConv2D(3, activation="relu6"), L.GlobalAveragePooling2D(),
                              L.Dense(5)])
    return convert_float_io(model, SHAPE)


def write(tmp_path: Path, name: str, tflite: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(tflite)
    return path


def test_float_io_model_generates_and_is_bit_exact(tmp_path, cli, host_cache):
    require_tool("cc")
    from asc_toolchain.codegen.tflite_model import read_tflite

    model = write(tmp_path, "float_io.tflite", float_io_tflite())
    ops = [op.name for op in read_tflite(model.read_bytes()).operators]
    assert ops[0] == "QUANTIZE" and ops[-1] == "DEQUANTIZE", ops
    out = tmp_path / "c"
    code, stdout, err = cli("generate-c", "--model", model, "--out", out, "--name", "net", "--json")
    assert code == 0, err
    r = json.loads(stdout)
    assert (r["input"]["type"], r["output"]["type"]) == ("float32", "float32")
    assert (r["input"]["bytes"], r["output"]["bytes"]) == (4 * 12 * 10 * 3, 4 * 5)
    assert r["io_bytes"] == 4 * (12 * 10 * 3 + 5)
    assert [x["kind"] for x in r["layers"]][::len(r["layers"]) - 1] == ["quantize", "dequantize"]
    header = (out / "net.h").read_text()
    assert '"net": float32 in, float32 out' in header
    for line in ("#define AI_NET_IN_1_SIZE 360", "#define AI_NET_IN_1_SIZE_BYTES 1440",
                 "#define AI_NET_OUT_1_SIZE_BYTES 20",
                 "#define AI_NET_IN_1_FORMAT AI_BUFFER_FORMAT_FLOAT",
                 "#define AI_NET_OUT_1_FORMAT AI_BUFFER_FORMAT_FLOAT"):
        assert line in header, line
    code, stdout, err = cli("validate", "--model", model, "--c-dir", out, "--samples", "400", "--json")
    assert code == 0, err
    v = json.loads(stdout)
    assert (v["input_type"], v["output_type"]) == ("float32", "float32")
    assert (v["network"]["bit_exact"], v["network"]["total"], v["network"]["max_abs_diff"]) == (400, 400, 0.0)


def test_float_inputs_span_the_range_the_halves_and_beyond():
    from asc_toolchain.codegen.validate_model import random_float_inputs

    scale, zp = 0.05, -20
    x = random_float_inputs((50,), 40, 3, scale, zp)
    lo, hi = np.float32(scale * (-128 - zp)), np.float32(scale * (127 - zp))
    assert x.dtype == np.float32 and x[0].min() == lo and x[1].max() == hi
    assert np.sum(x < lo) > 20 and np.sum(x > hi) > 20           # the clamp is exercised
    halves = np.abs(x / np.float32(scale) - np.floor(x / np.float32(scale)) - 0.5) < 1e-3
    assert halves.sum() > 200                                    # and the rounding of halves


def test_user_float_inputs_far_outside_the_range_clamp_like_tflite_micro(tmp_path, cli, host_cache):
    require_tool("cc")
    model = write(tmp_path, "float_io.tflite", float_io_tflite())
    extra = np.zeros((4, *SHAPE), np.float32)
    extra[0], extra[1] = 1e6, -1e6
    extra[2] = np.linspace(-300, 300, extra[2].size).reshape(SHAPE)
    extra[3] = np.float32(1e-30)
    np.save(tmp_path / "x.npy", extra)
    assert cli("generate-c", "--model", model, "--out", tmp_path / "c")[0] == 0
    code, stdout, err = cli("validate", "--model", model, "--c-dir", tmp_path / "c", "--samples", "2",
                            "--inputs", tmp_path / "x.npy", "--json")
    assert code == 0, err
    assert json.loads(stdout)["network"]["bit_exact"] == 6
    np.save(tmp_path / "bad.npy", extra.astype(np.int8))
    code, _, err = cli("validate", "--model", model, "--c-dir", tmp_path / "c",
                       "--inputs", tmp_path / "bad.npy")
    assert code == 2 and "give float32 inputs" in err


@pytest.mark.slow
@pytest.mark.toolchain
def test_float_io_model_is_bit_exact_on_the_cortex_m4(tmp_path, cli):
    """The float edges in the runner firmware in the emulated board: float32 in and out, compared
    with TFLite Micro by bit pattern, including the extreme inputs."""
    require_tool("arm-none-eabi-gcc")
    require_tool("qemu-system-arm")
    model = write(tmp_path, "float_io.tflite", float_io_tflite())
    extra = np.zeros((2, *SHAPE), np.float32)
    extra[0], extra[1] = 1e6, np.linspace(-300, 300, extra[1].size).reshape(SHAPE)
    np.save(tmp_path / "x.npy", extra)
    assert cli("generate-c", "--model", model, "--out", tmp_path / "c", "--name", "net")[0] == 0
    code, stdout, err = cli("validate", "--model", model, "--c-dir", tmp_path / "c", "--samples",
                            "60", "--inputs", tmp_path / "x.npy", "--on", "both", "--json")
    assert code == 0, err
    v = json.loads(stdout)
    assert v["output_type"] == "float32" and set(v["targets"]) == {"host", "m4"}
    for target in ("host", "m4"):
        t = v["targets"][target]
        assert (t["bit_exact"], t["total"], t["max_abs_diff"]) == (62, 62, 0.0), (target, t)
    assert v["targets"]["m4"]["instructions_per_inference_median"] > 0


def test_requantize_inside_the_graph_is_bit_exact(tmp_path, cli, host_cache):
    require_tool("cc")
    model = write(tmp_path, "requantized.tflite", add_requantize(float_io_tflite()))
    out = tmp_path / "c"
    code, stdout, err = cli("generate-c", "--model", model, "--out", out, "--json")
    assert code == 0, err
    kinds = [x["kind"] for x in json.loads(stdout)["layers"]]
    assert kinds[:2] == ["quantize", "requantize"], kinds
    code, stdout, err = cli("validate", "--model", model, "--c-dir", out, "--samples", "200", "--json")
    assert code == 0, err
    assert json.loads(stdout)["network"]["bit_exact"] == 200


def test_float_op_in_the_middle_is_refused_with_one_line_and_no_files(tmp_path, cli, capsys):
    import keras

    L = keras.layers
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8, 8, 2), batch_size=1), L.Conv2D(4, 3),
                              L.Lambda(keras.ops.sin), L.Flatten(), L.Dense(3)])
    path = write(tmp_path, "float_middle.tflite", convert_float_io(model, (8, 8, 2), int8_ops=False))
    capsys.readouterr()     # the converter's own messages
    out = tmp_path / "out"
    code, stdout, err = cli("generate-c", "--model", path, "--out", out)
    assert code == 2 and stdout == ""
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert "op 2 (DEQUANTIZE) feeds float data to op 3" in lines[0] and "TFLITE_BUILTINS_INT8" in lines[0]
    assert not out.exists()


def test_float_model_without_quantize_is_refused(tmp_path, cli, capsys):
    import tensorflow as tf
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((6,), batch_size=1), keras.layers.Dense(3)])
    path = write(tmp_path, "float.tflite", tf.lite.TFLiteConverter.from_keras_model(model).convert())
    capsys.readouterr()
    code, _, err = cli("generate-c", "--model", path, "--out", tmp_path / "out")
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2 and len(lines) == 1 and "float32, not per-tensor int8" in lines[0], err
    assert not (tmp_path / "out").exists()


@pytest.mark.toolchain
def test_float_io_network_builds_strict_for_the_cortex_m4(tmp_path):
    gcc = require_tool("arm-none-eabi-gcc")
    from asc_toolchain.codegen.network import generate_network_c

    generate_network_c(float_io_tflite(), tmp_path, None, name="net")
    for src in sorted(tmp_path.glob("*.c")):
        subprocess.run([gcc, *M4_FLAGS, f"-I{tmp_path}", "-c", str(src), "-o", str(tmp_path / "x.o")],
                       check=True, capture_output=True)
