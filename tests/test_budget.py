"""--check-ram: the estimate against the board file, and a clear failure for a model that is too big."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from asc_toolchain.deploy import budget
from asc_toolchain.boards import load_board
from asc_toolchain.core.errors import BudgetError
from asc_toolchain.asc.features import SEED_PARAMS

SEED_REPORT = {"weights_bytes": 7836, "activations_bytes": 3936, "io_bytes": 963, "quant_params_bytes": 220}


def test_seed_model_fits_the_board():
    board = load_board("b-l475e-iot01a")
    b = budget.check(SEED_REPORT, SEED_PARAMS, board)
    ram = b["ram"]
    assert ram["limit_bytes"] == board.ram.size == 98304
    assert ram["total_bytes"] == sum(ram["items"].values()) < 98304
    assert ram["items"]["activations"] == 3936 and ram["items"]["stack"] == board.reserve.stack == 4096


def test_small_board_file_reports_numbers_and_fix(tmp_path):
    board = tmp_path / "tiny.yaml"
    board.write_text("name: tiny\nmemory:\n  flash: {base: 0x08000000, size: 65536}\n"
                     "  ram: {base: 0x20000000, size: 16384}\nreserve: {stack: 2048, heap: 0}\n")
    est = budget.estimate(SEED_REPORT, SEED_PARAMS, load_board(str(board)))["ram"]["total_bytes"]
    with pytest.raises(BudgetError) as exc:
        budget.check(SEED_REPORT, SEED_PARAMS, load_board(str(board)))
    msg = str(exc.value)
    assert f"needs {est:,} B of RAM" in msg and "has 16,384 B" in msg
    assert f"over by {est - 16384:,} B" in msg


def test_board_file_without_reservations_is_refused_naming_the_block(tmp_path):
    from asc_toolchain.core.errors import ConfigError

    board = tmp_path / "bare.yaml"
    board.write_text("name: bare\nmemory:\n  flash: {base: 0x08000000, size: 65536}\n"
                     "  ram: {base: 0x20000000, size: 16384}\n")
    with pytest.raises(ConfigError, match=r"bare\.yaml: reserve block lacks stack, heap"):
        budget.check(SEED_REPORT, SEED_PARAMS, load_board(str(board)))


@pytest.mark.slow
def test_too_large_model_fails_check_ram(quantized_run, tmp_path, cli):
    """A Conv2D with 120 filters and no pool feeding a Dense layer: the 28x30x120 int8 map must be
    stored whole (nothing can be fused), 100,800 B alone."""
    import keras
    from keras import layers

    from asc_toolchain.asc.quantize import convert_int8

    run = tmp_path / "big-run"
    shutil.copytree(quantized_run, run, ignore=shutil.ignore_patterns("c"))
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((30, 32, 1)), layers.Conv2D(120, 3, activation="relu"),
                              layers.Flatten(), layers.Dense(3, activation="softmax")])
    rep = np.random.default_rng(0).normal(0, 1, (8, 30, 32, 1)).astype(np.float32)
    (run / "model_int8.tflite").write_bytes(convert_int8(model, rep))
    code, out, err = cli("generate-c", "--run", run, "--check-ram")
    assert code == 2
    assert "B of RAM, b-l475e-iot01a has 98,304 B" in err and "over by" in err
    assert "fewer filters" in err and "Traceback" not in err
    assert not (run / "c").exists(), "an over-budget model must not leave generated files"


def test_network_code_counts_the_kernel_files_its_steps_use():
    from asc_toolchain.codegen import library

    seed = SEED_REPORT | {"layers": [{"kind": k} for k in ("conv", "conv", "fc", "fc", "softmax")]}
    code = budget.estimate(seed, SEED_PARAMS, load_board("b-l475e-iot01a"))["flash"]["items"]["network_code"]
    files = ("conv_s8.c", "fully_connected_s8.c", "softmax_s8.c")
    assert code == (library.NETWORK_CODE_FIXED_BYTES + 5 * library.NETWORK_CODE_STEP_BYTES
                    + sum(library.KERNEL_CODE_BYTES[f] for f in files))
    other = budget.estimate(seed | {"backend": "stedgeai"}, SEED_PARAMS, load_board("b-l475e-iot01a"))
    assert other["flash"]["items"]["network_code"] == budget.OTHER_NETWORK_CODE_BYTES


@pytest.mark.toolchain
def test_kernel_code_table_is_the_compiled_library(tmp_path):
    """Each kernel file compiled as the firmware compiles it (the board's CPU, -O2, a section per
    function): the table holds its code and constants, within 10 %. After a kernel change:
    arm-none-eabi-size of each file's object, as this test computes it, goes into the table."""
    import subprocess

    from asc_toolchain.bench.m4runner import cpu_flags
    from asc_toolchain.codegen import library
    from conftest import require_tool

    gcc = require_tool("arm-none-eabi-gcc")
    size = require_tool("arm-none-eabi-size")
    board = load_board("b-l475e-iot01a")
    measured = {}
    for source in library.library_sources():
        obj = tmp_path / (source.stem + ".o")
        subprocess.run([gcc, *cpu_flags(board), "-O2", "-ffunction-sections", "-fdata-sections",
                        f"-I{library.clib_dir()}", "-c", str(source), "-o", str(obj)], check=True)
        fields = subprocess.run([size, str(obj)], capture_output=True, text=True, check=True).stdout.split()
        measured[source.name] = int(fields[6]) + int(fields[7])          # text + data of the one row
    assert set(measured) == set(library.KERNEL_CODE_BYTES)
    for name, value in measured.items():
        assert value <= library.KERNEL_CODE_BYTES[name] <= 1.1 * value + 64, (name, value)
