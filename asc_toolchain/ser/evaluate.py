"""Scores → the jetson-ser report: all classes, the top-4 subset, and each corpus.

Top-4 (happiness, anger, neutral, sadness; SPEC §8): the utterances whose true label is one of
the four, each predicted as the highest-scoring of the four (a 7-class model restricted to them).
Per clip is the majority vote of the clip's windows (ties: highest mean score, level ``clip``)
and the argmax of their mean probability (test-time averaging, level ``clip_mean``); both are
reported, and ``clip_score`` (vote / mean) picks the one the ``summary`` headline uses.
"""

from __future__ import annotations

import numpy as np

from ..evaluate.metrics import full_report
from .data import TOP4


def ser_reports(scores: np.ndarray, ws, class_names, clip_score: str = "vote") -> dict:
    """Window and clip reports for all classes, plus ``top4``, ``per_corpus`` and ``summary``
    (per clip by ``clip_score``: vote or mean)."""
    class_names = list(class_names)
    report = _report(scores, ws.y, ws.clip, class_names)
    corpora = np.array([ws.items[c].corpus or "unknown" for c in ws.clip])
    report["per_corpus"] = {}
    for corpus in sorted(set(corpora.tolist())):
        sel = corpora == corpus
        report["per_corpus"][corpus] = _report(scores[sel], ws.y[sel], ws.clip[sel], class_names)
    level = CLIP_LEVELS[clip_score]
    report["summary"] = summary_figures(report, level)
    report["summary"]["clip_score"] = clip_score
    report["summary_per_corpus"] = {k: summary_figures(v, level) for k, v in report["per_corpus"].items()}
    return report


def _report(scores, y, clip, class_names) -> dict:
    report = full_report(y, scores.argmax(axis=1), clip, class_names, scores)
    report["n_clips"] = int(len(np.unique(clip)))
    top4 = restrict_top4(scores, y, clip, class_names)
    if top4 is not None and len(class_names) > len(top4[3]):
        s4, y4, c4, names4 = top4
        report["top4"] = full_report(y4, s4.argmax(axis=1), c4, names4, s4)
    return report


def restrict_top4(scores, y, clip, class_names):
    """(scores, y, clip, names) of the top-4 windows with columns and labels remapped; None if
    fewer than two of the four classes exist."""
    names = [c for c in TOP4 if c in class_names]
    if len(names) < 2:
        return None
    cols = [class_names.index(c) for c in names]
    remap = np.full(len(class_names), -1)
    remap[cols] = np.arange(len(cols))
    sel = remap[y] >= 0
    return scores[sel][:, cols], remap[y[sel]], clip[sel], names


CLIP_LEVELS = {"vote": "clip", "mean": "clip_mean"}


def summary_figures(report: dict, level: str = "clip") -> dict:
    """The headline figures per clip (``level`` clip = vote, clip_mean = mean probability), with
    the number of classes in the name."""
    n = len(report["class_names"])
    out = {f"uar_{n}_class": report[level]["uar"], f"macro_f1_{n}_class": report[level]["macro_f1"],
           "n_clips": report.get("n_clips", 0)}
    if "top4" in report:
        out["uar_top4"] = report["top4"][level]["uar"]
        out["macro_f1_top4"] = report["top4"][level]["macro_f1"]
    return out


def evaluate_ser(run_dir, data=None, root=None, engine: str = "keras", split: str = "test",
                 skip_bad: bool = False) -> dict:
    """Score a jetson-ser run with ``engine`` (a jetson-ser entry of evaluate/engines.py) on
    ``data`` (default: its split). The engine is checked before any audio is read.

    The report has the same shape as metrics.json (window/clip, top4, per_corpus, summary)."""
    from ..evaluate.engines import get_engine
    from .data import SerItem, load_ser_items, parse_name
    from .export import open_ser_run
    from .windows import ser_windows

    score = get_engine(engine, "jetson-ser")
    run = open_ser_run(run_dir)
    names = run.class_names
    if data is not None:
        items = [it for it in load_ser_items(data, root, "7", skip_bad).items if it.label in names]
    else:
        items = [SerItem(it.path, it.label, it.group, it.clip_id, (parse_name(it.path) or ("", "", ""))[2])
                 for it in run.items(split)]
    cfg = run.manifest.get("training", {})
    ws = ser_windows(items, names, cfg.get("step_s", 0.5), cfg.get("max_windows", 4), skip_bad, [], desc=engine)
    report = ser_reports(score(run, ws), ws, names, cfg.get("clip_score", "vote"))
    report["engine"] = engine
    return report


def keras_scores(run, ws) -> np.ndarray:
    """Engine `keras` for jetson-ser: the float model on the windows (NHWC)."""
    return run.load_keras().predict(ws.nhwc(), batch_size=64, verbose=0)


def onnx_scores(run, ws) -> np.ndarray:
    """Engine `onnx` for jetson-ser: the exported model on ONNX Runtime, window by window."""
    from .listen import load_engine_model

    model = load_engine_model(run, "onnx")
    return np.stack([model(x) for x in ws.x])
