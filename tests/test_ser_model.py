"""ResNet34 for jetson-ser: layout, batch-norm momentum, local pretrained weights, ONNX conversion."""

from __future__ import annotations

import numpy as np
import pytest

from asc_toolchain.core.errors import ConfigError, DataError


@pytest.fixture(scope="module")
def narrow():
    import keras

    from asc_toolchain.ser.model import build_resnet34

    keras.utils.set_random_seed(0)
    return build_resnet34(7, width=8)


def test_resnet34_layout_and_momentum(narrow):
    import keras

    convs = [layer for layer in narrow.layers if isinstance(layer, keras.layers.Conv2D)]
    # stem + 2 per basic block (3+4+6+3 = 16 blocks) + 3 downsampling shortcuts = 36 convolutions
    assert len(convs) == 1 + 2 * 16 + 3
    bns = [layer for layer in narrow.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert {layer.momentum for layer in bns} == {0.9}
    assert narrow.input_shape == (None, 128, 128, 3) and narrow.output_shape == (None, 7)
    assert narrow.get_layer("layer4_2_conv2").kernel.shape == (3, 3, 64, 64)


def test_pretrained_npz_with_torchvision_names_loads(narrow, tmp_path):
    import keras

    from asc_toolchain.ser.model import build_resnet34, load_pretrained

    state = {}
    for layer in narrow.layers:
        key = layer.name.replace("_", ".")
        if isinstance(layer, keras.layers.Conv2D):
            state[f"{key}.weight"] = np.transpose(layer.get_weights()[0], (3, 2, 0, 1))
        elif isinstance(layer, keras.layers.BatchNormalization):
            g, b, m, v = layer.get_weights()
            state.update({f"{key}.weight": g, f"{key}.bias": b + 0.5, f"{key}.running_mean": m,
                          f"{key}.running_var": v, f"{key}.num_batches_tracked": np.array(1)})
    np.savez(tmp_path / "resnet34.npz", **state)
    fresh = build_resnet34(7, width=8)
    assert load_pretrained(fresh, tmp_path / "resnet34.npz") == 36 + 36
    assert np.allclose(fresh.get_layer("layer3_1_bn2").get_weights()[1],
                       narrow.get_layer("layer3_1_bn2").get_weights()[1] + 0.5)
    assert np.array_equal(fresh.get_layer("conv1").get_weights()[0], narrow.get_layer("conv1").get_weights()[0])
    with pytest.raises(DataError, match="nothing is downloaded"):
        load_pretrained(fresh, tmp_path / "missing.npz")
    wide = build_resnet34(7, width=16)
    with pytest.raises(DataError, match="conv1 has shapes"):
        load_pretrained(wide, tmp_path / "resnet34.npz")


# What TensorRT 8.0's ONNX parser takes (opset 13); batch norm must arrive folded.
TENSORRT_OPS = {"Conv", "Relu", "Clip", "MaxPool", "Pad", "Add", "Mul", "GlobalAveragePool", "Squeeze",
                "Reshape", "Flatten", "MatMul", "Gemm", "Softmax", "Transpose", "Identity"}


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_onnx_conversion_matches_keras(narrow, layout):
    import onnxruntime as ort

    from asc_toolchain.ser.export import keras_to_onnx

    proto = keras_to_onnx(narrow, layout)
    ops = {n.op_type for n in proto.graph.node}
    assert "BatchNormalization" not in ops and ops <= TENSORRT_OPS
    assert (proto.opset_import[0].version, proto.ir_version) == (13, 7)
    assert [o.name for o in proto.graph.output] == ["probabilities"]
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(3).random((2, 128, 128, 3), dtype=np.float32)
    want = narrow.predict(x, verbose=0)
    for i in range(2):
        feed = x[i:i + 1].transpose(0, 3, 1, 2).copy() if layout == "NCHW" else x[i:i + 1]
        got = session.run(None, {"input": feed})[0]
        assert np.max(np.abs(got - want[i:i + 1])) <= 1e-5


def test_bad_layout_and_converter_failure_are_one_line(narrow, monkeypatch):
    import tf2onnx

    from asc_toolchain.core.errors import ToolFailedError
    from asc_toolchain.ser.export import keras_to_onnx

    with pytest.raises(ConfigError, match="layout 'NCWH' is not NCHW or NHWC"):
        keras_to_onnx(narrow, "NCWH")

    def fail(*args, **kwargs):
        raise ValueError("Unsupported ops: Counter({'Foo': 1})\nsecond line")

    monkeypatch.setattr(tf2onnx.convert, "from_function", fail)
    with pytest.raises(ToolFailedError, match=r"tf2onnx could not convert ser_resnet34_w8: Unsupported ops") as exc:
        keras_to_onnx(narrow)
    assert "\n" not in str(exc.value) and "second line" not in str(exc.value)


def test_shared_train_settings_map_onto_the_ser_config(monkeypatch):
    from asc_toolchain.core import config
    from asc_toolchain.ser.train import SerTrainConfig

    cfg = SerTrainConfig.from_settings({"augment": "none", "batch_size": 256, "epochs": 5, "filters": "16,16"})
    assert (cfg.augment, cfg.batch_size, cfg.epochs, cfg.width) == (False, 32, 5, 64)
    cfg = SerTrainConfig.from_settings({"augment": "mixup", "batch_size": 64}, epochs=2, width=8)
    assert (cfg.augment, cfg.batch_size, cfg.epochs, cfg.width) == (True, 64, 2, 8)
    assert (cfg.backbone, SerTrainConfig.from_settings({"backbone": "resnet34"}).backbone) \
        == ("efficientnet-lite0", "resnet34")
    monkeypatch.setenv("ASC_TOOL_SER_WIDTH", "16")
    assert config.resolve({})["ser_width"] == (16, "environment")
    monkeypatch.setenv("ASC_TOOL_SER_WIDTH", "wide")
    with pytest.raises(ConfigError, match="ASC_TOOL_SER_WIDTH: bad value 'wide' for ser_width"):
        config.resolve({})
