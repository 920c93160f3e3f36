"""Model families: each trains on the synthetic set, records its knobs in the run, quantizes,
and its int8 model uses only the ops the C generator covers (SPEC §12)."""

from __future__ import annotations

import json

import pytest

from asc_toolchain.asc.model import MODELS, ModelSpec, build_model

GENERATOR_OPS = {"CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "MAX_POOL_2D", "MEAN", "ADD",
                 "FULLY_CONNECTED", "RESHAPE", "SOFTMAX", "RELU", "RELU6", "PAD", "CONCATENATION",
                 "QUANTIZE", "DEQUANTIZE"}


def _ops(tflite: bytes) -> set:
    import tensorflow as tf

    interpreter = tf.lite.Interpreter(model_content=tflite)
    return {op["op_name"] for op in interpreter._get_ops_details()}


@pytest.mark.parametrize("family,knobs", [
    ("seed_cnn", ["--filters", "8,8", "--dense-units", "6"]),
    ("ds_cnn", ["--width", "12", "--depth", "2"]),
    ("res_ds", ["--width", "8", "--depth", "3"]),
    ("inverted", ["--width", "8", "--depth", "3"]),
])
def test_family_trains_quantizes_and_uses_only_generator_ops(family, knobs, synth_dir, tmp_path, cli):
    run = tmp_path / family
    code, _, err = cli("train", "--data", synth_dir / "metadata.csv", "--out", run, "--model", family, *knobs,
                       "--epochs", "1", "--max-seconds", "3", "--cache-dir", tmp_path / "cache")
    assert code == 0, err
    manifest = json.loads((run / "manifest.json").read_text())
    expected = ({"filters": [8, 8], "dense_units": 6} if family == "seed_cnn"
                else {"width": int(knobs[1]), "depth": int(knobs[3])})
    assert manifest["model"] == {"name": family, **expected, "parameters": manifest["model"]["parameters"]}
    code, out, err = cli("quantize", "--run", run, "--json")
    assert code == 0, err
    ops = _ops((run / "model_int8.tflite").read_bytes())
    assert ops <= GENERATOR_OPS, f"{family}: ops outside the generator's set: {sorted(ops - GENERATOR_OPS)}"
    if family != "seed_cnn":
        assert {"DEPTHWISE_CONV_2D", "MEAN"} <= ops
    report = json.loads(out)
    assert 0.0 <= report["int8"]["accuracy"] <= 1.0


def test_residual_families_add_and_fold_batch_norm(tmp_path):
    import numpy as np

    from asc_toolchain.asc.quantize import convert_int8

    for name in ("res_ds", "inverted"):
        model = build_model(ModelSpec(name=name, width=8, depth=3))
        assert any(layer.__class__.__name__ == "Add" for layer in model.layers)
        rng = np.random.default_rng(0)
        ops = _ops(convert_int8(model, rng.standard_normal((8, 30, 32, 1)).astype(np.float32)))
        assert "ADD" in ops and ops <= GENERATOR_OPS, sorted(ops)


def test_family_defaults_and_sizes():
    assert set(MODELS) == {"seed_cnn", "ds_cnn", "res_ds", "inverted"}
    assert build_model(ModelSpec()).count_params() == 7703
    small = build_model(ModelSpec(name="ds_cnn", width=8, depth=1)).count_params()
    large = build_model(ModelSpec(name="ds_cnn", width=32, depth=4)).count_params()
    assert small < large
    assert ModelSpec(name="res_ds").knobs() == {"name": "res_ds", "width": 16, "depth": 4}


def test_unknown_family_is_one_line_exit_2(synth_dir, tmp_path, cli):
    code, _, err = cli("train", "--data", synth_dir / "metadata.csv", "--out", tmp_path / "r", "--model", "vgg")
    assert code == 2
    assert "'vgg' is not one of" in err and "seed_cnn" in err
