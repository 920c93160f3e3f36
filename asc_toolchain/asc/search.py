"""Budget-aware model search: Ray Tune runs the trials, Optuna's multi-objective TPE sampler
proposes them (maximise inner cross-validated clip UAR; minimise estimated instructions and RAM).

Nested selection, no selection bias in the headline: one fold of the data (``outer_fold``, the
data's fold column or grouped stratified folds) is held out; the remaining recordings are split
again into ``inner_folds`` grouped folds, and every candidate is scored by its mean clip UAR (mean
probability per clip) over those inner folds. The chosen candidate is retrained on all
outer-training recordings and tested once on the held-out fold (``best/``, an ordinary run).

Each candidate is priced before it trains: the untrained Keras model is converted to int8
(random calibration windows are enough for sizes), lowered by the generator (codegen.lower: the
liveness arena and weight bytes), and checked against the board (deploy.budget: RAM and flash
as `generate-c` estimates them, tightened by --max-ram/--max-flash) and against the real-time
load (codegen.cost: features + one network call per window of C new columns, at the board's clock).
An infeasible candidate reports its figures and the reason, and never trains.

Poor trials stop early (ASHA on the first inner fold's per-epoch validation UAR). Features are
computed once, in the driver (the feature cache), and shared with every trial through Ray's
object store. Local Ray is started and stopped here (``workers`` CPUs, one trial per CPU);
``address`` (ray://host:port or auto) joins an existing cluster instead.

Output (written atomically, core.outdir): search.json (settings, budget, rows, best, headline),
results.csv / results.json (one row per trial), pareto.png, best/ (a run directory).
"""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

from ..core.errors import ConfigError, RunError
from ..core.outdir import Destination
from ..core.runs import run_destination, write_json
from .model import MODELS
from .search_budget import (DEPTHS, LR_RANGE, SCORE_LEVEL, WIDTHS, Budget, candidate_cfg, estimate,
                            make_budget)  # noqa: F401 - make_budget: the commands' entry

MARKER = "search.json"


# -- the driver ---------------------------------------------------------------------------------

@dataclasses.dataclass
class Plan:
    """The recordings and their folds: ``outer`` held out; ``inner_items`` (the others, at
    ``positions`` in ``items``) carry their inner fold (``inner_names``)."""

    items: list
    outer: str
    positions: np.ndarray
    inner_items: list
    inner_names: list


