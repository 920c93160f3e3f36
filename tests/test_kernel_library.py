"""The kernel library (asc_toolchain/codegen/clib) on its own, without any generated code.

Every file compiles with the strict host flags and for the Cortex-M4 at every optimization
level. Each kernel, on a one-layer model per case, gives TFLite Micro's bytes on seeded inputs:
on the host (tests/c/kernel_driver.c, portable path and the host model of the Cortex-M4 path,
under ASan/UBSan) and in the emulated board (tests/c/kernel_m4_main.c, real DSP instructions
and the inline assembly, a semihosting test build).
"""

from __future__ import annotations

import functools
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import require_tool

from asc_toolchain.codegen import hostbuild
from asc_toolchain.codegen.library import KERNEL_FAMILIES, clib_dir, library_files, library_sources

C_DIR = Path(__file__).parent / "c"
DRIVER = C_DIR / "kernel_driver.c"
DRIVER_KERNELS = {"conv": 1, "c1k3": 2, "ring": 3, "pool": 4, "fc": 5, "softmax": 6,
                  "convp": 10, "dwconv": 11, "convp_no_scratch": 12, "dwconv_plane": 13}
FIELDS = {   # the scalar fields of each configuration struct, in order (clib/asc_kernels.h)
    "conv": ("in_h", "in_w", "in_c", "out_c", "k_h", "k_w", "stride_h", "stride_w", "pool_h",
             "pool_w", "pool_stride_h", "pool_stride_w", "out_h", "out_w", "out_zero_point",
             "act_min", "act_max"),
    "pool": ("in_h", "in_w", "c", "pool_h", "pool_w", "stride_h", "stride_w", "out_h", "out_w",
             "act_min", "act_max"),
    "fc": ("in_features", "out_features", "out_zero_point", "act_min", "act_max", "fast_rq"),
    "softmax": ("depth", "input_multiplier", "input_left_shift", "diff_min"),
    "convp": ("in_h", "in_w", "in_c", "out_h", "out_w", "out_c", "k_h", "k_w", "stride_h",
              "stride_w", "dil_h", "dil_w", "pad_top", "pad_left", "depth_mult", "in_offset",
              "out_zero_point", "act_min", "act_max", "fast_rq"),
}
FIELDS["dwconv"] = FIELDS["convp"]
CFG_TYPES = {"dwconv": "asc_convp_cfg"}     # C struct of a step kind, when not asc_<kind>_cfg
M4_FLAGS = ("-mcpu=cortex-m4", "-mthumb", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard", "-std=c99",
            "-Wall", "-Wextra", "-Werror", "-Wdouble-promotion")

