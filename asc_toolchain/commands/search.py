"""`asc-tool search`: budget-aware model search on Ray Tune with Optuna (asc/search.py)."""

from __future__ import annotations

import click

from ..core import config as cfgmod
from ..core.errors import ConfigError
from .output import emit, err

SEARCH_OPTIONS = ("epochs", "batch_size", "optimizer", "patience", "max_seconds", "dense_units", "class_weights",
                  "augment", "freq_mixstyle", "eq_db", "time_roll", "reverb", "window_stride", "n_mels", "columns",
                  "n_fft", "extract_workers", "cache_dir", "test_fraction", "val_fraction", "label_map")


def _ints(text: str | None, flag: str):
    if text is None:
        return None
    try:
        values = tuple(sorted({int(v) for v in str(text).split(",") if v.strip()}))
    except ValueError:
        values = ()
    if not values or min(values) < 1:
        raise ConfigError(f"{flag} {text!r}: expected positive whole numbers like 8,16,32", "see asc-tool search --help")
    return values


@click.command()
@click.option("--data", required=True, type=click.Path(), help="Meta file, CSV (path,label[,group,fold…]) or class folders.")
@click.option("--root", type=click.Path(), help="Folder that relative paths in the list start from.")
@cfgmod.board_option
@click.option("--max-ram", type=float, help="RAM budget in bytes [default: the board's RAM region].")
@click.option("--max-flash", type=float, help="Flash budget in bytes [default: the board's flash].")
@click.option("--max-load", type=float, default=0.25, show_default=True,
              help="Share of real time the features + network may use at the board's clock.")
@click.option("--trials", type=int, default=20, show_default=True, help="Candidates to try.")
@click.option("--time-budget", type=float, help="Stop starting/running trials after this many seconds.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the sampler, folds and training.")
@click.option("--workers", type=int, default=1, show_default=True,
              help="CPUs of the local Ray started by the command (one trial per CPU).")
@click.option("--address", help="Join an existing Ray cluster: ray://host:port or auto.")
@click.option("--outer-fold", help="Fold held out for the headline figure [default: the first fold].")
@click.option("--inner-folds", type=int, default=3, show_default=True,
              help="Grouped folds of the outer-training recordings that score each candidate.")
@click.option("--families", help="Model families to search, comma-separated [default: all].")
@click.option("--widths", help="Widths to search (filters for seed_cnn), comma-separated [default: 8,12,16,24,32,48].")
@click.option("--depths", help="Depths to search, comma-separated [default: 1,2,3,4,5,6].")
@click.option("--out", required=True, type=click.Path(), help="Folder to write (atomically): results.csv/.json, "
              "pareto.png, search.json and best/ (a run directory).")
@click.option("--skip-bad", is_flag=True, help="Leave out unusable recordings and list them instead of stopping.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON on stdout.")
@cfgmod.cli_options(*SEARCH_OPTIONS)
@click.pass_obj
def search(obj, data, root, board, max_ram, max_flash, max_load, trials, time_budget, seed, workers, address,
           outer_fold, inner_folds, families, widths, depths, out, skip_bad, as_json, **options):
    """Search model families and sizes that fit the board: RAM, flash and real-time load checked
    before training; inner-fold clip UAR maximised, instructions and RAM minimised; the best
    retrained and tested on an outer fold it never saw (OUT/best, an ordinary run)."""
    from ..asc import search as search_mod
    from ..asc.train import feature_params

    settings = cfgmod.values(cfgmod.resolve(options | {"seed": seed}, obj.get("config_path")))
    settings["seed"] = seed
    budget = search_mod.make_budget(board, max_ram, max_flash, max_load, feature_params(settings))
    fams = tuple(f.strip() for f in families.split(",") if f.strip()) if families else None
    summary = search_mod.search(data, out, settings, budget, root=root, trials=trials, time_budget=time_budget,
                                workers=workers, address=address, outer_fold=outer_fold, inner_folds=inner_folds,
                                families=fams, widths=_ints(widths, "--widths") or search_mod.WIDTHS,
                                depths=_ints(depths, "--depths") or search_mod.DEPTHS, skip_bad=skip_bad)
    emit(summary, as_json, _print_search)


def _print_search(s: dict) -> None:
    err(f"{'trial':>5} {'status':10} {'family':9} {'w':>3} {'d':>3} {'clip UAR':>8} {'RAM B':>8} {'flash B':>8} "
        f"{'instr':>10} {'load':>6}  node")
    for r in s["rows"]:
        uar = f"{r['inner_clip_uar']:.1%}" if r.get("inner_clip_uar") is not None else "-"
        err(f"{r['trial']:>5} {r['status']:10} {r['family']:9} {r['width']:>3} {str(r['depth'] or '-'):>3} "
            f"{uar:>8} {r.get('ram_bytes') or 0:>8} {r.get('flash_bytes') or 0:>8} {r.get('instructions') or 0:>10} "
            f"{(r.get('load') or 0):>6.1%}  {str(r.get('node_id') or '')[:8]}"
            + (f"  ({r['reason']})" if r.get("reason") else "") + ("  *best" if r.get("best") else ""))
    t = s["outer_test"]
    err(f"chosen: {s['best']['family']} width {s['best']['width']} depth {s['best']['depth']}; on outer fold "
        f"{t['fold']} (never seen in the search): clip UAR {t['clip_mean']['uar']:.1%} (mean probability), "
        f"{t['clip']['uar']:.1%} (vote), window UAR {t['window']['uar']:.1%}")
    err(f"{s['trials_per_hour']:.0f} trials/hour; written: {s['out']}/results.csv, {s['out']}/pareto.png, "
        f"{s['out']}/best/ (asc-tool quantize --run {s['out']}/best)")


commands = [search]
