"""The int8 → C stage: quantize, generate-c, validate. They parse options and call the library."""

from __future__ import annotations

import json

import click

from ..core import config as cfgmod
from ..core.errors import ConfigError
from .output import emit as _emit
from .output import err as _err


@click.command()
@click.option("--run", "run_dir", required=True, type=click.Path(), help="Run directory from `asc-tool train`.")
@click.option("--representative", default=300, show_default=True, type=click.IntRange(1),
              help="Training windows (a seeded sample) used to calibrate the int8 ranges.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of that sample.")
@click.option("--json", "as_json", is_flag=True, help="Print the quantization report as JSON on stdout.")
def quantize(run_dir, representative, seed, as_json):
    """Full-integer int8 model (RUN/model_int8.tflite) and the float→int8 accuracy report."""
    from ..asc.quantize import REPORT_FILE, quantize as run_quantize
    from ..asc.run import open_asc_run

    run = open_asc_run(run_dir)
    path = run_quantize(run, representative_count=representative, seed=seed)
    report = json.loads((run.path / REPORT_FILE).read_text(encoding="utf-8"))
    report["model"] = str(path)
    _emit(report, as_json, _print_quant)


def _print_quant(r: dict) -> None:
    _err(f"wrote {r['model']} ({r['model_bytes']:,} B)")
    for kind in ("float", "int8"):
        _err(f"  {kind:5s}  accuracy {r[kind]['accuracy']:.4f}  macro-F1 {r[kind]['macro_f1']:.4f}")
    _err(f"  argmax changed on {r['argmax_changed']:,} of {r['n_windows']:,} test windows "
         f"({r['argmax_changed_pct']:.2f} %); int8 computed with TFLite Micro")
    _err(f"  input scale {r['input_scale']:.6g}, zero point {r['input_zero_point']}")


@click.command("generate-c")
@click.option("--run", "run_dir", type=click.Path(), help="A quantized run directory.")
@click.option("--model", "model_path", type=click.Path(),
              help="Any int8 .tflite instead of a run: the network C alone (no feature front end).")
@click.option("--name", default=None, help="Network name of the C API (ai_<name>_*) [--model: network].")
@click.option("--backend", type=click.Choice(["builtin", "stedgeai"]), default="builtin", show_default=True,
              help="builtin: our open int8 kernels; stedgeai: ST Edge AI Core (when installed; its "
                   "report is read back, see `asc-tool stedgeai-report`).")
@cfgmod.board_option
@click.option("--check-ram", is_flag=True, help="Fail (exit 2) when the estimate exceeds the board's RAM or flash.")
@click.option("--out", type=click.Path(), help="Output folder [default: RUN/c].")
@click.option("--stedgeai-arg", "stedgeai_args", multiple=True, help="Extra argument for stedgeai generate.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON on stdout.")
@cfgmod.cli_options("stedgeai_dir")
@click.pass_obj
def generate_c(obj, run_dir, model_path, name, backend, board, check_ram, out, stedgeai_args,
               as_json, **options):
    """Generate asc.h/asc.c/asc_data.h/asc_data.c + kernels + the feature front end in C
    (--run), or <name>.h/.c/_data.h/_data.c + kernels for any int8 .tflite (--model)."""
    from ..codegen.generate import generate_c as run_generate
    from ..asc.run import open_asc_run

    if model_path and backend == "stedgeai":
        _emit(_generate_model_stedgeai(obj, run_dir, model_path, name, check_ram, out, stedgeai_args,
                                       options), as_json, _print_generate)
        return
    if model_path:
        _emit(_generate_model(run_dir, model_path, name, backend, board, check_ram, out),
              as_json, _print_generate)
        return
    if not run_dir:
        raise ConfigError("generate-c needs --run RUN or --model FILE.tflite",
                          "pass one of them (`asc-tool generate-c --help`)")
    if name:
        raise ConfigError("--name applies to --model only", "the run-based network is always named asc")
    settings = cfgmod.values(cfgmod.resolve(options, (obj or {}).get("config_path")))
    report = run_generate(open_asc_run(run_dir), out, backend=backend, board=board, check_ram=check_ram,
                          stedgeai_dir=settings.get("stedgeai_dir"), stedgeai_args=stedgeai_args)
    _emit(report, as_json, _print_generate)


def _generate_model(run_dir, model_path, name, backend, board, check_ram, out) -> dict:
    from .. import api

    if run_dir:
        raise ConfigError("pass --run or --model, not both", "--model takes any int8 .tflite alone")
    if backend != "builtin":
        raise ConfigError("--model works with the builtin backend", "drop --backend stedgeai")
    if not out:
        raise ConfigError("--model needs --out DIR", "name the folder the C files go to")
    return api.generate(model_path, out, name or "network", board=board, check_ram=check_ram)


def _generate_model_stedgeai(obj, run_dir, model_path, name, check_ram, out, stedgeai_args,
                             options) -> dict:
    """--model with --backend stedgeai: ST's generator on the .tflite, its report read back."""
    from pathlib import Path

    from ..codegen import stedgeai

    if run_dir or not out:
        raise ConfigError("--model needs --out DIR and no --run", "generate-c --model FILE --out DIR")
    if name or check_ram:
        raise ConfigError("--name and --check-ram apply to the builtin backend",
                          "drop them with --backend stedgeai (its network is named asc)")
    if not Path(model_path).is_file():
        raise ConfigError(f"{model_path}: no such model file", "pass a .tflite with --model")
    settings = cfgmod.values(cfgmod.resolve(options, (obj or {}).get("config_path")))
    report = stedgeai.generate(Path(model_path), Path(out), stedgeai_dir=settings.get("stedgeai_dir"),
                               extra_args=stedgeai_args)
    report.update(out_dir=str(out), model=str(model_path),
                  files=sorted(str(p) for p in Path(out).rglob("*") if p.is_file()))
    return report