# name: (kernel, input shape, the one-layer model's Keras layers); c1k3 and ring cases cover every
# assembly variant (kernel rows 1-3 x pool rows 1-2; 1, 2 and 4 pool positions) and C fallbacks
CASES = {
    "conv_stride_relu": ("conv", (9, 10, 3),
                         lambda L: [L.Conv2D(5, (3, 2), strides=(2, 1), activation="relu")]),
    "conv_pool_relu6": ("conv", (12, 11, 2), lambda L: [L.Conv2D(4, (2, 3), activation="relu6"),
                                                       L.MaxPooling2D((3, 2), strides=(2, 1))]),
    "c1k3_k3_pool2": ("c1k3", (14, 12, 1), lambda L: [L.Conv2D(6, 3), L.MaxPooling2D(2)]),
    "c1k3_k2_pool3x2": ("c1k3", (13, 10, 1), lambda L: [L.Conv2D(4, (2, 3), activation="relu"),
                                                       L.MaxPooling2D((3, 2), strides=(1, 2))]),
    "c1k3_k5_pool1x2": ("c1k3", (12, 10, 1),
                        lambda L: [L.Conv2D(3, (5, 3)), L.MaxPooling2D((1, 2))]),
    "c1k3_k2_pool1x2": ("c1k3", (9, 10, 1),
                        lambda L: [L.Conv2D(4, (2, 3)), L.MaxPooling2D((1, 2))]),
    "c1k3_k1_pool2": ("c1k3", (8, 10, 1), lambda L: [L.Conv2D(3, (1, 3)), L.MaxPooling2D(2)]),
    "ring_pool2": ("ring", (10, 9, 8),
                   lambda L: [L.Conv2D(6, 3, activation="relu"), L.MaxPooling2D(2)]),
    "ring_no_pool": ("ring", (7, 7, 4), lambda L: [L.Conv2D(3, 2)]),
    "ring_pool1x2": ("ring", (6, 9, 4),
                     lambda L: [L.Conv2D(5, (2, 2)), L.MaxPooling2D((1, 2))]),
    "maxpool": ("pool", (9, 8, 3), lambda L: [L.MaxPooling2D((3, 2), strides=2)]),
    "fully_connected": ("fc", (37,), lambda L: [L.Dense(7, activation="relu")]),
    "softmax": ("softmax", (6,), lambda L: [L.Softmax()]),
    # padded convolution, the DSP matrix product (three whole pixels in assembly, a short last
    # pass in C; 2, 1 and 0 groups of taps past a multiple of 3): odd pixel count, words of 4
    # channels, the [lo, 127] clamp; 3 channels (windows gathered inside and at the border, a
    # partial last group of taps, an odd last output channel, a relu6 clamp); dilation (zero
    # groups for the padding, [lo, hi]); 6 channels (kernel rows across groups); no activation
    # (SSAT alone); the reference requantization in the DSP path; no scratch (the portable
    # kernel)
    "convp_1x1_odd_pixels": ("convp", (5, 7, 8),
                             lambda L: [L.Conv2D(6, 1, padding="same", activation="relu")]),
    "convp_3x3_in3_odd_oc": ("convp", (9, 8, 3), lambda L: [
        L.Conv2D(5, 3, strides=2, padding="same", activation="relu6")]),
    "convp_dilated": ("convp", (9, 9, 4), lambda L: [L.Conv2D(4, 3, dilation_rate=2, padding="same")]),
    "convp_in6_k2x3": ("convp", (6, 7, 6),
                       lambda L: [L.Conv2D(3, (2, 3), padding="same", activation="relu")]),
    "convp_reference_rq": ("convp", (7, 6, 4), lambda L: [L.Conv2D(4, 3, padding="same")]),
    "convp_linear_10_pixels": ("convp", (5, 6, 8),
                               lambda L: [L.Conv2D(6, 3, strides=(1, 2), padding="same")]),
    # a window over the gathering limit (7x7x6 = 294 taps, channels not whole groups): tap by tap
    "convp_large_window": ("convp", (8, 9, 6),
                           lambda L: [L.Conv2D(4, 7, padding="same", activation="relu")]),
    "convp_no_scratch": ("convp_no_scratch", (7, 7, 3),
                         lambda L: [L.Conv2D(4, 3, padding="same", activation="relu")]),
    # depthwise through the scratch plane (3x3 stride 1 by columns in assembly, four outputs a
    # pass and the rest in C: the [lo, 127] clamp, SSAT alone, [lo, hi] without padding with no
    # whole pass and with two passes and a rest; 5x5 with stride and the [lo, hi] clamp,
    # dilation, the reference requantization, a 7x7 kernel in C)
    "dwconv_plane_3x3": ("dwconv_plane", (7, 6, 8),
                         lambda L: [L.DepthwiseConv2D(3, padding="same", activation="relu")]),
    "dwconv_plane_3x3_linear": ("dwconv_plane", (6, 7, 12),
                                lambda L: [L.DepthwiseConv2D(3, padding="same")]),
    "dwconv_plane_3x3_relu6": ("dwconv_plane", (5, 6, 8),
                               lambda L: [L.DepthwiseConv2D(3, padding="valid", activation="relu6")]),
    "dwconv_plane_3x3_relu6_tall": ("dwconv_plane", (11, 5, 8), lambda L: [
        L.DepthwiseConv2D(3, padding="valid", activation="relu6")]),
    "dwconv_plane_5x5_stride2": ("dwconv_plane", (11, 9, 4), lambda L: [
        L.DepthwiseConv2D(5, strides=2, padding="same", activation="relu6")]),
    "dwconv_plane_dilated": ("dwconv_plane", (9, 9, 4),
                             lambda L: [L.DepthwiseConv2D(3, dilation_rate=2, padding="same")]),
    "dwconv_plane_reference_rq": ("dwconv_plane", (6, 6, 4),
                                  lambda L: [L.DepthwiseConv2D(3, padding="same")]),
    "dwconv_plane_7x7_valid": ("dwconv_plane", (9, 9, 8), lambda L: [L.DepthwiseConv2D(7)]),
    # depthwise in place, the DSP path (3-wide rows unrolled with SSAT; any kernel up to 5x5;
    # dilation; the reference requantization) and its fallbacks (depth multiplier 2, channels
    # not a multiple of 4, a 7x7 kernel)
    "dwconv_3x3": ("dwconv", (7, 6, 8),
                   lambda L: [L.DepthwiseConv2D(3, padding="same", activation="relu")]),
    "dwconv_5x5_stride2": ("dwconv", (11, 9, 4), lambda L: [
        L.DepthwiseConv2D(5, strides=2, padding="same", activation="relu6")]),
    "dwconv_dilated": ("dwconv", (9, 9, 4),
                       lambda L: [L.DepthwiseConv2D(3, dilation_rate=2, padding="same")]),
    "dwconv_reference_rq": ("dwconv", (6, 6, 4), lambda L: [L.DepthwiseConv2D(3, padding="same")]),
    "dwconv_mult2": ("dwconv", (6, 6, 3),
                     lambda L: [L.DepthwiseConv2D(3, depth_multiplier=2, padding="same")]),
    "dwconv_6_channels": ("dwconv", (6, 5, 6), lambda L: [L.DepthwiseConv2D(3, padding="same")]),
    "dwconv_7x7": ("dwconv", (9, 9, 4), lambda L: [L.DepthwiseConv2D(7, padding="same")]),
    # dense: four rows per pass exactly, and the reference requantization
    "fully_connected_64": ("fc", (64,), lambda L: [L.Dense(12)]),
    "fully_connected_reference_rq": ("fc", (20,), lambda L: [L.Dense(8, activation="relu")]),
}
# Cases whose kernel runs with the reference requantization even where the one-rounding form
# is exact (the generator's choice when it is not: every DSP path has both).
REFERENCE_RQ = {"convp_reference_rq", "dwconv_reference_rq", "dwconv_plane_reference_rq",
                "fully_connected_reference_rq"}
