"""Knowledge distillation (asc/distill.py): the loss is what the module says, a teacher trained
per split (--distill) or read from a run (--teacher, its own scaler honoured) teaches a student
that is saved alone, cv reports the teachers beside the students, and bad combinations are one
line before any work."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from asc_toolchain.asc.features import Scaler


def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def test_the_loss_mixes_label_cross_entropy_and_the_softened_teacher():
    import keras

    from asc_toolchain.asc.distill import Distiller

    keras.utils.set_random_seed(0)
    student = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    teacher = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    x = np.random.default_rng(1).normal(size=(6, 4)).astype(np.float32)
    y = np.array([0, 1, 2, 0, 1, 2])
    s, t = np.asarray(student(x)), np.asarray(teacher(x))
    ce = -np.log(s[np.arange(6), y])
    temp, alpha = 2.0, 0.3
    t_soft, s_soft = _softmax(np.log(t) / temp), _softmax(np.log(s) / temp)
    kl = (t_soft * (np.log(t_soft) - np.log(s_soft))).sum(axis=-1) * temp ** 2
    model = Distiller(student, teacher, alpha, temp)
    loss = float(model.compute_loss(x, y, model(x)))
    assert loss == pytest.approx(float(np.mean((1 - alpha) * ce + alpha * kl)), rel=1e-4)
    assert not teacher.trainable and student.trainable
    assert float(Distiller(student, teacher, 0.0, temp).compute_loss(x, y, model(x))) == pytest.approx(ce.mean(), rel=1e-5)
    same = keras.models.clone_model(student)
    same.set_weights(student.get_weights())
    assert float(Distiller(student, same, 1.0, temp).compute_loss(x, y, model(x))) == pytest.approx(0.0, abs=1e-5)


def test_a_teacher_run_sees_its_own_standardisation():
    """x_teacher = x_student · gain + bias reproduces the teacher scaler's transform of the raw dB."""
    rng = np.random.default_rng(2)
    raw = rng.uniform(-80, 0, size=(50, 30, 32)).astype(np.float32)
    ours, theirs = Scaler.fit(raw[:25]), Scaler.fit(raw[25:])
    gain = ours.scale / theirs.scale
    bias = (ours.mean - theirs.mean) / theirs.scale
    np.testing.assert_allclose(ours.transform(raw) * gain + bias, theirs.transform(raw), atol=2e-4)


@pytest.mark.slow
def test_distilled_student_is_saved_alone_and_quantizes(synth_dir, tmp_path, cli):
    data = synth_dir / "metadata.csv"
    common = ["--epochs", "1", "--max-seconds", "3", "--cache-dir", tmp_path / "cache", "--seed", "1"]
    code, _, err = cli("train", "--data", data, "--out", tmp_path / "student", "--distill", "inverted:12:2",
                       "--distill-alpha", "0.7", *common)
    assert code == 0, err
    assert "teacher inverted:12:2: " in err and "parameters, test window UAR" in err
    manifest = json.loads((tmp_path / "student" / "manifest.json").read_text())
    assert manifest["training"]["distill"] == "inverted:12:2" and manifest["training"]["distill_alpha"] == 0.7
    assert manifest["model"]["name"] == "seed_cnn" and manifest["model"]["parameters"] == 14615
    code, _, err = cli("quantize", "--run", tmp_path / "student")
    assert code == 0, err
    code, _, err = cli("train", "--data", data, "--out", tmp_path / "second", "--teacher", tmp_path / "student",
                       "--model", "ds_cnn", "--width", "8", "--depth", "1", *common)
    assert code == 0, err
    manifest = json.loads((tmp_path / "second" / "manifest.json").read_text())
    assert manifest["training"]["teacher"] == str(tmp_path / "student") and manifest["model"]["name"] == "ds_cnn"


