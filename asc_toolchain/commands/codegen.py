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
              help="builtin: our open int8 kernels; stedgeai: ST Edge AI Core (when installed).")
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
    from ..codegen.generate import generate_model_c

    if run_dir:
        raise ConfigError("pass --run or --model, not both", "--model takes any int8 .tflite alone")
    if backend != "builtin":
        raise ConfigError("--model works with the builtin backend", "drop --backend stedgeai")
    if not out:
        raise ConfigError("--model needs --out DIR", "name the folder the C files go to")
    return generate_model_c(model_path, out, name or "network", board=board, check_ram=check_ram)


def _print_generate(r: dict) -> None:
    _err(f"{r['backend']}: wrote {len(r['files'])} files to {r['out_dir']}")
    _err(f"  weights {r['weights_bytes']:,} B, activations {r['activations_bytes']:,} B, "
         f"MACC {r['macc']:,}")
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
              help="--model: seeded random int8 inputs over the whole range.")
@click.option("--seed", default=0, show_default=True, type=int, help="--model: seed of the inputs.")
@click.option("--inputs", "inputs_path", type=click.Path(), help="--model: extra int8 inputs (.npy).")
@click.option("--sanitize", is_flag=True, help="Build with AddressSanitizer and UndefinedBehaviorSanitizer.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON on stdout.")
def validate(run_dir, model_path, c_dir, samples, seed, inputs_path, sanitize, as_json):
    """Generated C vs TFLite Micro on every test window, features included (--run), or on
    seeded random inputs (--model)."""
    from ..asc.run import open_asc_run
    from ..codegen.validate import validate as run_validate

    if model_path:
        from ..codegen.validate_model import validate_model

        if run_dir or not c_dir:
            raise ConfigError("--model needs --c-dir DIR and no --run",
                              "validate --model FILE.tflite --c-dir DIR")
        _emit(validate_model(model_path, c_dir, samples=samples, seed=seed,
                             inputs=inputs_path, sanitize=sanitize), as_json, _print_validate)
        return
    if not run_dir:
        raise ConfigError("validate needs --run RUN or --model FILE.tflite --c-dir DIR",
                          "pass one of them (`asc-tool validate --help`)")
    report = run_validate(open_asc_run(run_dir), c_dir, sanitize=sanitize)
    _emit(report, as_json, _print_validate)


def _print_validate(r: dict) -> None:
    n = r["network"]
    _err(f"network: {n['bit_exact']:,} of {n['total']:,} {r.get('unit', 'test windows')} bit-exact "
         f"with TFLite Micro ({n['bit_exact_pct']:.2f} %, max difference {n['max_abs_diff']})")
    e = r.get("end_to_end")
    if e:
        _err(f"end to end (C features + C network vs Python features + TFLite Micro): "
             f"{e['prediction_agreement']:,} of {e['windows']:,} predictions agree "
             f"({e['prediction_agreement_pct']:.2f} %); input elements equal "
             f"{e['input_elements_equal_pct']:.2f} %, off by one {e['input_elements_off_by_one']:,}, "
             f"off by more {e['input_elements_off_by_more']:,}")


commands = [quantize, generate_c, validate]