# Cases run with a narrower activation clamp than their model's (as a fused activation or pool
# gives): the expected outputs are TFLite Micro's clipped to it, the clamp being the last step.
CLAMPED = {"convp_dilated": (-100, 90), "dwconv_dilated": (-100, 90),
           "dwconv_plane_dilated": (-100, 90)}
N_INPUTS = 64


@functools.lru_cache(maxsize=None)
def one_layer_tflite(name: str) -> bytes:
    """The case's model, seeded, converted to int8 like `asc-tool quantize` does."""
    import keras

    from asc_toolchain.asc.quantize import convert_int8

    _, shape, layers = CASES[name]
    keras.utils.set_random_seed(sorted(CASES).index(name))
    model = keras.Sequential([keras.Input(shape), *layers(keras.layers)])
    rng = np.random.default_rng(7)
    model.set_weights([v + rng.normal(0, 0.05, v.shape).astype(np.float32) for v in model.get_weights()])
    return convert_int8(model, rng.normal(0, 1, (32, *shape)).astype(np.float32))


def kernel_weights(step) -> np.ndarray:
    """The step's weights as the kernel reads them (int16 matrix-product order for convp, grouped
    rows for fc)."""
    from asc_toolchain.codegen.lower_ops import pack_convp_weights, pack_fc_weights

    if step.kind == "convp":
        return pack_convp_weights(step.weights)
    return pack_fc_weights(step.weights) if step.kind == "fc" else step.weights.reshape(-1)


def encode(kernel: str, step, inputs: np.ndarray) -> bytes:
    """The driver's input: kernel, configuration, tables, weights, biases, then the inputs."""
    words = [DRIVER_KERNELS[kernel], *(int(step.cfg[f]) for f in FIELDS[step.kind])]
    if step.kind in ("conv", "fc", "convp", "dwconv"):
        weights = kernel_weights(step)
        words += [*step.multiplier, *step.shift, weights.size, *weights.tolist(), *step.bias.tolist()]
    words += [len(inputs), *inputs.reshape(-1).tolist()]
    return np.asarray(words, "<i4").tobytes()


