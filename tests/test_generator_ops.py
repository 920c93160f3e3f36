"""The open generator on the tiny-ML op set: seeded random functional Keras models (padding,
stride, dilation, depth multiplier, activations, residual adds with unequal scales, pools,
global average pooling, padding, channel concatenation, batch norm folded by the converter)
through `generate_network_c` give TFLite Micro's bytes on every input, on the host (portable and
the Cortex-M4 path's host model, some under ASan/UBSan)."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import require_tool

N_MODELS = 8
N_INPUTS = 48


def _act(rng) -> str:
    return str(rng.choice(["relu", "relu6", "linear"]))


def _conv_block(x, rng, layers):
    """One random convolution-like layer (Conv2D, DepthwiseConv2D or SeparableConv2D)."""
    kind = int(rng.integers(0, 3))
    pad = str(rng.choice(["same", "valid"]))
    k = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
    stride, dil = (1, int(rng.integers(1, 3))) if rng.random() < 0.4 else (int(rng.integers(1, 3)), 1)
    if min(x.shape[1], x.shape[2]) < (max(k) - 1) * dil + 2:
        pad = "same"
    if kind == 0:
        return layers.Conv2D(int(rng.integers(2, 9)), k, strides=stride, dilation_rate=dil,
                             padding=pad, activation=_act(rng))(x)
    if kind == 1:
        y = layers.DepthwiseConv2D(k, strides=stride, dilation_rate=dil, padding=pad,
                                   depth_multiplier=int(rng.integers(1, 3)))(x)
        y = layers.BatchNormalization()(y)
        return layers.Activation(_act(rng))(y)
    return layers.SeparableConv2D(int(rng.integers(2, 9)), k, padding=pad, strides=stride,
                                  activation=_act(rng))(x)


def random_model(rng: np.random.Generator):
    """A small random functional model over the supported op set."""
    import keras
    from keras import layers

    h, w, c = int(rng.integers(6, 13)), int(rng.integers(6, 13)), int(rng.integers(1, 4))
    inp = keras.Input((h, w, c))
    x = layers.ZeroPadding2D(((1, 0), (0, 1)))(inp) if rng.random() < 0.3 else inp
    x = _conv_block(x, rng, layers)
    if rng.random() < 0.6:      # a residual add whose branches have different scales
        a = layers.Conv2D(4, 3, padding="same", activation=_act(rng))(x)
        b = layers.Conv2D(4, 1, padding="valid")(x)     # not padded: a standalone ADD
        x = layers.Add()([a, layers.Conv2D(4, 3, padding="same")(a) if rng.random() < 0.5 else b])
    if rng.random() < 0.4:
        x = layers.Concatenate()([x, layers.Conv2D(3, 1, activation="relu")(x)])
    if rng.random() < 0.5 and min(x.shape[1], x.shape[2]) >= 3:
        pool = layers.AveragePooling2D if rng.random() < 0.5 else layers.MaxPooling2D
        x = pool(int(rng.integers(2, 4)), strides=int(rng.integers(1, 3)),
                 padding=str(rng.choice(["same", "valid"])))(x)
    x = _conv_block(x, rng, layers)
    x = layers.GlobalAveragePooling2D()(x) if rng.random() < 0.5 else layers.Flatten()(x)
    out = layers.Dense(int(rng.integers(2, 7)), activation="softmax" if rng.random() < 0.6 else None)(x)
    model = keras.Model(inp, out)
    model.set_weights([v + rng.normal(0, 0.1, v.shape).astype(np.float32) for v in model.get_weights()])
    return model


def model_tflite(seed: int) -> bytes:
    import keras

    from asc_toolchain.asc.quantize import convert_int8

    rng = np.random.default_rng(2000 + seed)
    keras.utils.set_random_seed(seed)
    model = random_model(rng)
    return convert_int8(model, rng.normal(0, 1, (64, *model.inputs[0].shape[1:])).astype(np.float32))


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(N_MODELS))
def test_random_op_set_model_equals_tflite_micro(seed, tmp_path, host_cache):
    require_tool("cc")
    from asc_toolchain.asc.quantize import tflm_outputs
    from asc_toolchain.codegen.network import generate_network_c
    from asc_toolchain.codegen.tflite_model import read_tflite
    from asc_toolchain.codegen.validate import build_harness, c_network_outputs
    from asc_toolchain.codegen.validate_model import random_inputs

    tflite = model_tflite(seed)
    model = read_tflite(tflite)
    generate_network_c(tflite, tmp_path, None, name="net")
    x = random_inputs(tuple(model.tensor(model.inputs[0]).shape[1:]), N_INPUTS, seed)
    ref = tflm_outputs(tflite, x)
    assert len(np.unique(ref, axis=0)) > 1, "degenerate model: every output is the same"
    exe = build_harness(tmp_path, sanitize=(seed % 3 == 0), dsp_emulate=(seed % 2 == 1), name="net")
    got = c_network_outputs(exe, x, ref.shape[1])
    ops = sorted({op.name for op in model.operators})
    wrong = int(np.sum(np.any(got != ref, axis=1)))
    assert wrong == 0, f"model {seed} ({', '.join(ops)}): {wrong} of {len(x)} outputs differ"


def test_property_models_cover_the_op_set():
    """The seeded models together use every op and option the generator claims."""
    from asc_toolchain.codegen.lower import lower
    from asc_toolchain.codegen.tflite_model import read_tflite

    ops, kinds, opts = set(), set(), set()
    for seed in range(N_MODELS):
        model = read_tflite(model_tflite(seed))
        ops |= {op.name for op in model.operators}
        for s in lower(model).steps:
            kinds.add(s.kind)
            c = s.cfg
            opts |= {f"pad{c['pad_top'] + c['pad_left'] > 0}" for _ in [0] if "pad_top" in c}
            opts |= {f"dil{c['dil_h']}" for _ in [0] if "dil_h" in c}
            opts |= {f"mult{c['depth_mult']}" for _ in [0] if s.kind == "dwconv"}
            opts |= {"fused_add" for _ in [0] if c.get("add")}
    assert {"CONV_2D", "DEPTHWISE_CONV_2D", "ADD", "MEAN", "PAD", "CONCATENATION",
            "AVERAGE_POOL_2D", "MAX_POOL_2D", "FULLY_CONNECTED", "SOFTMAX"} <= ops, ops
    assert {"padTrue", "padFalse", "dil2", "mult2", "mult1", "fused_add"} <= opts, opts
    from test_kernel_library import NETWORK_TESTED

    assert NETWORK_TESTED <= kinds, NETWORK_TESTED - kinds
