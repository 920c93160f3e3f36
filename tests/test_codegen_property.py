"""Property test: seeded random small conv/pool/dense Keras models, quantized to int8, give the
same bytes from our generated C as from TFLite Micro's reference kernels, on every input."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import require_tool

N_MODELS = 10
N_INPUTS = 120


def random_model(rng: np.random.Generator):
    """A small random CNN: 1–2 conv (valid, stride 1, optional max-pool), flatten, 1–2 dense."""
    import keras
    from keras import layers

    h, w, c = int(rng.integers(8, 17)), int(rng.integers(8, 17)), int(rng.integers(1, 4))
    model = keras.Sequential([keras.Input(shape=(h, w, c))])
    for _ in range(int(rng.integers(1, 3))):
        kh, kw = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        act = str(rng.choice(["relu", "relu6", "linear"]))
        model.add(layers.Conv2D(int(rng.integers(2, 9)), (kh, kw), activation=act))
        if rng.random() < 0.6 and model.output_shape[1] >= 4 and model.output_shape[2] >= 4:
            size = int(rng.integers(2, 4))
            model.add(layers.MaxPooling2D(size, strides=int(rng.integers(1, size + 1))))
    model.add(layers.Flatten())
    if rng.random() < 0.5:
        model.add(layers.Dense(int(rng.integers(3, 12)), activation=str(rng.choice(["relu", "linear"]))))
    n_out = int(rng.integers(2, 6))
    model.add(layers.Dense(n_out, activation="softmax" if rng.random() < 0.7 else "linear"))
    model.set_weights([v + rng.normal(0, 0.05, v.shape).astype(np.float32) for v in model.get_weights()])
    return model


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(N_MODELS))
def test_random_model_c_equals_tflite_micro(seed, tmp_path, host_cache):
    require_tool("cc")
    import keras

    from asc_toolchain.codegen.network import generate_network_c
    from asc_toolchain.asc.quantize import convert_int8, quantize_inputs, tflm_outputs
    from asc_toolchain.codegen.validate import build_harness, c_network_outputs

    rng = np.random.default_rng(1000 + seed)
    keras.utils.set_random_seed(seed)
    model = random_model(rng)
    shape = model.inputs[0].shape[1:]
    rep = rng.normal(0, 1, (64, *shape)).astype(np.float32)
    tflite = convert_int8(model, rep)
    report = generate_network_c(tflite, tmp_path, [f"c{i}" for i in range(model.output_shape[-1])])

    x = np.concatenate([quantize_inputs(rng.normal(0, 1.5, (N_INPUTS // 2, *shape)), tflite),
                        rng.integers(-128, 128, (N_INPUTS // 2, *shape)).astype(np.int8)])
    ref = tflm_outputs(tflite, x)
    exe = build_harness(tmp_path, sanitize=(seed % 3 == 0), dsp_emulate=(seed % 2 == 1))
    got = c_network_outputs(exe, x, ref.shape[1])
    mismatched = int(np.sum(np.any(got != ref, axis=1)))
    assert mismatched == 0, (f"model {seed}: {mismatched} of {len(x)} outputs differ from TFLite Micro; "
                             f"layers {[layer['name'] for layer in report['layers']]}")
    assert len(np.unique(ref, axis=0)) > 1, "degenerate model: every output is the same"