@pytest.fixture(scope="module")
def drivers(host_cache):
    """The driver linked with the library alone: portable, and the Cortex-M4 path's host model."""
    require_tool("cc")
    build = lambda name, defines: hostbuild.build([*library_sources(), DRIVER], name, sanitize=True,
                                                  include_dirs=(str(clib_dir()),), defines=defines)
    return {"portable": build("kernel-driver", ()),
            "dsp-emulated": build("kernel-driver-dsp", ("ASC_DSP_EMULATE",))}


# Families of the open generator's op set: held to TFLite Micro through whole generated networks
# (tests/test_generator_ops.py, which checks that its seeded models use every one of them).
NETWORK_TESTED = {"convp", "dwconv", "pool2", "add", "mean", "pad", "concat"}


def test_every_kernel_family_has_a_case():
    """A new kernel family (a row of library.KERNEL_FAMILIES) comes with its cases here, or in
    the generator's property test (NETWORK_TESTED)."""
    families = {"c1k3": "conv", "ring": "conv", "convp_no_scratch": "convp",
                "dwconv_plane": "dwconv"}
    assert ({families.get(k, k) for k, _, _ in CASES.values()} | NETWORK_TESTED
            | {k for k, _, _, _ in EDGE_CASES.values()} == set(KERNEL_FAMILIES))
    assert {k for k, _, _ in CASES.values()} == set(DRIVER_KERNELS)
    assert all((clib_dir() / f).is_file() for f in library_files())


def case_data(name: str):
    """(kernel, the lowered step, seeded int8 inputs, TFLite Micro's outputs) of a case."""
    from asc_toolchain.asc.quantize import tflm_outputs
    from asc_toolchain.codegen.kernels import fast_requantize_ok
    from asc_toolchain.codegen.lower import lower
    from asc_toolchain.codegen.tflite_model import read_tflite

    kernel, shape, _ = CASES[name]
    tflite = one_layer_tflite(name)
    steps = lower(read_tflite(tflite)).steps
    assert len(steps) == 1, f"{name}: lowers to {[s.name for s in steps]}, not one kernel call"
    if kernel in ("c1k3", "ring"):
        assert fast_requantize_ok(steps[0]), f"{name}: the fast kernels need the exact requantization"
    if steps[0].kind in ("fc", "convp", "dwconv"):
        assert steps[0].cfg["fast_rq"] == fast_requantize_ok(steps[0])
        steps[0].cfg["fast_rq"] = steps[0].cfg["fast_rq"] and name not in REFERENCE_RQ
    x = np.random.default_rng(11).integers(-128, 128, (N_INPUTS, *shape)).astype(np.int8)
    ref = tflm_outputs(tflite, x)
    if name in CLAMPED:
        assert (steps[0].cfg["act_min"], steps[0].cfg["act_max"]) == (-128, 127)
        steps[0].cfg["act_min"], steps[0].cfg["act_max"] = CLAMPED[name]
        ref = np.clip(ref, *CLAMPED[name])
    assert len(np.unique(ref, axis=0)) > 1, f"{name}: degenerate case, every output is the same"
    return kernel, steps[0], x, ref


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CASES))
def test_kernel_equals_tflite_micro(name, drivers):
    kernel, step, x, ref = case_data(name)
    for variant, exe in drivers.items():
        raw = hostbuild.run_program(exe, data=encode(kernel, step, x))
        got = np.frombuffer(raw, np.int8).reshape(ref.shape)
        wrong = int(np.sum(np.any(got != ref, axis=1)))
        assert wrong == 0, f"{name} ({variant}): {wrong} of {len(x)} outputs differ from TFLite Micro"


@pytest.mark.parametrize("defines", [(), ("ASC_DSP_EMULATE",), ("ASC_NO_DSP",)],
                         ids=["portable", "dsp-emulated", "no-dsp"])
def test_library_compiles_strict_on_the_host(tmp_path, defines):
    require_tool("cc")
    for source in (*library_sources(), DRIVER):
        hostbuild.compile_object(source, tmp_path / (source.stem + ".o"), defines=defines,
                                 include_dirs=(str(clib_dir()),))