def search(data, out, cfg: dict, budget: Budget, root=None, trials: int = 20, time_budget: float | None = None,
           workers: int = 1, address: str | None = None, outer_fold: str | None = None,
           inner_folds: int = 3, families=None, widths=WIDTHS, depths=DEPTHS, skip_bad: bool = False,
           random_trials: int | None = None, log=lambda msg: print(msg, file=sys.stderr)) -> dict:
    """Run the search (module doc); returns what search.json holds plus ``out``. The sampler's
    first ``random_trials`` proposals (default: half the trials, 2 to 10) are seeded random draws."""
    from ..data.datasets import load_items
    from ..data.labelmaps import load_label_map

    families = _check_space(families, widths, depths, trials, workers, inner_folds, time_budget)
    dest = Destination(out, MARKER, "a search folder", RunError)
    label_map = load_label_map(cfg["label_map"])
    skipped: list = []
    plan = _plan(load_items(data, root, label_map, skip_bad, skipped), data, outer_fold, inner_folds, cfg["seed"])
    log(f"{len(plan.items)} recordings: outer test fold {plan.outer} ({len(plan.items) - len(plan.positions)} "
        f"recordings), {inner_folds} inner folds of the other {len(plan.positions)}")
    space = {"families": families, "widths": widths, "depths": depths, "trials": trials,
             "time_budget": time_budget, "random_trials": random_trials}
    shared, rows, cluster, elapsed = _run(plan, label_map, cfg, budget, space, workers, address, skip_bad,
                                          skipped, log)
    with dest.writing() as tmp:
        best = _choose(rows)
        log(f"best: trial {best['trial']} {best['family']} width {best['width']} depth {best['depth']}: "
            f"inner clip UAR {best['inner_clip_uar']:.1%}; retraining on the outer-training recordings")
        headline = _retrain(shared, plan, best, tmp / "best", data, root, label_map, skipped, log)
        from .search_report import plot_pareto, write_table

        write_table(rows, tmp)
        plot_pareto(rows, budget, tmp / "pareto.png")
        settings = {"data": str(data), "root": str(root) if root else None, "trials": trials,
                    "time_budget_s": time_budget, "seed": cfg["seed"], "workers": workers, "address": address,
                    "families": list(families), "widths": list(widths), "depths": list(depths),
                    "learning_rate_range": list(LR_RANGE), "outer_fold": plan.outer, "inner_folds": inner_folds,
                    "score": f"{SCORE_LEVEL} uar", "epochs": cfg["epochs"], "max_seconds": cfg["max_seconds"]}
        summary = {"settings": settings, "budget": budget.to_dict(), "cluster": cluster,
                   "search_seconds": round(elapsed, 1),
                   "trials_per_hour": round(len(rows) * 3600 / max(elapsed, 1e-9), 1),
                   "rows": rows, "best": best, "outer_test": headline, "best_run": "best",
                   "skipped": [{"path": p, "reason": r} for p, r in skipped]}
        write_json(tmp / MARKER, summary)
    return summary | {"out": str(Path(out))}


def _plan(items: list, data, outer_fold, inner_folds: int, seed: int) -> Plan:
    """The outer fold (the data's fold column or grouped folds) and the inner folds of the rest."""
    from ..data.split import assign_folds

    fold_of = assign_folds(items, None, seed, where=data)
    names = sorted(set(fold_of), key=_fold_order)
    outer = str(outer_fold) if outer_fold is not None else names[0]
    if outer not in names:
        raise ConfigError(f"--outer-fold {outer}: {data} has folds {', '.join(names)}", "pick one of them")
    items = [dataclasses.replace(it, fold=f) for it, f in zip(items, fold_of)]
    positions = np.array([i for i, it in enumerate(items) if it.fold != outer])
    inner = [dataclasses.replace(items[i], fold=None) for i in positions]
    inner_of = assign_folds(inner, inner_folds, seed, where=f"{data} without fold {outer}")
    inner = [dataclasses.replace(it, fold=f) for it, f in zip(inner, inner_of)]
    return Plan(items, outer, positions, inner, sorted(set(inner_of), key=_fold_order))


def _fold_order(name: str):
    return (0, int(name)) if name.isdigit() else (1, name)


def _run(plan: Plan, label_map, cfg, budget, space: dict, workers, address, skip_bad, skipped, log):
    """Ray up (joined first when ``address`` is given: an unreachable cluster fails before any
    work), the smallest candidates priced, features computed once, the trials run, Ray down."""
    import ray

    from .pipeline import WindowIndex
    from .search_trials import connect, run_tune
    from .train import feature_cache

    classes = list(label_map.classes)
    cluster = connect(address, workers) if address else None
    try:
        _smallest_fits(space["families"], space["widths"], space["depths"], budget, cfg, len(classes))
        cluster = cluster or connect(None, workers)
        cache = feature_cache(cfg)
        cache.ray = bool(address)           # on a cluster the features are computed as Ray tasks
        index = WindowIndex.build(plan.items, classes, cache, skip_bad, skipped)
        if len(index.items) != len(plan.items):
            raise ConfigError("--skip-bad left recordings out after the folds were drawn",
                              "remove the listed recordings from the data list and search again")
        shared = {"cfg": cfg, "budget": budget, "index": index, "inner_items": plan.inner_items,
                  "positions": plan.positions, "n_items": len(plan.items), "inner_names": plan.inner_names,
                  "classes": classes}
        started = time.time()
        rows = run_tune(shared, space, workers, address, cluster, cfg["seed"], cfg["epochs"], log)
        return shared, rows, cluster, time.time() - started
    finally:
        ray.shutdown()