@pytest.mark.slow
def test_cv_trains_a_teacher_per_fold_and_reports_it(synth_dir, tmp_path, cli):
    code, out, err = cli("cv", "--data", synth_dir / "metadata.csv", "--out", tmp_path / "cv", "--folds", "3",
                         "--distill", "ds_cnn:8:1", "--epochs", "1", "--max-seconds", "3",
                         "--cache-dir", tmp_path / "cache", "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert err.count("teacher ds_cnn:8:1: training") == 3
    assert all(set(f["teacher"]) == {"window", "clip", "clip_mean"} for f in summary["folds"])
    teacher = [f["teacher"]["window"]["uar"] for f in summary["folds"]]
    assert summary["teacher_mean_sd"]["window"]["uar"]["mean"] == pytest.approx(np.mean(teacher))
    assert summary["settings"]["distill"] == "ds_cnn:8:1"


@pytest.mark.parametrize("flags,message", [
    (["--distill", "inverted", "--teacher", "RUN"], "--teacher and --distill both name a teacher"),
    (["--distill", "seed_cnn:8"], "--distill 'seed_cnn:8': expected FAMILY[:WIDTH[:DEPTH]]"),
    (["--distill", "inverted:0"], "--distill 'inverted:0': expected FAMILY[:WIDTH[:DEPTH]]"),
    (["--distill", "efficientnet_lite0:16"],
     "--distill 'efficientnet_lite0:16': expected FAMILY[:WIDTH[:DEPTH]]"),
    (["--teacher", "RUN", "--n-mels", "40"], "its features (30 mels x 64 columns, n_fft 1024) are not this training's"),
])
def test_distillation_options_that_cannot_work_are_one_line_before_any_work(flags, message, synth_run, tmp_path,
                                                                            synth_dir, cli):
    flags = [str(synth_run) if f == "RUN" else f for f in flags]
    out = tmp_path / "out"
    code, stdout, err = cli("train", "--data", synth_dir / "metadata.csv", "--out", out, *flags,
                            "--cache-dir", tmp_path / "cache")
    assert code == 2 and stdout == "" and message in err and len(err.strip().splitlines()) == 1
    assert not out.exists() and not (tmp_path / "cache").exists()
    code, _, err = cli("cv", "--data", synth_dir / "metadata.csv", "--out", out, "--teacher", synth_run)
    assert code == 2 and "in cross-validation a trained run has seen other folds' test recordings" in err
    assert not out.exists()


@pytest.mark.slow
def test_an_imagenet_teacher_teaches_from_strided_windows(synth_dir, tmp_path, cli):
    """--distill efficientnet_lite0: the ImageNet-initialised teacher (no size) trains on every 8th
    window, the student alone is saved, and the manifest says how it was taught."""
    data = synth_dir / "metadata.csv"
    common = ["--epochs", "1", "--max-seconds", "3", "--cache-dir", tmp_path / "cache", "--batch-size", "32"]
    code, _, err = cli("train", "--data", data, "--out", tmp_path / "all", *common)
    assert code == 0, err
    every = int(re.search(r"windows: train (\d+)", err).group(1))
    code, _, err = cli("train", "--data", data, "--out", tmp_path / "student", "--distill", "efficientnet_lite0",
                       "--window-stride", "8", *common)
    assert code == 0, err
    strided = int(re.search(r"windows: train (\d+)", err).group(1))
    assert every // 8 <= strided <= every // 8 + 18                 # at most one more per recording
    assert re.search(r"teacher efficientnet_lite0: 3,7\d\d,\d{3} parameters, test window UAR", err)
    manifest = json.loads((tmp_path / "student" / "manifest.json").read_text())
    assert manifest["training"]["distill"] == "efficientnet_lite0" and manifest["training"]["window_stride"] == 8
    assert manifest["model"]["name"] == "seed_cnn" and manifest["model"]["parameters"] == 14615
    tested = [json.loads((tmp_path / run / "metrics.json").read_text())["window"]["n"]
              for run in ("all", "student")]
    assert tested[0] == tested[1]                                   # the test split keeps every window
