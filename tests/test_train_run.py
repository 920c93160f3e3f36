"""Training writes a complete run directory atomically; evaluate scores it."""

import json

import numpy as np
import pytest

from asc_toolchain.asc.run import open_asc_run
from asc_toolchain.core.runs import Run, read_split

pytestmark = pytest.mark.slow

RUN_FILES = {"manifest.json", "model.keras", "model.h5", "scaler.npz", "split.csv", "metrics.json",
             "confusion_matrix.png", "training_curves.png", "history.json"}


def test_run_directory_is_complete(synth_run):
    assert RUN_FILES <= {p.name for p in synth_run.iterdir()}
    run = open_asc_run(synth_run)
    m = run.manifest
    assert m["target"] == "stm32-asc" and m["class_names"] == ["indoor", "outdoor", "vehicle"]
    assert m["features"]["n_mels"] == 30 and m["features"]["window_samples"] == 33280   # 64 columns
    assert m["model"]["parameters"] == 14615 and len(m["data"]["sha256"]) == 64
    assert run.scaler().mean.shape == (30, 64)
    metrics = json.loads((synth_run / "metrics.json").read_text())
    for level in ("window", "clip"):
        assert {"accuracy", "macro_f1", "uar", "per_class_recall", "confusion_matrix"} <= set(metrics[level])
    assert (synth_run / "confusion_matrix.png").read_bytes()[:4] == b"\x89PNG"


def test_split_csv_keeps_groups_apart(synth_run):
    seen = {}
    for item, split in read_split(synth_run / "split.csv"):
        seen.setdefault(item.group, set()).add(split)
    assert all(len(v) == 1 for v in seen.values())


def test_evaluate_test_split_reproduces_training_metrics(synth_run, cli):
    code, out, err = cli("evaluate", "--run", synth_run, "--json")
    assert code == 0, err
    report = json.loads(out)
    stored = json.loads((synth_run / "metrics.json").read_text())
    assert report["engine"] == "keras"
    assert report["window"]["confusion_matrix"] == stored["window"]["confusion_matrix"]
    assert report["window"]["n"] == sum(map(sum, report["window"]["confusion_matrix"]))


def test_evaluate_unseen_recordings_from_a_csv(synth_run, cli, tmp_path):
    from asc_toolchain.data.synth import make_synth_dataset

    other = make_synth_dataset(tmp_path / "other", per_class=3, seconds=3.0, seed=99)
    code, out, err = cli("evaluate", "--run", synth_run, "--data", other / "metadata.csv",
                         "--root", other, "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["clip"]["n"] == 9
    assert 0.0 <= report["window"]["uar"] <= 1.0
    assert report["window"]["accuracy"] > 0.5            # the synthetic classes are easy to tell apart


def test_interrupted_run_leaves_older_run_untouched(synth_run, synth_dir, tmp_path, monkeypatch, cli):
    import shutil

    old = tmp_path / "run"
    shutil.copytree(synth_run, old)
    before = {p.name: p.read_bytes() for p in old.iterdir()}

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    import asc_toolchain.core.plots as report

    monkeypatch.setattr(report, "plot_history", interrupted)
    code, out, err = cli("train", "--data", synth_dir / "metadata.csv", "--out", old, "--epochs", "1")
    assert code == 130
    assert {p.name: p.read_bytes() for p in old.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["run"]           # no run.tmp-* left behind


def test_same_seed_same_model(synth_dir, tmp_path, cli):
    args = ["train", "--data", synth_dir / "metadata.csv", "--epochs", "2", "--seed", "11", "--max-seconds", "3"]
    assert cli(*args, "--out", tmp_path / "a")[0] == 0
    assert cli(*args, "--out", tmp_path / "b")[0] == 0
    wa = Run.open(tmp_path / "a").load_keras().get_weights()
    wb = Run.open(tmp_path / "b").load_keras().get_weights()
    assert all(np.array_equal(x, y) for x, y in zip(wa, wb))
