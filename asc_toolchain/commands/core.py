"""Foundation commands: train, evaluate, datasets synth, config show, doctor, bench."""

from __future__ import annotations

import json
import sys

import click

from ..core import config as cfgmod
from ..evaluate.engines import ENGINES, check_engine, engine_help
from .output import emit, err

TRAIN_OPTIONS = ("epochs", "batch_size", "optimizer", "learning_rate", "patience", "seed", "max_seconds",
                 "model", "width", "depth", "filters", "dense_units", "class_weights", "augment",
                 "freq_mixstyle", "eq_db", "time_roll", "reverb", "window_stride", "distill", "teacher",
                 "distill_alpha", "distill_temperature", "n_mels", "columns", "n_fft", "extract_workers", "cache_dir",
                 "test_fraction", "val_fraction", "label_map", "ser_backbone", "ser_width", "ser_classes",
                 "ser_corpus", "ser_pretrained", "ser_max_windows", "ser_step_s", "ser_specaugment", "ser_mixup", "ser_speed", "ser_noise_snr",
                 "ser_balanced", "ser_label_smoothing", "ser_warmup", "ser_backbone_lr", "ser_clip_score")


@click.command()
@click.option("--data", required=True, type=click.Path(), help="Meta file, CSV (path,label[,group…]) or class folders.")
@click.option("--root", type=click.Path(), help="Folder that relative paths in the list start from.")
@click.option("--out", required=True, type=click.Path(), help="Run directory to write (atomically).")
@click.option("--target", type=click.Choice(["stm32-asc", "jetson-ser"]), default="stm32-asc", show_default=True)
@click.option("--skip-bad", is_flag=True, help="Leave out unusable recordings and list them instead of stopping.")
@click.option("--test-fold", help="Use the data's fold column: this fold is the test split.")
@click.option("--json", "as_json", is_flag=True, help="Print the test metrics as JSON on stdout.")
@cfgmod.cli_options(*TRAIN_OPTIONS)
@click.pass_obj
def train(obj, data, root, out, target, skip_bad, test_fold, as_json, **options):
    """Train a model and write the run directory OUT."""
    settings = cfgmod.values(cfgmod.resolve(options, obj.get("config_path")))
    if target == "jetson-ser":
        from .ser import train_ser

        path, result = train_ser(data=data, root=root, out=out, settings=settings, skip_bad=skip_bad,
                                 test_fold=test_fold)
    else:
        from ..asc.train import train_asc

        path, result = train_asc(data, out, settings, root=root, skip_bad=skip_bad, test_fold=test_fold)
    for p, reason in result.get("skipped", []):
        err(f"skipped {p}: {reason}")
    summary = {"run": str(path), "target": target, "test": result["test"]}
    emit(summary, as_json, lambda s: _print_metrics(s["test"], f"test split → {s['run']}"))
    if not as_json:
        err(f"plots: {path}/confusion_matrix.png, {path}/training_curves.png")


CV_OPTIONS = tuple(o for o in TRAIN_OPTIONS if o != "test_fraction")


@click.command()
@click.option("--data", required=True, type=click.Path(), help="Meta file, CSV (path,label[,group,fold…]) or class folders.")
@click.option("--root", type=click.Path(), help="Folder that relative paths in the list start from.")
@click.option("--folds", type=click.IntRange(2), help="Number of folds [default: the data's fold column, else 5].")
@click.option("--out", required=True, type=click.Path(), help="Folder to write (atomically): cv.json, "
              "cv_summary.png and one run directory per fold.")
