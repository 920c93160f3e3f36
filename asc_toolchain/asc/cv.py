"""Grouped cross-validation: K trainings, each fold once the test split, features computed once.

``cross_validate`` writes the folder OUT atomically (core.outdir): ``fold-K/`` (an ordinary run
directory per fold, its test split = fold K, validation groups drawn from the rest),
``cv.json`` (per fold and mean ± sd of accuracy, macro-F1 and UAR per window, per clip by
majority vote and per clip by mean probability; the pooled report over every fold's test
predictions) and ``cv_summary.png`` (per-fold bars, pooled confusion matrices).
The sd is the sample standard deviation over folds (ddof 1).
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np

from ..core.errors import ConfigError, RunError
from ..core.outdir import Destination
from ..core.runs import run_destination, write_json
from ..data.datasets import load_items
from ..data.labelmaps import load_label_map
from ..data.split import assign_folds, split_by_group
from ..evaluate.metrics import full_report
from .pipeline import WindowIndex
from .train import SPLITS, check_options, feature_cache, train_run

MARKER = "cv.json"
LEVELS = ("window", "clip", "clip_mean")
FIGURES = ("accuracy", "macro_f1", "uar")
SETTINGS = ("model", "width", "depth", "filters", "dense_units", "epochs", "batch_size", "optimizer",
            "learning_rate", "patience", "seed", "max_seconds", "class_weights", "augment", "freq_mixstyle",
            "eq_db", "time_roll", "reverb", "window_stride", "distill", "teacher", "distill_alpha",
            "distill_temperature", "n_mels", "columns", "n_fft", "val_fraction", "label_map")


def cross_validate(data, out, cfg: dict, root=None, folds: int | None = None, skip_bad: bool = False,
                   log=lambda msg: print(msg, file=sys.stderr)) -> dict:
    """Train and test once per fold (see module doc); returns what cv.json holds."""
    dest = Destination(out, MARKER, "a cross-validation folder", RunError)
    if cfg.get("teacher"):
        raise ConfigError(f"--teacher {cfg['teacher']}: in cross-validation a trained run has seen other folds' "
                          "test recordings", "use --distill FAMILY[:WIDTH[:DEPTH]]: a teacher trained per fold")
    check_options(cfg)
    label_map = load_label_map(cfg["label_map"])
    skipped: list = []
    items = load_items(data, root, label_map, skip_bad, skipped)
    from_column = all(it.fold for it in items)
    fold_of = assign_folds(items, folds, cfg["seed"], where=data)
    items = [dataclasses.replace(it, fold=f) for it, f in zip(items, fold_of)]
    names = sorted(set(fold_of), key=_fold_order)
    log(f"{len(items)} recordings in {len(set(i.group for i in items))} groups, {len(names)} folds "
        + ("(the data's fold column)" if from_column else "(grouped, stratified)"))
    index = WindowIndex.build(items, list(label_map.classes), feature_cache(cfg), skip_bad, skipped)
    context = {"data": data, "root": root, "label_map": label_map}
    per_fold, pooled = [], []
    with dest.writing() as tmp:
        for name in names:
            splits = split_by_group(items, cfg["seed"], cfg["test_fraction"], cfg["val_fraction"], name,
                                    classes=label_map.classes, where=data)
            log(f"fold {name}: " + ", ".join(f"{s} {splits.count(s)}" for s in SPLITS))
            result = train_run(run_destination(tmp / f"fold-{name}"), index, items, splits, cfg,
                               context | {"test_fold": name}, skipped, log)
            per_fold.append({"fold": name, "run": f"fold-{name}",
                             **{level: result["test"][level] for level in LEVELS}}
                            | ({"teacher": {level: result["teacher_test"][level] for level in LEVELS}}
                               if result["teacher_test"] else {}))
            pooled.append(result)
        summary = summarise(per_fold, pooled, list(label_map.classes), cfg, skipped)
        plot_summary(summary, tmp / "cv_summary.png")
        write_json(tmp / MARKER, summary)
    return summary | {"out": str(Path(out))}


def _fold_order(name: str):
    return (0, int(name)) if name.isdigit() else (1, name)


def summarise(per_fold: list, pooled: list, classes: list, cfg: dict, skipped: list) -> dict:
    """Mean ± sd per level and figure over folds, and the report of all folds' test windows pooled."""
    stats = {level: {fig: _mean_sd([f[level][fig] for f in per_fold]) for fig in FIGURES} for level in LEVELS}
    teacher = ({"teacher_mean_sd": {level: {fig: _mean_sd([f["teacher"][level][fig] for f in per_fold])
                                            for fig in FIGURES} for level in LEVELS}}
               if per_fold and all("teacher" in f for f in per_fold) else {})
    return {"folds": per_fold, "mean_sd": stats, **teacher, "pooled": _pooled_report(pooled, classes),
            "settings": {k: cfg.get(k) for k in SETTINGS},
            "skipped": [{"path": p, "reason": r} for p, r in skipped]}


def _mean_sd(values: list) -> dict:
    v = np.asarray(values, float)
    return {"mean": float(v.mean()), "sd": float(v.std(ddof=1)) if len(v) > 1 else 0.0}


def _pooled_report(pooled: list, classes: list) -> dict:
    """One report over every fold's test windows (clip numbers kept apart per fold)."""
    ys, scores, clips, offset = [], [], [], 0
    for r in pooled:
        ys.append(r["index"].y)
        scores.append(r["scores"])
        clips.append(r["index"].clip + offset)
        offset += len(r["index"].items)
    y, s = np.concatenate(ys), np.concatenate(scores)
    return full_report(y, s.argmax(axis=1), np.concatenate(clips), classes, s)


def fold_axis(ax, summary: dict, title: str, fontsize: int = 8) -> None:
    """Finish a per-fold bar axis of a cv summary: fold ticks, 0–1 scale, the chance line, legend."""
    ax.set_xticks(np.arange(len(summary["folds"])), [f"fold {f['fold']}" for f in summary["folds"]])
    ax.set_ylim(0, 1)
    ax.axhline(1 / len(summary["pooled"]["class_names"]), color="grey", ls="--", lw=0.8)
    ax.legend(fontsize=fontsize)
    ax.set_title(title)


def plot_summary(summary: dict, path: Path) -> Path:
    """Per-fold UAR bars (window, clip by vote, clip by mean probability) beside the pooled
    window and clip confusion matrices."""
    from ..core.plots import _pyplot, _save, draw_confusion

    plt = _pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.4))
    folds = summary["folds"]
    x = np.arange(len(folds))
    for k, level in enumerate(LEVELS):
        m = summary["mean_sd"][level]["uar"]
        axes[0].bar(x + (k - 1) * 0.27, [f[level]["uar"] for f in folds], 0.27,
                    label=f"{level} UAR {m['mean']:.1%} ± {m['sd']:.1%}")
    fold_axis(axes[0], summary, "test UAR per fold", fontsize=8)
    pooled = summary["pooled"]
    for ax, level in zip(axes[1:], ("window", "clip_mean")):
        draw_confusion(ax, pooled[level]["confusion_matrix"], pooled["class_names"],
                       f"pooled, per {level}: UAR {pooled[level]['uar']:.1%}")
    return _save(plt, fig, path, "grouped cross-validation")