def m4_instances() -> str:
    """C that instantiates the inline Cortex-M4 kernels for every assembly variant (kernel rows
    1-3 x pool rows 1-2 for c1k3, 1-4 pool positions for ring) and for the C fallbacks."""
    lines = ['#include "asc_kernels.h"', "static const int32_t m[8];", "static const int8_t sh[8];"]
    for kh in (1, 2, 3, 5):
        for ph in (1, 2, 3):
            lines += [f"static const asc_conv_cfg c1k3_{kh}_{ph} = {{12, 9, 1, 8, {kh}, 3, 1, 1, "
                      f"{ph}, 2, {ph}, 2, {(12 - kh + 1) // ph}, 3, 0, -128, 127, m, sh}};",
                      f"void run_c1k3_{kh}_{ph}(const int8_t *w, const uint8_t *b, const int8_t *in, "
                      f"int16_t *out) {{ asc_conv_c1k3_rows(&c1k3_{kh}_{ph}, w, b, in, 0, 2, NULL, out); }}"]
    for ph, pw, ic in ((1, 1, 4), (1, 2, 8), (2, 1, 4), (2, 2, 8), (3, 3, 4)):
        lines += [f"static const asc_conv_cfg ring_{ph}_{pw} = {{6, 7, {ic}, 8, 3, 2, 1, 1, {ph}, "
                  f"{pw}, {ph}, {pw}, 1, {(7 - 1) // pw}, 3, -100, 90, m, sh}};",
                  f"void run_ring_{ph}_{pw}(const int8_t *w, const uint8_t *b, const int16_t *r, "
                  f"int8_t *out) {{ asc_conv_ring_row(&ring_{ph}_{pw}, w, b, r, 0, out); }}"]
    return "\n".join(lines) + "\n"


@pytest.mark.toolchain
@pytest.mark.parametrize("opt", ["-O0", "-O1", "-O2", "-Os"])
def test_library_compiles_for_the_cortex_m4(tmp_path, opt):
    gcc = require_tool("arm-none-eabi-gcc")
    objdump = require_tool("arm-none-eabi-objdump")
    (tmp_path / "instances.c").write_text(m4_instances())
    for source in (*library_sources(), tmp_path / "instances.c"):
        subprocess.run([gcc, *M4_FLAGS, opt, f"-I{clib_dir()}", "-c", str(source), "-o",
                        str(tmp_path / (Path(source).stem + ".o"))], check=True, capture_output=True)
    dis = subprocess.run([objdump, "-d", str(tmp_path / "instances.o")], check=True,
                         capture_output=True, text=True).stdout
    assert "smlad" in dis and "sxtb16" in dis
    if opt != "-O0":     # the assembly paths need the shapes folded to constants
        assert "ldrd" in dis and "smlatb" in dis


def m4_case_header(kernel: str, step, x: np.ndarray, out_size: int) -> str:
    """case.h of tests/c/kernel_m4_main.c: the step's configuration, tables and the inputs."""
    arr = lambda v: ", ".join(str(int(i)) for i in np.asarray(v).reshape(-1))
    c, tables = step.cfg, ""
    lines = [f"#define K_KERNEL {DRIVER_KERNELS[kernel]}", f"#define K_N {len(x)}",
             f"#define K_IN_SIZE {x[0].size}", f"#define K_OUT_SIZE {out_size}"]
    if kernel == "convp":
        lines.append(f"#define K_SCRATCH ASC_CONVP_SCRATCH({c['k_h']}, {c['k_w']}, {c['in_c']}, {c['out_c']}, 0)")
    if kernel == "dwconv_plane":
        plane = [(c[f"out_{d}"] - 1) * c[f"stride_{d}"] + (c[f"k_{d}"] - 1) * c[f"dil_{d}"] + 1
                 for d in "hw"]
        lines.append(f"#define K_SCRATCH {4 * (plane[0] * plane[1] + c['k_h'] * c['k_w']) + 40}")
    if step.kind in ("conv", "fc", "convp", "dwconv"):
        w_type = "int16_t" if step.kind == "convp" else "int8_t"
        lines += [f"static const int32_t k_mult[] = {{{arr(step.multiplier)}}};",
                  f"static const int8_t k_shift[] = {{{arr(step.shift)}}};",
                  f"static const {w_type} k_w[] = {{{arr(kernel_weights(step))}}};",
                  f"static const uint8_t k_b[] = {{{arr(np.asarray(step.bias, '<i4').view(np.uint8))}}};"]
        tables = ", k_mult, k_shift"
    fields = ", ".join(str(int(c[f])) for f in FIELDS[step.kind])
    inputs = ", ".join("{" + arr(v) + "}" for v in x)
    cfg_type = CFG_TYPES.get(step.kind, f"asc_{step.kind}_cfg")
    return "\n".join([*lines, f"static const {cfg_type} k_cfg = {{{fields}{tables}}};",
                      f"static const int8_t k_in[K_N][K_IN_SIZE] = {{{inputs}}};"]) + "\n"


