"""`bench firmware --model` (the network alone profiled per layer in the emulated board, with an
estimated Cortex-M4 cycle count) and `validate --model --on m4|both`, as a user runs them; the
timing model's rules on hand-made instruction streams."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import require_tool
from test_generator_model import mlperf_model

from asc_toolchain.bench import m4timing
from asc_toolchain.bench.m4timing import Block, TraceCounter, base_mnemonic, classify, wait_states


def small_valid_model(tmp_path: Path) -> Path:
    """Valid convolutions one after the other (the row-by-row pair when the kernels allow it),
    a depthwise convolution, global pooling and a dense softmax."""
    import keras

    from asc_toolchain.asc.quantize import convert_int8

    keras.utils.set_random_seed(1)
    inp = keras.Input((12, 10, 1))
    x = keras.layers.Conv2D(4, 3, activation="relu")(inp)
    x = keras.layers.Conv2D(8, 3, activation="relu")(x)
    x = keras.layers.DepthwiseConv2D(3, padding="same", activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inp, keras.layers.Dense(3, activation="softmax")(x))
    data = np.random.default_rng(1).normal(0, 1, (16, 12, 10, 1)).astype(np.float32)
    path = tmp_path / "small_valid.tflite"
    path.write_bytes(convert_int8(model, data))
    return path


# -- the timing model ---------------------------------------------------------------------------

def test_mnemonics_lose_width_condition_and_flag_suffixes():
    cases = {"movge.w": "mov", "adds": "add", "addseq": "add", "bls": "b", "bl": "bl", "mls": "mls",
             "lsls": "lsl", "bics": "bic", "ldrbne": "ldrb", "smlals": "smlal", "itete": "it",
             "vmla.f32": "vmla", "sbcs": "sbc", "strlt.w": "str"}
    assert {m: base_mnemonic(m) for m in cases} == cases


def test_instruction_classes_follow_the_cortex_m4_manual():
    assert classify("smlad", "r0, r1, r2, r0")[:2] == ("mac", 1)
    assert classify("sxtb16", "r1, r2")[:2] == ("alu", 1)
    assert classify("udiv", "r0, r1, r2")[:2] == ("div", m4timing.DIV_CYCLES)
    assert classify("push.w", "{r4, r5, r6, r7, r8, sb, sl, lr}")[:2] == ("load_store_multiple", 9)
    assert classify("pop", "{r4, r5, pc}") == ("load_store_multiple", 4, True)
    assert classify("ldrd", "r2, r3, [r0]")[:2] == ("load", 3)
    assert classify("vdiv.f32", "s0, s1, s2")[:2] == ("fpu", 14)
    assert classify("vmla.f32", "s0, s1, s2")[:2] == ("fpu", 3)
    assert classify("bne", "#0x8000a96") == ("branch", 1, True)
    assert classify("mov", "pc, lr")[2] and not classify("mov", "r0, lr")[2]


def _block(*insns: str) -> Block:
    rows = []
    for i, text in enumerate(insns):
        mnem, _, ops = text.partition(" ")
        rows.append((0x08000100 + 4 * i, 4, mnem, ops.strip()))
    return Block(0x08000100, rows)


def test_loads_pipeline_after_a_load_unless_they_use_its_result_and_never_after_a_store():
    assert _block("ldr r0, [r1]", "ldr r2, [r3]").cycles == 3          # 2 + 1 pipelined
    assert _block("ldr r0, [r1]", "ldr r2, [r0]").cycles == 4          # address depends on r0
    assert _block("str r0, [r1]", "ldr r2, [r3]").cycles == 3          # nothing after a store
    assert _block("ldr r0, [r1]", "str r2, [r3, #4]").cycles == 3
    assert _block("add r0, r1", "ldr r2, [r3]").cycles == 3


def test_store_base_update_and_address_dependency_rules_of_the_load_store_timings():
    assert _block("str r0, [r1, #4]").cycles == 1                      # write buffer
    assert _block("strb r0, [r1, r2]").cycles == 2                     # register offset
    assert _block("strb r0, [r5, #1]!").cycles == 2                    # base update
    assert _block("ldr r0, [r1]", "ldr r2, [r3], #4").cycles == 4      # base update: no pipelining
    assert _block("add r3, r1", "ldr r2, [r3]").cycles == 4            # address from the ALU: +1
    assert _block("add r5, r5, #12", "ldm r5!, {r9, r10}").cycles == 5
    assert _block("cmp r3, r1", "ldr r2, [r3]").cycles == 3            # CMP writes no register
    assert _block("add r4, r1", "push {r4, lr}").cycles == 4           # PUSH addresses SP


def test_flash_wait_states_at_the_board_clock():
    assert [wait_states(f * 1_000_000) for f in (16, 24, 48, 80)] == [0, 1, 2, 4]


def _trace_log() -> list[str]:
    """A hand-made QEMU log: the window, one layer of a 3-instruction loop run twice (its branch
    taken once), a rewound execution, the end of the window."""
    def block(pc, insns, name):
        lines = ["----------------\n", f"IN: {name}\n"]
        lines += [f"0x{a:08x}:  {'f000 0000' if w == 4 else '0000     '}  {text}\n" for a, w, text in insns]
        return lines + ["\n"]

    def trace(host, pc, name):
        return f"Trace 0: 0x7f00{host:08x} [00800408/{pc:016x}/00000010/ff022200] {name}\n"

    loop = [(0x1000, 2, "ldr r0, [r1]"), (0x1002, 2, "adds r0, #1"), (0x1004, 2, "bne #0x1000")]
    return [*block(0x2000, [(0x2000, 2, "bx lr")], "begin"), trace(1, 0x2000, "begin"),
            *block(0x3000, [(0x3000, 2, "bx lr")], "hook_begin"), trace(2, 0x3000, "hook_begin"),
            *block(0x1000, loop, "kernel"), trace(3, 0x1000, "kernel"), trace(3, 0x1000, "kernel"),
            *block(0x1006, [(0x1006, 2, "str r0, [r2]"), (0x1008, 2, "str r0, [r2, #4]")], "kernel"),
            trace(4, 0x1006, "kernel"), "cpu_io_recompile: rewound execution of TB to 0000000000001008\n",
            *block(0x3100, [(0x3100, 2, "bx lr")], "hook_end"), trace(5, 0x3100, "hook_end"),
            *block(0x2100, [(0x2100, 2, "bx lr")], "end"), trace(6, 0x2100, "end")]


def test_trace_counter_counts_layers_taken_branches_and_rewound_blocks():
    counter = TraceCounter((0x2000, 0x2100), (0x3000, 0x3100), [(0x3000, 0x3002), (0x3100, 0x3102)], ws=4)
    for line in _trace_log():
        counter.feed(line)
    counter.finish()
    r = counter.result()
    assert r["windows"] == 1 and len(r["layers"]) == 1
    layer = r["layers"][0]
    assert layer["instructions"] == 3 + 3 + 1                  # the loop twice, the store cut
    assert layer["taken_branches"] == 1                        # back to 0x1000 once, then fell through
    core = 2 * (2 + 1 + 1) + 1 + 1 * m4timing.BRANCH_REFILL   # loads, adds, bne; str; one refill
    assert layer["estimated_cycles_core"] == core
    assert layer["icache_line_misses"] >= 1
    assert layer["estimated_cycles"] == core + layer["icache_line_misses"] * 4 * 4
    assert r["total"]["instructions"] == layer["instructions"] + 1   # + the window marker's bx lr
    assert layer["instruction_classes"]["load"] == 2 and layer["instruction_classes"]["store"] == 1
    # per function: the kernel's blocks and the window marker's, adding up to the whole
    funcs = counter.total.by_function(counter.blocks, 4, lambda pc: "kernel" if pc < 0x2000 else "marker")
    assert [f["function"] for f in funcs] == ["kernel", "marker"]
    assert sum(f["instructions"] for f in funcs) == r["total"]["instructions"]
    assert sum(f["estimated_cycles"] for f in funcs) == r["total"]["estimated_cycles"]
    assert funcs[0]["estimated_flash_wait_cycles"] == layer["estimated_flash_wait_cycles"]


# -- the profile, as a user runs it ---------------------------------------------------------------

@pytest.mark.toolchain
def test_profile_of_a_small_model_per_layer_with_plot_and_the_api(tmp_path, cli):
    require_tool("arm-none-eabi-gcc")
    require_tool("qemu-system-arm")
    import asc_toolchain

    model = small_valid_model(tmp_path)
    png = tmp_path / "layers.png"
    code, stdout, err = cli("bench", "firmware", "--model", model, "--plot", png, "--json")
    assert code == 0, err
    r = json.loads(stdout)
    total = r["instructions_per_inference"]
    assert total > 0 and r["estimated_cycles_per_inference"] >= total
    # the SysTick count of the plain build agrees with the trace to its resolution and the hooks
    assert abs(r["instructions_per_inference_systick"] - total) <= (
        2 * r["systick_resolution_instructions"] + 40 * len(r["layers"]))
    funcs = r["functions"]            # the costliest functions, flash waits included, sorted
    assert funcs and [f["estimated_cycles"] for f in funcs] == sorted(
        (f["estimated_cycles"] for f in funcs), reverse=True)
    assert any(f["function"].startswith("asc_") for f in funcs)
    assert sum(f["instructions"] for f in funcs) <= total
    from asc_toolchain.bench.firmware import print_profile

    shown: list[str] = []
    print_profile(r, shown.append)                       # the table people read
    assert any(line.split()[:1] == [funcs[0]["function"][:25]] for line in shown)
    measured = [x for x in r["layers"] if x["instructions"] is not None]
    assert measured and all("note" in x for x in r["layers"] if x["instructions"] is None)
    assert 0.9 * total <= sum(x["instructions"] for x in measured) <= total
    for x in measured:
        assert x["estimated_cycles"] >= x["instructions"] > 0
        assert sum(x["instruction_classes"].values()) == x["instructions"]
    assert sum(x["macs"] for x in r["layers"]) == r["macs"] > 0
    assert r["layers"][-1]["op"] == "softmax" and r["layers"][-1]["output_shape"] == [1, 3]
    assert r["elf_flash_bytes"] > r["weights_bytes"] and r["elf_ram_bytes"] >= r["arena_bytes"]
    assert r["fits"] and "estimate" in r["cycles_are"] and "goals" not in r
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and r["plot"] == str(png)
    assert asc_toolchain.profile(model, plot=png) == r


@pytest.mark.toolchain
def test_validate_on_the_emulated_m4_and_on_both(tmp_path, cli):
    require_tool("arm-none-eabi-gcc")
    require_tool("qemu-system-arm")
    require_tool("cc")
    model = small_valid_model(tmp_path)
    out = tmp_path / "c"
    assert cli("generate-c", "--model", model, "--out", out, "--name", "small")[0] == 0
    code, stdout, err = cli("validate", "--model", model, "--c-dir", out, "--samples", "40",
                            "--on", "both", "--json")
    assert code == 0, err
    r = json.loads(stdout)
    assert set(r["targets"]) == {"host", "m4"} and r["network"] == r["targets"]["host"]
    m4 = r["targets"]["m4"]
    assert (m4["bit_exact"], m4["total"], m4["max_abs_diff"]) == (40, 40, 0)
    assert m4["board"] == "b-l475e-iot01a" and m4["instructions_per_inference_median"] > 0
    code, _, err = cli("validate", "--model", model, "--c-dir", out, "--on", "m4", "--sanitize")
    assert code == 2 and "--sanitize" in err


def test_profile_refuses_a_missing_model_and_plot_without_model(tmp_path, cli):
    code, stdout, err = cli("bench", "firmware", "--model", tmp_path / "none.tflite")
    assert code == 2 and stdout == "" and "no such model file" in err
    code, _, err = cli("bench", "firmware", "--run", tmp_path, "--plot", tmp_path / "x.png")
    assert code == 2 and "--plot goes with --model" in err


@pytest.mark.slow
@pytest.mark.toolchain
def test_profile_of_an_mlperf_model_beside_its_goal_and_x_cube_ai(tmp_path, cli):
    require_tool("arm-none-eabi-gcc")
    require_tool("qemu-system-arm")
    model = mlperf_model("ad01_int8")
    code, stdout, err = cli("bench", "firmware", "--model", model, "--json")
    assert code == 0, err
    r = json.loads(stdout)
    assert r["mlperf_model"] == "AD" and len(r["layers"]) == 10
    assert all(x["op"] == "fc" for x in r["layers"]) and r["layers"][-1]["output_shape"] == [1, 640]
    assert 0.99 * r["instructions_per_inference"] <= r["layers_instructions_sum"] <= r["instructions_per_inference"]
    assert r["estimated_cycles_per_inference"] >= r["instructions_per_inference"]
    assert r["goals"]["instructions_per_inference"]["goal"] == 440_000
    assert any("X-CUBE-AI" in k for k in r["anchors"]["xcubeai_cycles"])
    assert r["goals"]["estimated_cycles_below_xcubeai"]["goal"] == list(r["anchors"]["xcubeai_cycles"].values())[-1]
    assert r["weights_bytes"] > 260_000 and r["fits"]


def test_runner_build_and_emulator_command_lines_come_from_the_board(tmp_path):
    from asc_toolchain.bench import m4runner
    from asc_toolchain.core.executor import RecordingExecutor

    rec = RecordingExecutor()
    elf = m4runner.build_runner(tmp_path / "c", "kws", tmp_path / "b", "b-l475e-iot01a", profile=True,
                                layers=7, executor=rec)
    (argv,) = rec.calls
    for flag in ("-mcpu=cortex-m4", "-mthumb", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard", "-O2",
                 "-DASC_PROFILE", "--specs=rdimon.specs", "-Werror", f"-I{tmp_path / 'c'}"):
        assert flag in argv, flag
    assert argv[-2:] == ["-o", str(elf)] and elf.name == "runner_profile.elf"
    assert str(tmp_path / "c" / "kws.c") in argv and any(a.endswith("runner_main.c") for a in argv)
    header = (tmp_path / "b" / "runner_net.h").read_text()
    assert '#include "kws.h"' in header and "#define RUN_RUN ai_kws_run" in header
    assert "#define RUN_LAYERS 7" in header
    script = (tmp_path / "b" / "runner.ld").read_text()
    assert "ORIGIN = 0x8000000, LENGTH = 1048576" in script and "ORIGIN = 0x20000000, LENGTH = 98304" in script
    if not __import__("shutil").which("qemu-system-arm"):
        return
    q = m4runner.qemu_argv(elf, m4runner.get_board("b-l475e-iot01a"), trace_log=tmp_path / "log")
    joined = " ".join(q)
    assert "-M b-l475e-iot01a" in joined and "-icount shift=0" in joined
    assert f"-d in_asm,exec,nochain -D {tmp_path / 'log'}" in joined


@pytest.mark.slow
@pytest.mark.toolchain
def test_an_mlperf_model_is_bit_exact_on_the_emulated_m4(tmp_path, cli):
    require_tool("arm-none-eabi-gcc")
    require_tool("qemu-system-arm")
    model = mlperf_model("ad01_int8")
    out = tmp_path / "c"
    assert cli("generate-c", "--model", model, "--out", out, "--name", "ad")[0] == 0
    code, stdout, err = cli("validate", "--model", model, "--c-dir", out, "--samples", "100",
                            "--on", "m4", "--json")
    assert code == 0, err
    r = json.loads(stdout)
    assert set(r["targets"]) == {"m4"} and r["on"] == "m4"
    assert (r["network"]["bit_exact"], r["network"]["total"], r["network"]["max_abs_diff"]) == (100, 100, 0)
    assert r["network"]["elf_flash_bytes"] > 270_000
