"""Speaker-independent k-fold cross-validation of the jetson-ser model.

Folds: the data's ``fold`` column when every recording has one and it keeps each speaker in
one fold, else folds grouped by speaker and stratified by emotion (``--folds``, default 5; a
``--folds`` that differs from the column regroups by speaker). Features are computed once for
all recordings (and once per training variant); each fold is then the test split once, its
validation speakers drawn from the rest, and gives an ordinary run directory ``fold-K/``.

``cv.json``: per fold and mean ± sd over folds (sample sd, ddof 1) of UAR and macro-F1 per
clip — all classes (7 or 4) and the top-4 subset — overall and per corpus (RAVDESS, EmoDB), for
both clip scores: majority vote (``clip``) and mean probability (``clip_mean``); the pooled
report over every fold's test clips; the settings. ``cv_summary.png``: per-fold bars and the
pooled confusion matrix. The folder is written atomically (core.outdir), like stm32-asc's cv.
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ..asc.cv import _fold_order, _mean_sd, fold_axis
from ..core.errors import DataError, RunError
from ..core.outdir import Destination
from ..core.runs import run_destination, write_json
from ..data.split import assign_folds, split_by_group
from .data import class_set, describe, load_ser_items
from .evaluate import ser_reports, summary_figures
from .windows import SerWindows, recipe_variants, ser_windows, with_variants

MARKER = "cv.json"
LEVELS = ("clip", "clip_mean")          # per clip by majority vote, by mean probability


def cross_validate_ser(data, out, cfg, root=None, folds: int | None = None, skip_bad: bool = False,
                       log=lambda msg: print(msg, file=sys.stderr)) -> dict:
    """Train and test once per fold (see the module doc); returns what cv.json holds plus ``out``."""
    from .model import check_backbone
    from .train import train_and_write

    dest = Destination(out, MARKER, "a cross-validation folder", RunError)
    check_backbone(cfg.backbone, cfg.width, cfg.pretrained)
    variants = recipe_variants(cfg.speed, cfg.noise_snr)
    loaded = load_ser_items(data, root, cfg.classes, skip_bad, cfg.corpus)
    log(describe(loaded))
    class_names = [c for c in class_set(cfg.classes) if any(it.label == c for it in loaded.items)]
    everything = ser_windows(loaded.items, class_names, cfg.step_s, cfg.max_windows, skip_bad, loaded.skipped,
                             desc="features")
    items, how = speaker_folds(everything.items, folds, cfg.seed, data)
    everything.items = items
    loaded = dataclasses.replace(loaded, items=items)
    names = sorted({it.fold for it in items}, key=_fold_order)
    log(f"{len(items)} recordings of {len({it.group for it in items})} speakers, {len(names)} folds ({how})")
    extra = None
    if variants:
        extra = with_variants(everything, variants, cfg.step_s, cfg.max_windows, cfg.seed, "all")
    per_fold, tests = [], []
    with dest.writing() as tmp:
        for name in names:
            splits = split_by_group(items, cfg.seed, 0.0, cfg.val_fraction, name, classes=class_names, where=data)
            sets = {s: (extra if s == "train" and extra is not None else everything)
                    .subset([i for i, v in enumerate(splits) if v == s]) for s in ("train", "val", "test")}
            log(f"fold {name}: speakers " + ", ".join(f"{s} {len({it.group for it in w.items})}"
                                                      for s, w in sets.items())
                + "; windows " + ", ".join(f"{s} {len(w)}" for s, w in sets.items()))
            result = train_and_write(run_destination(tmp / f"fold-{name}"), sets, class_names,
                                     dataclasses.replace(cfg, test_fold=name), data, root, loaded, items,
                                     splits, log)
            per_fold.append(fold_row(name, result["test"], sets["test"]))
            tests.append((result["test_scores"], sets["test"]))
            log(f"fold {name}: " + _figures_line(per_fold[-1]["figures"]["all"]["clip_mean"]) + " (clip mean)")
        summary = summarise(per_fold, tests, class_names, cfg, loaded.skipped, how)
        plot_summary(summary, tmp / "cv_summary.png")
        write_json(tmp / MARKER, summary)
    return summary | {"out": str(Path(out))}


def speaker_folds(items: list, folds: int | None, seed: int, where) -> tuple[list, str]:
    """(items with their fold set, how the folds were made). The fold column is used when every
    item has one and ``folds`` is unset or equal to its number of folds; DataError when it puts
    one speaker in two folds. Otherwise grouped by speaker (stratified by emotion)."""
    column = [it.fold for it in items]
    if all(column):
        split = {}
        for it in items:
            split.setdefault(it.group, set()).add(it.fold)
        mixed = sorted(g for g, f in split.items() if len(f) > 1)
        if mixed:
            raise DataError(f"{where}: the fold column puts speaker {mixed[0]} in folds "
                            f"{', '.join(sorted(split[mixed[0]]))} ({len(mixed)} such speakers)",
                            "give each speaker one fold, or drop the fold column to group by speaker")
        if folds is None or folds == len(set(column)):
            return items, "the data's fold column, speaker-level"
        items = [dataclasses.replace(it, fold="") for it in items]
        how = f"grouped by speaker, stratified; --folds {folds} instead of the column's {len(set(column))}"
    else:
        how = "grouped by speaker, stratified"
    fold_of = assign_folds(items, folds, seed, where=where)
    return [dataclasses.replace(it, fold=f) for it, f in zip(items, fold_of)], how


def fold_row(name: str, report: dict, test: SerWindows) -> dict:
    """One fold's line of cv.json: its test speakers and the per-clip figures, overall and per corpus."""
    figures = {"all": {lv: summary_figures(report, lv) for lv in LEVELS}}
    for corpus, sub in report["per_corpus"].items():
        figures[corpus] = {lv: summary_figures(sub, lv) for lv in LEVELS}
    return {"fold": name, "run": f"fold-{name}", "test_speakers": sorted({it.group for it in test.items}),
            "figures": figures}