def run_case_on_m4(case_dir: Path) -> str:
    """Build kernel_m4_main.c with the library and CASE_DIR/case.h for the M4 (-O2), run it in the
    emulated board (semihosting); its stdout."""
    gcc = require_tool("arm-none-eabi-gcc")
    qemu = require_tool("qemu-system-arm")
    elf = case_dir / "case.elf"
    sources = [C_DIR / "m4_semihosting_start.c", C_DIR / "kernel_m4_main.c", *library_sources()]
    subprocess.run([gcc, *M4_FLAGS, "-O2", "--specs=rdimon.specs", f"-T{C_DIR / 'm4_semihosting.ld'}",
                    f"-I{clib_dir()}", f"-I{case_dir}", *map(str, sources), "-o", str(elf)],
                   check=True, capture_output=True, text=True)
    run = subprocess.run([qemu, "-M", "b-l475e-iot01a", "-nographic", "-monitor", "none", "-serial",
                          "null", "-semihosting-config", "enable=on,target=native", "-kernel", str(elf)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    return run.stdout


@pytest.mark.slow
@pytest.mark.toolchain
@pytest.mark.parametrize("name", sorted(CASES))
def test_kernel_on_the_cortex_m4_equals_tflite_micro(name, tmp_path):
    """The real DSP instructions and assembly, in the emulated board (semihosting test build)."""
    kernel, step, x, ref = case_data(name)
    (tmp_path / "case.h").write_text(m4_case_header(kernel, step, x, ref.shape[1]))
    stdout = run_case_on_m4(tmp_path)
    got = np.array([[int(v) for v in line.split()] for line in stdout.splitlines() if line.strip()])
    assert got.shape == ref.shape, f"{name}: {got.shape} outputs from the board, {ref.shape} expected"
    wrong = int(np.sum(np.any(got != ref, axis=1)))
    assert wrong == 0, f"{name} (Cortex-M4): {wrong} of {len(x)} outputs differ from TFLite Micro"


# -- the edges of a float graph (clib/quantize_s8.c): one-op models, float32 as bit patterns -------

EDGE_DRIVER_KERNELS = {"quantize": 7, "dequantize": 8, "requantize": 9}
EDGE_FIELDS = {"quantize": ("size", "scale", "zero_point"), "dequantize": ("size", "scale", "zero_point"),
               "requantize": ("size", "in_zero_point", "out_zero_point", "multiplier", "shift")}
# name: (kind, shape, input (scale, zero point), output (scale, zero point))
EDGE_CASES = {
    "quantize": ("quantize", (5, 7), None, (0.0123, -7)),
    "quantize_tiny_scale": ("quantize", (33,), None, (3.1e-5, 101)),
    "dequantize": ("dequantize", (4, 9), (0.0371, 12), None),
    "dequantize_odd_scale": ("dequantize", (31,), (1.0 / 3.0, -128), None),
    "requantize_up": ("requantize", (6, 6), (0.02, -3), (0.051, 17)),
    "requantize_down": ("requantize", (40,), (0.3, 100), (0.0021, -90)),
}


def edge_case_data(name: str):
    """(kind, the lowered step, inputs, TFLite Micro's outputs) of an edge case; float inputs
    span the quantized range, exact halfway points and values beyond it."""
    from edge_models import one_op_tflite

    from asc_toolchain.codegen.lower import lower
    from asc_toolchain.codegen.tflite_model import read_tflite
    from asc_toolchain.codegen.validate_model import random_float_inputs, random_inputs, tflm_outputs_typed

    kind, shape, in_q, out_q = EDGE_CASES[name]
    tflite = one_op_tflite(kind, shape, in_q, out_q)
    steps = lower(read_tflite(tflite)).steps
    assert [s.kind for s in steps] == [kind], f"{name}: lowers to {[s.kind for s in steps]}"
    seed = sorted(EDGE_CASES).index(name)
    x = (random_float_inputs(shape, N_INPUTS, seed, *out_q) if kind == "quantize"
         else random_inputs(shape, N_INPUTS, seed))
    ref = tflm_outputs_typed(tflite, x, np.float32 if kind == "dequantize" else np.int8)
    assert len(np.unique(ref, axis=0)) > 1, f"{name}: degenerate case, every output is the same"
    return kind, steps[0], x, ref


def _edge_word(value) -> int:
    if isinstance(value, float):
        return int(np.float32(value).view(np.int32))
    return int(value)


def edge_encode(kind: str, step, x: np.ndarray) -> bytes:
    words = [EDGE_DRIVER_KERNELS[kind], *(_edge_word(step.cfg[f]) for f in EDGE_FIELDS[kind]), len(x)]
    flat = x.reshape(-1)
    words += flat.view(np.int32).tolist() if flat.dtype == np.float32 else flat.tolist()
    return np.asarray(words, "<i4").tobytes()


def _same_bits(got: np.ndarray, ref: np.ndarray) -> np.ndarray:
    if ref.dtype == np.float32:
        return np.all(got.view(np.uint32) == ref.view(np.uint32), axis=1)
    return np.all(got == ref, axis=1)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EDGE_CASES))