@click.option("--skip-bad", is_flag=True, help="Leave out unusable recordings and list them instead of stopping.")
@click.option("--target", type=click.Choice(["stm32-asc", "jetson-ser"]), default="stm32-asc", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON on stdout.")
@cfgmod.cli_options(*CV_OPTIONS)
@click.pass_obj
def cv(obj, data, root, folds, out, skip_bad, target, as_json, **options):
    """Grouped cross-validation: each fold once the test split; mean ± sd per window and per clip
    (majority vote and mean probability). jetson-ser: speaker-independent, per corpus."""
    from ..asc.cv import cross_validate

    settings = cfgmod.values(cfgmod.resolve(options, obj.get("config_path")))
    if target == "jetson-ser":
        from .ser import cv_ser

        return cv_ser(data, root, folds, out, settings, skip_bad, as_json)
    summary = cross_validate(data, out, settings, root=root, folds=folds, skip_bad=skip_bad)
    for row in summary["skipped"]:
        err(f"skipped {row['path']}: {row['reason']}")
    emit(summary, as_json, _print_cv)


def _print_cv(summary: dict) -> None:
    for level in ("window", "clip", "clip_mean"):
        figures = summary["mean_sd"][level]
        err(f"{level:9s} " + "  ".join(f"{k} {v['mean']:.1%} ± {v['sd']:.1%}" for k, v in figures.items()))
    if "teacher_mean_sd" in summary:
        err("teacher   " + "  ".join(f"{level} UAR {summary['teacher_mean_sd'][level]['uar']['mean']:.1%} ± "
                                     f"{summary['teacher_mean_sd'][level]['uar']['sd']:.1%}"
                                     for level in ("window", "clip", "clip_mean")))
    err("folds: " + ", ".join(f"{f['fold']}: window UAR {f['window']['uar']:.1%}, clip UAR "
                              f"{f['clip']['uar']:.1%}" for f in summary["folds"]))
    err(f"written: {summary['out']}/cv.json, {summary['out']}/cv_summary.png, {summary['out']}/fold-*/")


@click.command()
@click.option("--run", "run_dir", required=True, type=click.Path(), help="Run directory from `asc-tool train`.")
@click.option("--data", type=click.Path(), help="Recordings to score (default: the run's own test split).")
@click.option("--root", type=click.Path(), help="Folder that relative paths in the list start from.")
@click.option("--engine", default="keras", show_default=True, type=click.Choice(list(ENGINES)),
              help="Who predicts — " + engine_help() + ".")
@click.option("--split", type=click.Choice(["train", "val", "test"]), default="test", show_default=True,
              help="Which split of the run to score when --data is not given.")
@click.option("--skip-bad", is_flag=True, help="Leave out unusable recordings and list them.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON on stdout.")
def evaluate(run_dir, data, root, engine, split, skip_bad, as_json):
    """Score a run on recordings: accuracy, macro-F1, UAR, per-class recall, confusion matrix."""
    from pathlib import Path

    from ..asc.run import open_asc_run
    from ..core.runs import read_manifest
    from ..evaluate.engines import evaluate as run_evaluate

    target = read_manifest(Path(run_dir)).get("target", "stm32-asc")
    check_engine(engine, target)
    if target == "jetson-ser":
        from ..ser.evaluate import evaluate_ser

        report = evaluate_ser(run_dir, data, root, engine, split, skip_bad)
        emit(report, as_json, lambda r: err(json.dumps(r.get("summary", r), indent=2)))
        return
    run = open_asc_run(run_dir)
    items = _items_to_score(run, data, root, split, skip_bad)
    report = run_evaluate(run, items, engine)
    report["data"] = str(data) if data else f"{run_dir} ({split} split)"
    emit(report, as_json, lambda r: _print_metrics(r, f"{engine} on {r['data']}"))


def _items_to_score(run, data, root, split, skip_bad) -> list:
    """The recordings of --data (labels mapped as in training) or of the run's split; with
    --skip-bad those that cannot give a window are left out and listed, for every engine."""
    from ..asc.windows import screen_items
    from ..data.datasets import load_items
    from ..data.labelmaps import LabelMap

    skipped: list = []
    if data:
        lm = run.manifest.get("label_map", {})
        label_map = LabelMap(lm.get("name", "run"), tuple(run.class_names), lm.get("map", {}))
        items = load_items(data, root, label_map, skip_bad, skipped)
    else:
        items = run.items(split)
    if skip_bad:
        items = screen_items(items, run.feature_params, run.manifest.get("training", {}).get("max_seconds"),
                             skipped)
    for p, reason in skipped:
        err(f"skipped {p}: {reason}")
    return items


def _print_metrics(report: dict, title: str) -> None:
    err(title)
    for level in ("window", "clip", "clip_mean"):
        if level not in report:
            continue
        r = report[level]
        recalls = ", ".join(f"{k} {v:.1%}" for k, v in r["per_class_recall"].items())
        err(f"  per {level:9s} n={r['n']:6d}  accuracy {r['accuracy']:.1%}  macro-F1 {r['macro_f1']:.3f}  "
            f"UAR {r['uar']:.1%}  ({recalls})")
    names = report["class_names"]
    err("  confusion (window; rows = true): " + "  ".join(
        f"{n}: {row}" for n, row in zip(names, report["window"]["confusion_matrix"])))


@click.group()
def datasets():
    """Dataset helpers."""


@datasets.command("synth")
@click.option("--out", required=True, type=click.Path(), help="Folder to write (class folders + metadata.csv).")
@click.option("--per-class", default=8, show_default=True, type=click.IntRange(3, 1000))
@click.option("--seconds", default=8.0, show_default=True, type=click.FloatRange(2.0, 600.0))
@click.option("--seed", default=0, show_default=True, type=int)
def datasets_synth(out, per_class, seconds, seed):
    """Make a small SYNTHETIC three-class scene set (babble+hum / wind+birds+traffic / engine+rumble)."""
    from ..data.synth import make_synth_dataset

    path = make_synth_dataset(out, per_class, seconds, seed)
    err(f"wrote {3 * per_class} synthetic recordings ({seconds:g} s each) to {path}; list: {path}/metadata.csv")


@click.group("config")
def config_group():
    """Configuration: defaults < config file < board file < environment < command line."""


@config_group.command("show")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def config_show(obj, as_json):
    """Print every option's value and where it came from, the flash runners' options included."""
    resolved = cfgmod.resolve({}, obj.get("config_path"))
    data = {name: {"value": v, "source": s} for name, (v, s) in resolved.items()}
    board_path, board_runners = _board_runner_blocks(resolved["board"][0])
    runners = cfgmod.resolve_runner_options(board_runners)
    for name, (value, source, per_runner) in runners.items():
        data[name] = {"value": value, "source": source, "scope": "flash runners"}
        if per_runner:
            data[name]["board_file"] = {"path": board_path, "runners": per_runner}
    if as_json:
        click.echo(json.dumps(data, indent=2, default=str))
        return
    width = max(map(len, data))
    for name, row in data.items():
        if name in runners:
            continue
        click.echo(f"{name:<{width}}  {str(row['value']):<12}  ({row['source']}; env {cfgmod.OPTIONS[name].env})")
    click.echo("flash runners (`asc-tool flash`; a board file's runners.<name> block sits between the default "
               "and the environment for that runner):")
    for name in runners:
        row, option = data[name], cfgmod.RUNNER_OPTIONS[name]
        board = row.get("board_file")
        beside = ("; board file " + ", ".join(f"runners.{r}: {v}" for r, v in board["runners"].items())
                  if board else "")
        click.echo(f"{name:<{width}}  {str(row['value']):<12}  ({row['source']}; env {option.env}; "
                   f"flag {option.flag}{beside})")


def _board_runner_blocks(board_value) -> tuple[str | None, dict]:
    """(board file path, its runners blocks) of the resolved --board; nothing when it cannot be
    read (`config show` still lists every option; the board commands report the problem)."""
    from ..boards import get_board
    from ..core.errors import AscError

    try:
        board = get_board(board_value)
    except (AscError, OSError):
        return None, {}
    return (str(board.path) if board.path else None), dict(board.runners or {})


@click.command()
@click.option("--json", "as_json", is_flag=True)
def doctor(as_json):
    """Check Python packages and external tools; say how to install what is missing."""
    from ..core.doctor import check_packages, check_tools

    data = {"python": sys.version.split()[0], "packages": check_packages(), "tools": check_tools()}
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(f"python {data['python']}")
    for p in data["packages"]:
        mark = "ok " if p["ok"] else "!! "
        click.echo(f"  {mark}{p['name']:<16} {p['installed'] or 'missing':<22} needs {p['required']}"
                   + ("" if p["ok"] else f"   → {p['install']}"))
    for t in data["tools"]:
        mark = "ok " if t["ok"] else "-- "
        extra = "".join(f" (board {board}: machine {m['machine']} "
                        + ("present)" if m["present"] else "MISSING, need ≥ 9.1)")
                        for board, m in t.get("machines", {}).items())
        where = f"{t['version'] or ''} {t['path']}" if t["ok"] else f"missing → {t['install']}"
        click.echo(f"  {mark}{t['name']:<22} {where}{extra}   [{t['needed_for']}]")


@click.command()
@click.argument("name")
@click.option("--run", "run_dir", type=click.Path(), help="Run directory (codegen, firmware, ser-infer).")
@click.option("--audio", type=click.Path(), help="Audio file to measure on (features).")
@click.option("--model", "model_path", type=click.Path(),
              help="firmware: profile this int8 .tflite alone in the emulated board (per layer, "
                   "instructions and estimated Cortex-M4 cycles).")
@click.option("--plot", type=click.Path(), help="firmware --model: write a per-layer bar chart (PNG).")
@cfgmod.board_option
@click.option("--json", "as_json", is_flag=True)
def bench(name, run_dir, audio, model_path, plot, board, as_json):
    """Run a benchmark: features, codegen, firmware, ser-features, ser-infer, train-memory."""
    from ..bench import run_bench

    options = {k: v for k, v in {"run": run_dir, "audio": audio, "board": board,
                                 "model": model_path, "plot": plot}.items() if v}
    result = run_bench(name, **options)
    if as_json:
        click.echo(json.dumps(result, indent=2))
    elif "layers" in result and name == "firmware":
        from ..bench.firmware import print_profile

        print_profile(result, click.echo)
    else:
        for k, v in result.items():
            click.echo(f"{k:>28}: {v}")


commands = [train, evaluate, cv, datasets, config_group, doctor, bench]
