"""EfficientNet-Lite0 for jetson-ser: the legacy checkpoint reader, the name mapping, ImageNet sanity, and
train → export → bundle → bench with `--ser-backbone efficientnet-lite0`."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from asc_toolchain.core.errors import DataError
from asc_toolchain.ser.efficientnet import build_efficientnet_lite0, checkpoint_path, load_imagenet
from asc_toolchain.ser.torch_legacy import MAGIC, read_state_dict

MILITARY_UNIFORM = 652            # ImageNet class of the classic Grace Hopper portrait


@pytest.fixture(scope="module")
def state():
    return read_state_dict(checkpoint_path())


def test_reader_gives_every_tensor_of_the_wheel_checkpoint(state):
    assert len(state) == 296
    assert state["_conv_stem.weight"].shape == (32, 3, 3, 3) and state["_conv_stem.weight"].dtype == np.float32
    assert state["_blocks.15._project_conv.weight"].shape == (320, 1152, 1, 1)
    assert state["_fc.weight"].shape == (1000, 1280) and state["_bn0.num_batches_tracked"].dtype == np.int64
    weights = sum(v.size for k, v in state.items() if "running" not in k and "num_batches" not in k)
    assert weights == 4_652_008                       # EfficientNet-Lite0's parameter count
    assert float(state["_bn1.running_var"].std()) > 0.01      # real statistics, not the 1.0 of a fresh net


def test_imagenet_weights_name_grace_hopper_s_uniform(state):
    """A fixed photo gives the class every ImageNet model gives it: the mapping and the layers are right."""
    import matplotlib
    from PIL import Image

    model = build_efficientnet_lite0(1000, input_shape=(224, 224, 3), imagenet_top=True)
    report = load_imagenet(model)
    with_weights = [layer for layer in model.layers if layer.weights]
    assert report == {"layers": len(with_weights), "tensors": 247, "unused": []}    # 296 − 49 counters
    bn = model.get_layer("_blocks-15-_bn2")
    np.testing.assert_array_equal(bn.moving_variance.numpy(), state["_blocks.15._bn2.running_var"])
    photo = Image.open(Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg").convert("RGB")
    w, h = photo.size
    s = min(w, h)
    photo = photo.crop(((w - s) // 2, (h - s) // 2, (w + s) // 2, (h + s) // 2)).resize((224, 224), Image.BILINEAR)
    logits = np.asarray(model(np.asarray(photo, np.float32)[None] / 255.0, training=False))[0]
    p = np.exp(logits - logits.max())
    p /= p.sum()
    assert int(np.argmax(p)) == MILITARY_UNIFORM and p.max() > 0.25


def test_ser_model_takes_every_backbone_tensor_and_leaves_the_head_fresh(state):
    model = build_efficientnet_lite0(7)
    head_before = model.get_layer("head_fc1").get_weights()[0].copy()
    report = load_imagenet(model)
    assert report["unused"] == ["_fc.bias", "_fc.weight"] and report["tensors"] == 245
    assert report["layers"] == sum(1 for layer in model.layers if layer.weights) - 2     # head_fc1, probabilities
    np.testing.assert_array_equal(model.get_layer("head_fc1").get_weights()[0], head_before)
    kernel = model.get_layer("_blocks-3-_depthwise_conv").get_weights()[0]
    np.testing.assert_array_equal(kernel[:, :, 7, 0], state["_blocks.3._depthwise_conv.weight"][7, 0])
    assert model.output_shape == (None, 7) and model.input_shape == (None, 128, 128, 3)


def _legacy(path: Path, obj_pickle: bytes) -> Path:
    path.write_bytes(pickle.dumps(MAGIC, 2) + pickle.dumps(1001, 2)
                     + pickle.dumps({"little_endian": True, "protocol_version": 1001}, 2) + obj_pickle)
    return path


def test_reader_refuses_what_it_does_not_understand(tmp_path):
    import os

    bad = {
        "zip.pth": (b"PK\x03\x04" + b"\0" * 40, "is a zip-format PyTorch file"),
        "text.pth": (b"hello", "not a legacy PyTorch state dict"),
        "missing.pth": (None, "weights file not found"),
    }
    for name, (payload, message) in bad.items():
        if payload is not None:
            (tmp_path / name).write_bytes(payload)
        with pytest.raises(DataError, match=message) as exc:
            read_state_dict(tmp_path / name)
        assert "\n" not in str(exc.value)
    evil = _legacy(tmp_path / "evil.pth", pickle.dumps(os.system, 2))
    with pytest.raises(DataError, match=r"(posix|os)\.system is not allowed in a weights file"):
        read_state_dict(evil)
    whole = Path(checkpoint_path()).read_bytes()
    (tmp_path / "cut.pth").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(DataError, match="holds .* bytes, expected .* elements|not a legacy PyTorch"):
        read_state_dict(tmp_path / "cut.pth")


def test_a_checkpoint_of_another_network_is_refused(tmp_path):
    from asc_toolchain.ser.model import build_resnet34

    with pytest.raises(DataError, match="model ser_resnet34_w8 has no EfficientNet-Lite0 layer"):
        load_imagenet(build_resnet34(7, width=8))


@pytest.mark.slow
def test_efficientnet_run_exports_bundles_and_benches(tmp_path, cli):
    from asc_toolchain.ser.synth import write_synthetic_ser

    meta = write_synthetic_ser(tmp_path / "data", speakers=6, per_class=1, seconds=2.7, seed=0)
    run = tmp_path / "run"
    code, _, err = cli("train", "--target", "jetson-ser", "--ser-backbone", "efficientnet-lite0", "--data", meta,
                       "--out", run, "--epochs", "1", "--batch-size", "8", "--ser-max-windows", "1")
    assert code == 0, err
    assert "pretrained: 98 layers (245 tensors) of ImageNet weights" in err
    model = json.loads((run / "manifest.json").read_text())["model"]
    assert (model["name"], model["width"]) == ("efficientnet-lite0", None)
    code, out, err = cli("export", "--run", run, "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["max_abs_diff"] <= 1e-4 and report["input"] == [1, 3, 128, 128] and report["opset"] == 13
    code, out, err = cli("bundle", "--run", run, "--out", tmp_path / "nano", "--json")
    assert code == 0, err
    assert "model.onnx" in json.loads(out)["files"]
    code, out, err = cli("bench", "ser-infer", "--run", run, "--json")
    assert code == 0, err
    r = json.loads(out)
    assert r["model_backbone"] == "efficientnet-lite0" and r["onnxruntime_cpu_latency_ms"] > 0


def _one_tensor_pickle(offset: int) -> bytes:
    """Protocol-2 opcodes of {'w': a (3,) float tensor at ``offset`` of storage '0'}, as torch writes them."""
    ordered_dict = b"ccollections\nOrderedDict\n)R"
    pid = b"(X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x04tQ"
    args = b"(" + pid + bytes([ord("K"), offset]) + b"K\x03\x85K\x01\x85\x89" + ordered_dict + b"t"
    return (b"\x80\x02" + ordered_dict + b"X\x01\x00\x00\x00w" + b"ctorch._utils\n_rebuild_tensor_v2\n"
            + args + b"Rs.")


def test_a_tensor_reaching_past_its_storage_is_refused(tmp_path):
    storages = pickle.dumps(["0"], 2) + np.int64(4).tobytes() + np.arange(4, dtype="<f4").tobytes()
    with pytest.raises(DataError, match=r"tensor of shape \(3,\) runs past its storage 0"):
        read_state_dict(_legacy(tmp_path / "past.pth", _one_tensor_pickle(2) + storages))
    state = read_state_dict(_legacy(tmp_path / "ok.pth", _one_tensor_pickle(1) + storages))
    np.testing.assert_array_equal(state["w"], [1.0, 2.0, 3.0])


def test_backbone_names_and_width_are_checked_before_any_work():
    from asc_toolchain.core.errors import ConfigError
    from asc_toolchain.ser.model import BACKBONES, build_ser_model

    assert BACKBONES == ("resnet34", "efficientnet-lite0")
    with pytest.raises(ConfigError, match="unknown SER backbone 'vgg'.*resnet34, efficientnet-lite0"):
        build_ser_model("vgg", 7)
    with pytest.raises(ConfigError, match="--ser-width 8 applies to resnet34 only"):
        build_ser_model("efficientnet-lite0", 7, width=8)
    with pytest.raises(ConfigError, match="ResNet34 weights, and the backbone is efficientnet-lite0"):
        build_ser_model("efficientnet-lite0", 7, pretrained="imagenet-resnet34.npz")


@pytest.mark.parametrize("command", ["train", "cv"])
def test_a_resnet_only_setting_with_the_default_backbone_stops_before_any_feature(tmp_path, cli, monkeypatch,
                                                                                   command):
    """The default backbone is EfficientNet-Lite0: the seed's --ser-width (or a ResNet34 weights
    file) without --ser-backbone resnet34 is one line before any recording is read."""
    from asc_toolchain.ser import cv, train
    from asc_toolchain.ser.synth import write_synthetic_ser

    meta = write_synthetic_ser(tmp_path / "d", speakers=2, per_class=1, seconds=2.7, seed=0)
    for module in (cv, train):
        monkeypatch.setattr(module, "ser_windows", lambda *a, **k: pytest.fail("features computed"))
    code, _, err = cli(command, "--target", "jetson-ser", "--data", meta, "--out", tmp_path / "out",
                       "--ser-width", "32")
    assert code == 2 and "--ser-width 32 applies to resnet34 only" in err and "--ser-backbone resnet34" in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "out").exists()