def test_edge_kernel_equals_tflite_micro(name, drivers):
    kind, step, x, ref = edge_case_data(name)
    for variant, exe in drivers.items():
        raw = hostbuild.run_program(exe, data=edge_encode(kind, step, x))
        got = np.frombuffer(raw, ref.dtype).reshape(ref.shape)
        wrong = int(np.sum(~_same_bits(got, ref)))
        assert wrong == 0, f"{name} ({variant}): {wrong} of {len(x)} outputs differ from TFLite Micro"


def m4_edge_case_header(kind: str, step, x: np.ndarray, out_size: int) -> str:
    from asc_toolchain.codegen.render import c_float

    c = step.cfg
    in_t = "float" if kind == "quantize" else "int8_t"
    fmt = c_float if kind == "quantize" else (lambda v: str(int(v)))
    fields = ", ".join(c_float(c[f]) if f == "scale" else str(int(c[f])) for f in EDGE_FIELDS[kind])
    cfg_type = "asc_requant_cfg" if kind == "requantize" else "asc_quant_cfg"
    inputs = ", ".join("{" + ", ".join(fmt(v) for v in row.reshape(-1)) + "}" for row in x)
    return "\n".join([f"#define K_KERNEL {EDGE_DRIVER_KERNELS[kind]}", f"#define K_N {len(x)}",
                      f"#define K_IN_SIZE {x[0].size}", f"#define K_OUT_SIZE {out_size}",
                      f"#define K_IN_T {in_t}",
                      f"#define K_OUT_T {'float' if kind == 'dequantize' else 'int8_t'}",
                      f"static const {cfg_type} k_cfg = {{{fields}}};",
                      f"static const K_IN_T k_in[K_N][K_IN_SIZE] = {{{inputs}}};"]) + "\n"


@pytest.mark.slow
@pytest.mark.toolchain
@pytest.mark.parametrize("name", sorted(EDGE_CASES))
def test_edge_kernel_on_the_cortex_m4_equals_tflite_micro(name, tmp_path):
    """quantize/dequantize with the Cortex-M4's single-precision FPU, in the emulated board."""
    kind, step, x, ref = edge_case_data(name)
    (tmp_path / "case.h").write_text(m4_edge_case_header(kind, step, x, ref.shape[1]))
    stdout = run_case_on_m4(tmp_path)
    rows = [[int(v) for v in line.split()] for line in stdout.splitlines() if line.strip()]
    got = np.array(rows, np.uint32 if ref.dtype == np.float32 else np.int64)
    got = got.view(np.float32) if ref.dtype == np.float32 else got.astype(np.int8)
    assert got.shape == ref.shape, f"{name}: {got.shape} outputs from the board, {ref.shape} expected"
    wrong = int(np.sum(~_same_bits(got, ref)))
    assert wrong == 0, f"{name} (Cortex-M4): {wrong} of {len(x)} outputs differ from TFLite Micro"