def summarise(per_fold: list, tests: list, class_names: list, cfg, skipped: list, how: str) -> dict:
    """Mean ± sd over the folds that test each corpus, and the pooled report of all test clips."""
    scopes = sorted({s for f in per_fold for s in f["figures"]}, key=lambda s: (s != "all", s))
    mean_sd = {}
    for scope in scopes:
        rows = [f["figures"][scope] for f in per_fold if scope in f["figures"]]
        mean_sd[scope] = {lv: {fig: dict(_mean_sd([r[lv][fig] for r in rows]), n_folds=len(rows))
                               for fig in rows[0][lv] if fig != "n_clips"} for lv in LEVELS}
    pooled = _pooled(tests, class_names, cfg.clip_score)
    return {"target": "jetson-ser", "folds_from": how, "folds": per_fold, "mean_sd": mean_sd,
            "pooled": pooled, "settings": {k: v for k, v in asdict(cfg).items() if k != "test_fold"},
            "skipped": [{"path": p, "reason": r} for p, r in skipped]}


def _pooled(tests: list, class_names: list, clip_score: str) -> dict:
    """ser_reports over every fold's test windows (clip numbers kept apart per fold)."""
    ys, clips, items, scores = [], [], [], []
    for s, ws in tests:
        ys.append(ws.y)
        clips.append(ws.clip + len(items))
        items.extend(ws.items)
        scores.append(s)
    ws = SerWindows(np.empty((0,)), np.concatenate(ys), np.concatenate(clips), items)
    report = ser_reports(np.concatenate(scores), ws, class_names, clip_score)
    return {k: report[k] for k in ("class_names", "clip", "clip_mean", "summary", "summary_per_corpus")
            if k in report} | ({"top4": {k: report["top4"][k] for k in ("class_names", "clip", "clip_mean")}}
                               if "top4" in report else {})


def _figures_line(figures: dict) -> str:
    return ", ".join(f"{k} {v:.1%}" for k, v in figures.items() if k != "n_clips")


def summary_lines(summary: dict) -> list:
    """What `cv --target jetson-ser` prints: mean ± sd per corpus and clip score, then per fold."""
    lines = [f"folds: {summary['folds_from']}"]
    for scope, levels in summary["mean_sd"].items():
        for lv, figures in levels.items():
            n = next(iter(figures.values()))["n_folds"]
            lines.append(f"{scope:8s} {lv:9s} ({n} folds) " + "  ".join(
                f"{k} {v['mean']:.1%} ± {v['sd']:.1%}" for k, v in figures.items()))
    for f in summary["folds"]:
        lines.append(f"fold {f['fold']} ({len(f['test_speakers'])} test speakers): "
                     + "; ".join(f"{scope} " + _figures_line(v["clip_mean"]) for scope, v in f["figures"].items()))
    out = summary.get("out", "OUT")
    lines.append(f"written: {out}/cv.json, {out}/cv_summary.png, {out}/fold-*/")
    return lines


def plot_summary(summary: dict, path: Path) -> Path:
    """Per-fold UAR per clip (mean probability) for each corpus and top-4, beside the pooled
    confusion matrix (per clip by mean probability)."""
    from ..core.plots import _pyplot, _save, draw_confusion

    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.6), gridspec_kw={"width_ratios": [1.4, 1]})
    folds = summary["folds"]
    bars = [(scope, fig_name) for scope in summary["mean_sd"]
            for fig_name in summary["mean_sd"][scope]["clip_mean"] if fig_name.startswith("uar")]
    x = np.arange(len(folds))
    width = 0.8 / max(1, len(bars))
    for k, (scope, fig_name) in enumerate(bars):
        m = summary["mean_sd"][scope]["clip_mean"][fig_name]
        values = [f["figures"].get(scope, {}).get("clip_mean", {}).get(fig_name, np.nan) for f in folds]
        axes[0].bar(x + (k - (len(bars) - 1) / 2) * width, values, width,
                    label=f"{scope} {fig_name}: {m['mean']:.1%} ± {m['sd']:.1%}")
    fold_axis(axes[0], summary, "test UAR per clip (mean probability), per fold", fontsize=7)
    pooled = summary["pooled"]
    draw_confusion(axes[1], pooled["clip_mean"]["confusion_matrix"], pooled["class_names"],
                   f"pooled test clips: UAR {pooled['clip_mean']['uar']:.1%}")
    return _save(plt, fig, path, "speaker-independent cross-validation")