def _choose(rows: list) -> dict:
    """The complete trial with the best inner clip UAR (then fewer instructions, less RAM);
    RunError when none finished. Marks the Pareto set and the best on the rows."""
    from .search_report import mark_pareto

    done = [r for r in rows if r["status"] == "complete"]
    if not done:
        why = "no candidate fits the budget" if not any(r["feasible"] for r in rows) else "no feasible trial finished"
        listed = ", ".join(r["status"] + (f" ({r['reason']})" if r["reason"] else "") for r in rows[:4])
        raise RunError(f"search: {why} ({len(rows)} trials: {listed})",
                       "loosen --max-ram/--max-flash/--max-load, allow smaller --families, "
                       "or give more --trials/--time-budget")
    best = max(done, key=lambda r: (r["inner_clip_uar"], -r["instructions"], -r["ram_bytes"]))
    mark_pareto(rows, best)
    return best


def _check_space(families, widths, depths, trials, workers, inner_folds, time_budget) -> tuple:
    families = tuple(families or MODELS)
    bad = [f for f in families if f not in MODELS]
    if bad:
        raise ConfigError(f"--families: unknown family {', '.join(bad)}", f"use some of {', '.join(MODELS)}")
    if not widths or min(widths) < 1 or not depths or min(depths) < 1:
        raise ConfigError("--widths/--depths: give positive whole numbers, e.g. 8,16,32", "see --help")
    for name, value, least in (("--trials", trials, 1), ("--workers", workers, 1), ("--inner-folds", inner_folds, 2)):
        if value < least:
            raise ConfigError(f"{name} {value}: must be at least {least}", "see asc-tool search --help")
    if time_budget is not None and time_budget <= 0:
        raise ConfigError(f"--time-budget {time_budget}: must be a positive number of seconds", "e.g. 1800")
    return families


def _smallest_fits(families, widths, depths, budget: Budget, cfg: dict, n_classes: int) -> None:
    """ConfigError before any trial when even the smallest candidate of every family is infeasible."""
    from .train import model_spec

    reasons = []
    for family in families:
        c = candidate_cfg(cfg, {"family": family, "width": min(widths), "depth": min(depths)})
        est = estimate(model_spec(c, n_classes), budget, cfg["seed"])
        if est["feasible"]:
            return
        reasons.append(f"{family} width {min(widths)}: {est['reason']}")
    raise ConfigError(f"no candidate fits {budget.board.name} (RAM ≤ {budget.ram_bytes:,} B, flash ≤ "
                      f"{budget.flash_bytes:,} B, load ≤ {budget.max_load:.0%}); smallest: " + "; ".join(reasons),
                      "raise --max-ram/--max-flash/--max-load or use a larger board")


def _retrain(shared, plan: Plan, best, dest_path: Path, data, root, label_map, skipped, log) -> dict:
    """The best candidate trained on the outer-training recordings and tested on the outer fold."""
    from ..data.split import split_by_group
    from .train import train_run

    cfg = candidate_cfg(shared["cfg"], best)
    splits = split_by_group(plan.items, cfg["seed"], cfg["test_fraction"], cfg["val_fraction"], plan.outer,
                            classes=label_map.classes, where=data)
    context = {"data": data, "root": root, "label_map": label_map, "test_fold": plan.outer}
    result = train_run(run_destination(dest_path), shared["index"], plan.items, splits, cfg, context, skipped, log)
    test = result["test"]
    return {"fold": plan.outer, **{level: {k: test[level][k] for k in ("accuracy", "macro_f1", "uar")}
                               for level in ("window", "clip", "clip_mean")}}


