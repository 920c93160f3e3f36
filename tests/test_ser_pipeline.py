"""jetson-ser end to end on seeded synthetic sounds: train → export → engine → listen → bundle → bench.

One narrow model (ResNet34 layout, width 8) is trained once for the module; the listening test
that asserts trigger and release uses a hand-made ONNX model whose output is a fixed function
of the features, so its decisions are exact.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from asc_toolchain.ser import features as F
from asc_toolchain.ser.synth import write_scenario, write_synthetic_ser

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ser_run(tmp_path_factory) -> Path:
    from asc_toolchain.cli import main

    base = tmp_path_factory.mktemp("ser")
    meta = write_synthetic_ser(base / "data", speakers=6, per_class=2, seconds=2.7, seed=0)
    out = base / "run"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ASC_TOOL_SER_MAX_WINDOWS", "1")          # environment and flag both reach it
        code = main(["train", "--target", "jetson-ser", "--data", str(meta), "--out", str(out),
                     "--epochs", "3", "--batch-size", "8", "--seed", "1", "--ser-backbone", "resnet34",
                     "--ser-width", "8"])
    assert code == 0
    return out


@pytest.fixture(scope="module")
def scripted_run(tmp_path_factory) -> Path:
    """A run whose ONNX model says anger when the mel image is bright (noise), else neutral:
    p(anger) = sigmoid(80·(mean(mel) − 0.5)). Synthetic anger noise has mean ≈ 0.66, tones ≈ 0.33."""
    from onnx import TensorProto, helper, numpy_helper, save

    run = tmp_path_factory.mktemp("scripted") / "run"
    (run / "onnx").mkdir(parents=True)
    k = 40.0
    nodes = [
        helper.make_node("Slice", ["input", "s0", "s1", "ax"], ["mel"]),
        helper.make_node("ReduceMean", ["mel"], ["m"], axes=[1, 2, 3], keepdims=0),
        helper.make_node("Reshape", ["m", "shape"], ["m2"]),
        helper.make_node("Gemm", ["m2", "W", "B"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
    ]
    inits = [numpy_helper.from_array(np.array(v, dt), n) for n, v, dt in (
        ("s0", [0], np.int64), ("s1", [1], np.int64), ("ax", [1], np.int64), ("shape", [1, 1], np.int64),
        ("W", [[k, -k]], np.float32), ("B", [-k * 0.5, k * 0.5], np.float32))]
    graph = helper.make_graph(
        nodes, "scripted", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 128, 128])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [1, 2])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 7
    save(model, run / "onnx" / "model.onnx")
    (run / "manifest.json").write_text(json.dumps({"target": "jetson-ser", "class_names": ["anger", "neutral"],
                                                   "negative_classes": ["anger"], "features": F.FEATURE_PARAMS}))
    return run


def test_train_writes_a_complete_jetson_ser_run(ser_run):
    for name in ("manifest.json", "model.keras", "model.h5", "split.csv", "metrics.json",
                 "confusion_matrix.png", "training_curves.png", "history.json"):
        assert (ser_run / name).is_file(), name
    manifest = json.loads((ser_run / "manifest.json").read_text())
    assert manifest["target"] == "jetson-ser" and manifest["model"]["width"] == 8
    assert manifest["class_names"] == ["happiness", "anger", "sadness", "neutral"]
    assert manifest["negative_classes"] == ["anger", "sadness"]
    assert manifest["training"]["speed"] == [0.9, 1.0, 1.1]       # speed perturbation on by default
    speakers = manifest["data"]["speakers"]
    assert not set(speakers["train"]) & set(speakers["test"])
    metrics = json.loads((ser_run / "metrics.json").read_text())
    assert set(metrics["summary"]) >= {"uar_4_class", "macro_f1_4_class"}
    assert 0.0 <= metrics["clip"]["uar"] <= 1.0 and metrics["per_corpus"]


def test_evaluate_routes_a_jetson_ser_run_to_its_own_features(ser_run, cli):
    code, out, err = cli("evaluate", "--run", ser_run, "--json")
    assert code == 0, err
    report = json.loads(out)
    stored = json.loads((ser_run / "metrics.json").read_text())
    assert report["clip"]["n"] == stored["clip"]["n"]
    assert report["clip"]["confusion_matrix"] == stored["clip"]["confusion_matrix"]


def test_export_onnx_matches_keras(ser_run, cli):
    import onnx

    code, out, err = cli("export", "--run", ser_run, "--format", "onnx", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["max_abs_diff"] <= 1e-4 and report["top1_agreement"] == 1.0
    assert report["input"] == [1, 3, 128, 128] and report["opset"] == 13
    model = onnx.load(ser_run / "onnx" / "model.onnx")
    assert model.opset_import[0].version == 13
    assert [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim] == [1, 3, 128, 128]
    code, out, _ = cli("export", "--run", ser_run, "--layout", "NHWC", "--json")
    assert code == 0 and json.loads(out)["input"] == [1, 128, 128, 3]


def test_engine_without_tensorrt_prints_trtexec_and_exits_2(ser_run, cli):
    try:
        import tensorrt  # noqa: F401
        pytest.skip("tensorrt is installed here: see test_engine_on_gpu")
    except ImportError:
        pass
    code, out, err = cli("engine", "--run", ser_run, "--precision", "fp16")
    assert code == 2
    assert out.startswith("trtexec --onnx=") and "--fp16" in out and "--saveEngine=" in out
    assert "tensorrt Python package is not importable" in err


@pytest.mark.gpu
@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_engine_on_gpu(ser_run, cli, precision):
    pytest.importorskip("tensorrt", reason="needs TensorRT and a CUDA GPU")
    code, out, err = cli("engine", "--run", ser_run, "--precision", precision, "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["top1_agreement"] == 1.0 and report["max_abs_diff"] <= (1e-3 if precision == "fp32" else 2e-2)
    assert Path(report["engine"]).is_file() and report["tensorrt"] in report["engine"]
    code, out, _ = cli("engine", "--run", ser_run, "--precision", precision, "--json")
    assert json.loads(out)["cached"] is True


def test_listen_file_triggers_and_releases_as_specified(scripted_run, tmp_path, cli):
    audio = write_scenario(tmp_path / "scene.wav", [("anger", 12.0), ("neutral", 14.0)])
    marker = tmp_path / "calm-down.txt"
    command = f"{sys.executable} -c \"open('{marker}', 'w').write('x')\""
    code, out, err = cli("listen", "--run", scripted_run, "--file", audio, "--sustain", "3",
                         "--cooldown", "4", "--trigger", "0.6", "--release", "0.4", "--smoothing", "1",
                         "--on-trigger-run", command, "--json")
    assert code == 0, err
    s = json.loads(out)
    events = [(e["event"], e["t"]) for e in s["events"]]
    assert [name for name, _ in events] == ["trigger", "release", "ready"]
    t0 = F.WINDOW_SAMPLES / 16000
    assert events[0][1] == pytest.approx(t0 + 3.0, abs=0.01)  # high from the first window, 3 s sustained
    assert 12.0 < events[1][1] < 12.0 + t0 + 0.5              # once the window holds mostly the tone
    assert events[2][1] == pytest.approx(events[1][1] + 4.0, abs=0.02)  # cooldown
    assert marker.read_text() == "x"
    assert s["realtime_factor"] > 1.0 and s["inferences"] == int((26 * 16000 - F.WINDOW_SAMPLES) // 8000) + 1
    assert "trigger" in err and "latency (mean / p95 ms)" in err


def test_listen_file_with_the_trained_model(ser_run, tmp_path, cli):
    audio = write_scenario(tmp_path / "scene.wav", [("anger", 4.0), ("neutral", 2.0)])
    code, out, err = cli("listen", "--run", ser_run, "--file", audio, "--json")
    assert code == 0, err
    s = json.loads(out)
    assert s["inferences"] == 7 and s["engine"] == "onnxruntime"
    assert s["latency_ms"]["features_ms"]["mean"] > 0 and s["latency_ms"]["inference_ms"]["mean"] > 0


def test_listen_user_errors(scripted_run, tmp_path, cli):
    code, _, err = cli("listen", "--run", scripted_run, "--file", tmp_path / "missing.wav")
    assert code == 2 and "missing.wav: audio file not found" in err
    short = write_scenario(tmp_path / "short.wav", [("neutral", 1.0)])
    code, _, err = cli("listen", "--run", scripted_run, "--file", short)
    assert code == 2 and "shorter than one window (2.604 s)" in err
    code, _, err = cli("listen", "--run", scripted_run, "--file", short, "--trigger", "0.3", "--release", "0.5")
    assert code == 2 and "release threshold 0.5 is not below the trigger threshold 0.3" in err


def test_listen_devices_without_portaudio_names_the_package(cli):
    try:
        import sounddevice  # noqa: F401
        pytest.skip("sounddevice works here")
    except (ImportError, OSError):
        pass
    code, _, err = cli("listen", "--list-devices")
    assert code == 2 and "sounddevice" in err and "pip install sounddevice" in err


def test_commands_refuse_a_run_of_the_other_target(tmp_path, cli):
    run = tmp_path / "asc"
    run.mkdir()
    (run / "manifest.json").write_text(json.dumps({"target": "stm32-asc", "class_names": ["a"]}))
    code, _, err = cli("export", "--run", run)
    assert code == 2 and "run target is 'stm32-asc', not 'jetson-ser'" in err


def test_bundle_is_complete_and_its_runtime_runs_alone(ser_run, tmp_path, cli):
    out = tmp_path / "nano"
    code, stdout, err = cli("bundle", "--run", ser_run, "--board", "jetson-nano", "--out", out, "--json")
    assert code == 0, err
    files = set(json.loads(stdout)["files"])
    assert {"model.onnx", "config.json", "run.py", "build_engine.sh", "requirements-jetpack46.txt",
            "README.md", "ser_runtime/features.py", "ser_runtime/runtime.py"} <= files
    readme = (out / "README.md").read_text()
    assert "trtexec --onnx=model.onnx --saveEngine=engines/fp16.engine" in readme
    assert "personal/home use" in readme and "--list-devices" in readme
    assert "numpy>=1.13,<1.20" in (out / "requirements-jetpack46.txt").read_text()
    config = json.loads((out / "config.json").read_text())
    assert config["negative_classes"] == ["anger", "sadness"] and config["features"]["window_samples"] == 41664
    wav = write_scenario(tmp_path / "s.wav", [("anger", 3.0)])
    # the bundle runs the loop on a WAV file with its own files (ser_runtime imports nothing else)
    proc = subprocess.run([sys.executable, "run.py", "--file", str(wav)], cwd=out,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1])["inferences"] == 1
    # a second bundle replaces the first; a foreign folder is refused
    assert cli("bundle", "--run", ser_run, "--out", out)[0] == 0
    (tmp_path / "mine").mkdir()
    code, _, err = cli("bundle", "--run", ser_run, "--out", tmp_path / "mine")
    assert code == 2 and "is not a bundle" in err


def test_bench_ser_infer_and_features_report_their_units(ser_run, cli):
    code, out, err = cli("bench", "ser-infer", "--run", ser_run, "--json")
    assert code == 0, err
    r = json.loads(out)
    assert r["onnxruntime_cpu_latency_ms"] > 0 and "tensorrt" in " ".join(r)
    from asc_toolchain.bench.ser import bench_ser_features

    r = bench_ser_features(windows=3, repeats=1)
    assert r["ms_per_window"] > 0 and r["ratio_vs_librosa"] > 0 and r["max_abs_diff_logmel_unit"] <= 1e-4


def test_evaluate_refuses_an_stm32_engine_for_a_jetson_ser_run_before_any_work(ser_run, cli, monkeypatch):
    import asc_toolchain.ser.windows as windows

    monkeypatch.setattr(windows, "ser_windows", lambda *a, **k: pytest.fail("features computed"))
    code, out, err = cli("evaluate", "--run", ser_run, "--engine", "tflm")
    assert code == 2 and out == ""
    assert "engine 'tflm' does not score jetson-ser runs" in err and "keras, onnx" in err
