"""`asc-tool cv --target jetson-ser`: speaker-independent folds, per fold and mean ± sd per corpus.

One cross-validation (2 folds, 1 epoch, width 8, one window per utterance) of seeded synthetic
sounds whose six speakers are named as RAVDESS and EmoDB speakers, trained with a few recipe
options on; the fold assignment and the summary's arithmetic are checked without training.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from asc_toolchain.core.errors import DataError
from asc_toolchain.ser.synth import write_synthetic_ser

SPEAKERS = ["ravdess_01", "ravdess_02", "ravdess_03", "ravdess_04", "emodb_03", "emodb_08"]


def _two_corpora(folder: Path, fold_of=None) -> Path:
    """Synthetic set with speakers renamed to RAVDESS/EmoDB ones (and a fold column if given)."""
    meta = write_synthetic_ser(folder, speakers=6, per_class=1, seconds=2.7, seed=0)
    rows = list(csv.DictReader(open(meta, newline="")))
    with open(meta, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "label", "speaker"] + (["fold"] if fold_of else []))
        for r in rows:
            speaker = SPEAKERS[int(r["speaker"][-2:])]
            writer.writerow([r["path"], r["label"], speaker] + ([fold_of(speaker)] if fold_of else []))
    return meta


@pytest.fixture(scope="module")
def cv_out(tmp_path_factory):
    from asc_toolchain.cli import main

    base = tmp_path_factory.mktemp("sercv")
    meta = _two_corpora(base / "data")
    out = base / "cv"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ASC_TOOL_SER_MAX_WINDOWS", "1")
        code = main(["cv", "--target", "jetson-ser", "--data", str(meta), "--out", str(out), "--folds", "2",
                     "--epochs", "1", "--batch-size", "8", "--ser-backbone", "resnet34", "--ser-width", "8",
                     "--ser-speed", "0.9,1",
                     "--ser-mixup", "0.2", "--ser-label-smoothing", "0.1", "--ser-balanced",
                     "--ser-clip-score", "mean"])
    assert code == 0
    return out


@pytest.mark.slow
def test_cv_writes_per_fold_and_mean_sd_per_corpus_with_folds_disjoint_by_speaker(cv_out):
    summary = json.loads((cv_out / "cv.json").read_text())
    assert (cv_out / "cv_summary.png").stat().st_size > 10_000
    folds = summary["folds"]
    assert [f["fold"] for f in folds] == ["1", "2"]
    tested = [set(f["test_speakers"]) for f in folds]
    assert sum(len(t) for t in tested) == 6 and set().union(*tested) == set(SPEAKERS)   # each once
    for f, test in zip(folds, tested):
        split = list(csv.DictReader(open(cv_out / f["run"] / "split.csv", newline="")))
        by_split = {s: {r["group"] for r in split if r["split"] == s} for s in ("train", "val", "test")}
        assert by_split["test"] == test
        assert not by_split["train"] & test and not by_split["val"] & test and not by_split["train"] & by_split["val"]
        manifest = json.loads((cv_out / f["run"] / "manifest.json").read_text())
        assert manifest["training"]["test_fold"] == f["fold"]
        assert manifest["training"]["speed"] == [0.9, 1.0] and manifest["training"]["mixup"] == 0.2
    assert set(summary["mean_sd"]) == {"all", "ravdess", "emodb"}
    for scope, levels in summary["mean_sd"].items():
        for level in ("clip", "clip_mean"):
            rows = [f["figures"][scope][level] for f in folds if scope in f["figures"]]
            for name in ("uar_4_class", "macro_f1_4_class"):
                values = [r[name] for r in rows]
                stat = levels[level][name]
                assert stat["n_folds"] == len(rows) >= 1
                assert stat["mean"] == pytest.approx(np.mean(values))
                assert stat["sd"] == pytest.approx(np.std(values, ddof=1) if len(values) > 1 else 0.0)
    pooled = summary["pooled"]
    assert np.sum(pooled["clip_mean"]["confusion_matrix"]) == 24                 # every clip tested once
    assert summary["settings"]["clip_score"] == "mean" and summary["settings"]["balanced"] is True


def _items(fold_of=None):
    from asc_toolchain.ser.data import SerItem

    return [SerItem(Path(f"{s}_{k}.wav"), label, s, f"{s}_{k}", s.split("_")[0], fold_of(s) if fold_of else "")
            for s in SPEAKERS for k, label in enumerate(("anger", "neutral", "sadness", "happiness"))]


def test_the_fold_column_is_used_when_it_is_speaker_level():
    from asc_toolchain.ser.cv import speaker_folds

    column = {s: str(1 + i % 2) for i, s in enumerate(SPEAKERS)}
    items, how = speaker_folds(_items(column.get), None, 0, "meta.csv")
    assert "fold column" in how and [it.fold for it in items] == [column[it.group] for it in items]
    items, how = speaker_folds(_items(column.get), 3, 0, "meta.csv")       # another count: regrouped
    assert "--folds 3" in how and sorted({it.fold for it in items}) == ["1", "2", "3"]
    _assert_disjoint(items)


def test_a_fold_column_that_splits_a_speaker_is_refused():
    from asc_toolchain.ser.cv import speaker_folds

    import dataclasses

    items = _items(lambda s: "1")
    items[0] = dataclasses.replace(items[0], fold="2")
    with pytest.raises(DataError, match="puts speaker ravdess_01 in folds 1, 2"):
        speaker_folds(items, None, 0, "meta.csv")


def test_without_a_fold_column_folds_are_grouped_by_speaker():
    from asc_toolchain.ser.cv import speaker_folds

    items, how = speaker_folds(_items(), 3, 0, "meta.csv")
    assert how.startswith("grouped by speaker")
    _assert_disjoint(items)
    assert len({it.fold for it in items}) == 3


def _assert_disjoint(items):
    folds_of = {}
    for it in items:
        folds_of.setdefault(it.group, set()).add(it.fold)
    assert all(len(f) == 1 for f in folds_of.values())


def test_summary_has_seven_class_and_top4_figures_per_corpus():
    """The 7-emotion case, from fixed scores: both headline sets, per corpus, vote and mean."""
    from asc_toolchain.ser.cv import fold_row, summarise
    from asc_toolchain.ser.data import SER7, SerItem
    from asc_toolchain.ser.evaluate import ser_reports
    from asc_toolchain.ser.train import SerTrainConfig
    from asc_toolchain.ser.windows import SerWindows

    rng = np.random.default_rng(0)
    rows, tests = [], []
    for fold in ("1", "2"):
        items = [SerItem(Path(f"{c}{k}.wav"), label, f"{c}_{fold}", f"{c}{fold}{k}", c)
                 for c in ("ravdess", "emodb") for k, label in enumerate(SER7)]
        ws = SerWindows(np.empty(0), np.tile(np.arange(7), 2), np.arange(14), items)
        scores = rng.dirichlet(np.ones(7), 14)
        report = ser_reports(scores, ws, list(SER7))
        rows.append(fold_row(fold, report, ws))
        tests.append((scores, ws))
    summary = summarise(rows, tests, list(SER7), SerTrainConfig(), [], "test")
    for scope in ("all", "ravdess", "emodb"):
        for level in ("clip", "clip_mean"):
            figures = summary["mean_sd"][scope][level]
            assert set(figures) == {"uar_7_class", "macro_f1_7_class", "uar_top4", "macro_f1_top4"}
            values = [r["figures"][scope][level]["uar_top4"] for r in rows]
            assert figures["uar_top4"]["mean"] == pytest.approx(np.mean(values))
    assert summary["pooled"]["summary"]["n_clips"] == 28
