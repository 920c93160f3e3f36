"""The library form of the int8 → C commands: the same calls the CLI makes, returning plain data
(dicts of numbers, strings and lists, as `--json` prints them).

    import asc_toolchain as asc
    report = asc.generate("kws.tflite", "out/c", name="kws", check_ram=True)   # default board
    check = asc.validate("kws.tflite", "out/c", samples=1000, on="both")
    prof = asc.profile("kws.tflite", plot="kws_layers.png")

Errors a caller can cause raise asc_toolchain.core.errors.AscError subclasses (ConfigError,
DataError, RunError, ToolMissingError, BudgetError) whose message says what, where and how to fix.
Importing this module is cheap; TensorFlow and the build tools load only when a call needs them.
"""

from __future__ import annotations

from pathlib import Path


def generate(model: str | Path, out: str | Path, name: str = "network", board: str | None = None,
             check_ram: bool = False) -> dict:
    """`asc-tool generate-c --model MODEL --out OUT --name NAME [--board B] [--check-ram]`:
    write the C library of any supported int8 .tflite; the report (weights, arena, MACC,
    TFLite Micro's arena, the budget when ``board`` or ``check_ram``)."""
    from .codegen.generate import generate_model_c

    return generate_model_c(model, out, name or "network", board=board, check_ram=check_ram)


def validate(model: str | Path, c_dir: str | Path, samples: int = 1000, seed: int = 0,
             inputs: str | Path | None = None, sanitize: bool = False, on: str = "host",
             board: str | None = None) -> dict:
    """`asc-tool validate --model MODEL --c-dir C_DIR [--on host|m4|both]`: the generated C
    against TFLite Micro on ``samples`` seeded inputs (plus ``inputs``, a .npy of int8 tensors),
    built for the host, for the board's Cortex-M4 in the emulated board, or both; bit-exact
    counts and the largest difference per target."""
    from .codegen.validate_model import validate_model

    return validate_model(model, c_dir, samples=samples, seed=seed, inputs=inputs,
                          sanitize=sanitize, on=on, board=board)


def profile(model: str | Path, board: str | None = None, plot: str | Path | None = None) -> dict:
    """`asc-tool bench firmware --model MODEL [--board B] [--plot PNG] --json`: the network alone
    in the emulated board: instructions per inference and per layer, estimated Cortex-M4 cycles,
    weights/arena and ELF sizes, beside the published anchors of the MLPerf Tiny models."""
    from .bench import run_bench

    options = {"model": str(model), "board": board, "plot": str(plot) if plot else None}
    return run_bench("firmware", **{k: v for k, v in options.items() if v})
