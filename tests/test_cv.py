"""`asc-tool cv`: grouped folds (or the data's fold column), one ordinary run per fold, mean ± sd
per window and per clip (vote and mean probability), features computed once for all folds."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from asc_toolchain.asc.run import open_asc_run
from asc_toolchain.evaluate.metrics import full_report, scores_report

FAST = ("--epochs", "1", "--max-seconds", "3", "--batch-size", "64")


@pytest.fixture(scope="module")
def cv_result(synth_dir, tmp_path_factory):
    """One 3-fold cv on the synthetic set (no fold column), counting feature computations (each
    computed recording is stored once, whether computed here or by an extraction worker)."""
    from asc_toolchain.asc import cache
    from asc_toolchain.cli import main

    tmp = tmp_path_factory.mktemp("cv")
    calls = []
    real = cache.FeatureCache._store

    def counted(self, key, db):
        calls.append(key)
        return real(self, key, db)

    cache.FeatureCache._store = counted
    try:
        code = main(["cv", "--data", str(synth_dir / "metadata.csv"), "--folds", "3", "--out", str(tmp / "cv"),
                     "--cache-dir", str(tmp / "cache"), *FAST])
    finally:
        cache.FeatureCache._store = real
    assert code == 0
    return tmp / "cv", calls


def test_cv_writes_summary_plot_and_one_run_per_fold(cv_result, synth_dir):
    out, calls = cv_result
    summary = json.loads((out / "cv.json").read_text())
    assert [f["fold"] for f in summary["folds"]] == ["1", "2", "3"]
    assert (out / "cv_summary.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    tested = []
    for fold in summary["folds"]:
        run = open_asc_run(out / fold["run"])
        assert run.manifest["training"]["test_fold"] == fold["fold"]
        test = {str(it.path) for it in run.items("test")}
        assert not test & {str(it.path) for it in run.items("train")}
        assert fold["window"] == json.loads((out / fold["run"] / "metrics.json").read_text())["window"]
        tested += sorted(test)
    with open(synth_dir / "metadata.csv") as f:
        assert len(tested) == len(set(tested)) == sum(1 for _ in csv.DictReader(f))
    assert len(calls) == len(set(calls)) == len(tested), "each recording's features computed once"


def test_cv_mean_and_sd_are_over_folds(cv_result):
    summary = json.loads((cv_result[0] / "cv.json").read_text())
    for level in ("window", "clip", "clip_mean"):
        values = [f[level]["uar"] for f in summary["folds"]]
        assert summary["mean_sd"][level]["uar"]["mean"] == pytest.approx(np.mean(values))
        assert summary["mean_sd"][level]["uar"]["sd"] == pytest.approx(np.std(values, ddof=1))
    pooled = summary["pooled"]
    assert pooled["clip"]["n"] == 18
    assert pooled["window"]["n"] == sum(f["window"]["n"] for f in summary["folds"])


def _with_folds(synth_dir, tmp_path, folds):
    rows = list(csv.DictReader(open(synth_dir / "metadata.csv")))
    path = tmp_path / "folds.csv"
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, ["path", "label", "group", "fold"])
        w.writeheader()
        for k, row in enumerate(rows):
            w.writerow(row | {"fold": str(folds[k % len(folds)])})
    return path


def test_cv_uses_the_data_fold_column(synth_dir, tmp_path, cli):
    data = _with_folds(synth_dir, tmp_path, ["a", "b"])
    code, out, err = cli("cv", "--data", data, "--root", synth_dir, "--out", tmp_path / "cv", "--json",
                         "--cache-dir", tmp_path / "cache", *FAST)
    assert code == 0, err
    summary = json.loads(out)
    assert [f["fold"] for f in summary["folds"]] == ["a", "b"]
    assert "the data's fold column" in err
    rows = list(csv.DictReader(open(data)))
    fold_a = {(synth_dir / r["path"]).resolve() for r in rows if r["fold"] == "a"}
    run = open_asc_run(tmp_path / "cv" / "fold-a")
    assert {it.path.resolve() for it in run.items("test")} == fold_a


def test_cv_folds_disagreeing_with_the_fold_column_is_one_line_exit_2(synth_dir, tmp_path, cli):
    data = _with_folds(synth_dir, tmp_path, [1, 2])
    code, out, err = cli("cv", "--data", data, "--root", synth_dir, "--folds", "5", "--out", tmp_path / "cv")
    assert code == 2 and out == ""
    assert "--folds 5" in err and "2 folds in its fold column" in err and "--folds 2" in err
    assert not (tmp_path / "cv").exists()


def test_cv_refuses_a_folder_it_did_not_make(synth_dir, tmp_path, cli):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    code, _, err = cli("cv", "--data", synth_dir / "metadata.csv", "--out", tmp_path / "mine", *FAST)
    assert code == 2
    assert "not a cross-validation folder" in err
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep"


def test_macro_f1_leaves_out_a_class_the_set_lacks_unless_it_is_predicted():
    names = ["a", "b", "c"]
    y = np.array([0, 0, 1, 1])
    right = scores_report(y, np.array([0, 0, 1, 1]), names)
    assert right["macro_f1"] == 1.0 and right["uar"] == 1.0          # c absent, never predicted
    wrong = scores_report(y, np.array([0, 2, 1, 1]), names)           # one a predicted as c
    # F1: a 2/3, b 1, c 0 (predicted, absent) → mean 5/9
    assert wrong["macro_f1"] == pytest.approx(5 / 9) and wrong["uar"] == pytest.approx(0.75)


def test_clip_by_mean_probability_differs_from_the_vote():
    # one clip, three windows: two narrow votes for class 1, one confident window of class 0
    scores = np.array([[0.45, 0.55], [0.45, 0.55], [0.99, 0.01]])
    report = full_report(np.zeros(3, int), scores.argmax(axis=1), np.zeros(3, int), ["a", "b"], scores)
    assert report["clip"]["accuracy"] == 0.0
    assert report["clip_mean"]["accuracy"] == 1.0