def _print_generate(r: dict) -> None:
    _err(f"{r['backend']}: wrote {len(r['files'])} files to {r['out_dir']}")
    _print_figures(r)


def _print_figures(r: dict) -> None:
    _err(f"  weights {r['weights_bytes']:,} B, activations {r['activations_bytes']:,} B, "
         f"MACC {r['macc']:,}")
    for layer in r.get("layers", []) if r.get("backend") == "stedgeai" else []:
        shape = "x".join(map(str, layer["output_shape"])) if layer.get("output_shape") else "-"
        _err(f"    {layer['name']:24s} {layer['op']:20s} {shape:>14s}  MACC {layer['macc']:>10,}  "
             f"weights {layer['weights_bytes']:>8,} B")
    if "tflm_arena" in r and r["tflm_arena"].get("total_bytes"):
        _err(f"  arena {r['activations_bytes']:,} B vs TFLite Micro {r['tflm_arena']['total_bytes']:,} B "
             f"({r['arena_vs_tflm']:.2f}x)")
    if "budget" in r:
        for region in ("ram", "flash"):
            b = r["budget"][region]
            _err(f"  {region}: ~{b['total_bytes']:,} B of {b['limit_bytes']:,} B on {r['budget']['board']}")


@click.command()
@click.option("--run", "run_dir", type=click.Path(), help="A run with generated C.")
@click.option("--model", "model_path", type=click.Path(), help="Any int8 .tflite (with --c-dir).")
@click.option("--c-dir", type=click.Path(), help="Generated C folder [default: RUN/c].")
@click.option("--samples", default=1000, show_default=True, type=click.IntRange(1),
              help="--model: seeded random inputs over the whole range (int8; for a float32 input, "
                   "its quantized range, halfway points and values beyond).")
@click.option("--seed", default=0, show_default=True, type=int, help="--model: seed of the inputs.")
@click.option("--inputs", "inputs_path", type=click.Path(),
              help="--model: extra inputs (.npy, int8 or float32 as the model's input).")
@click.option("--sanitize", is_flag=True, help="Build with AddressSanitizer and UndefinedBehaviorSanitizer.")
@click.option("--on", "target", type=click.Choice(["host", "m4", "both"]), default="host", show_default=True,
              help="--model: where the C runs: this machine, the board's Cortex-M4 (built -O2 with "
                   "its DSP paths, run in the emulated board: QEMU, semihosting), or both.")
@cfgmod.board_option
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON on stdout.")
def validate(run_dir, model_path, c_dir, samples, seed, inputs_path, sanitize, target, board, as_json):
    """Generated C vs TFLite Micro on every test window, features included (--run), or on
    seeded random inputs (--model) on the host, the emulated Cortex-M4 or both (--on)."""
    from ..asc.run import open_asc_run
    from ..codegen.validate import validate as run_validate

    if model_path:
        from .. import api

        if run_dir or not c_dir:
            raise ConfigError("--model needs --c-dir DIR and no --run",
                              "validate --model FILE.tflite --c-dir DIR")
        _emit(api.validate(model_path, c_dir, samples=samples, seed=seed, inputs=inputs_path,
                           sanitize=sanitize, on=target, board=board), as_json, _print_validate)
        return
    if target != "host":
        raise ConfigError("--on applies to --model", "validate --model FILE.tflite --c-dir DIR --on m4")
    if not run_dir:
        raise ConfigError("validate needs --run RUN or --model FILE.tflite --c-dir DIR",
                          "pass one of them (`asc-tool validate --help`)")
    report = run_validate(open_asc_run(run_dir), c_dir, sanitize=sanitize)
    _emit(report, as_json, _print_validate)


def _print_validate(r: dict) -> None:
    for where, n in (r.get("targets") or {"": r["network"]}).items():
        on = {"host": " (host build)", "m4": f" (Cortex-M4, emulated {n.get('board', '')})"}.get(where, "")
        _err(f"network{on}: {n['bit_exact']:,} of {n['total']:,} {r.get('unit', 'test windows')} bit-exact "
             f"with TFLite Micro ({n['bit_exact_pct']:.2f} %, max difference {n['max_abs_diff']})")
    e = r.get("end_to_end")
    if e:
        _err(f"end to end (C features + C network vs Python features + TFLite Micro): "
             f"{e['prediction_agreement']:,} of {e['windows']:,} predictions agree "
             f"({e['prediction_agreement_pct']:.2f} %); input elements equal "
             f"{e['input_elements_equal_pct']:.2f} %, off by one {e['input_elements_off_by_one']:,}, "
             f"off by more {e['input_elements_off_by_more']:,}")


@click.command("stedgeai-report")
@click.argument("report", type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON on stdout.")
def stedgeai_report(report, as_json):
    """Read an ST Edge AI Core report (the --output folder of `stedgeai generate`, or one of
    its *_report.json, *_c_graph.json, *_c_info.json, *_generate_report.txt files) into the
    keys of `generate-c --json`: weights_bytes, activations_bytes, io_bytes, macc and layers
    (name, kind, op, output_shape, macc, weights_bytes). The JSON reports are preferred when
    the folder has them."""
    from ..codegen.stedgeai import read_report

    _emit(read_report(report), as_json, _print_st_report)


def _print_st_report(r: dict) -> None:
    version = f" {r['stedgeai_version']}" if r.get("stedgeai_version") else ""
    _err(f"ST Edge AI Core{version} report ({r['report_format']}): {', '.join(r['report_files'])}")
    _print_figures(r)


commands = [quantize, generate_c, validate, stedgeai_report]
