"""Instruction-cost model of the generated network on the Cortex-M4, and the real-time load.

Per lowered step (ir.Step, one kernel call) instructions ≈ a·MACs + b·outputs + c, with
(a, b, c) per step kind in COSTS. MACs are the multiply-accumulates the kernel executes
(``macc_executed``: a fused pool or add included), outputs the elements the step writes.

Where the constants come from: `scripts/measure_cost.py` builds one-layer int8 networks of each
kind (several sizes), runs them in the emulated default board (QEMU, -icount shift=0,
the runner firmware of bench/m4runner.py, -O2 with the board's CPU flags) and fits
the three numbers by non-negative least squares; it then checks the model against whole networks of every
family. The kernels are still being made faster, so the table is kept here alone: re-run the
script after any kernel change and paste the table it prints.

QEMU counts instructions, not cycles; on the STM32L475 at 80 MHz with the flash accelerator
(ART) most M4 instructions take one cycle, so instructions stand for cycles in the load figure.
"""

from __future__ import annotations

import numpy as np

from .ir import Network, Step

# kind: (instructions per MAC, per output element, per call), fitted by scripts/measure_cost.py
# (non-negative least squares over one-layer networks of 3–6 sizes each) on the kernels with the
# three-pixel matrix product (columns by window kind, three tap groups a loop pass), the 3x3
# depthwise by columns and grouped dense rows (2026-12-02). The same run's check against whole
# networks, measured vs this model: ds_cnn +0.1…+1.0 %, inverted −1.4…+2.2 %, res_ds −10.5…−5.0 %,
# seed_cnn −21.6…+22.1 % (its ring-fused conv pair).
COSTS: dict[str, tuple[float, float, float]] = {
    "conv/c1k3": (2.069, 0.0, 0.0),            # 3-wide kernel on one input channel, pool fused
    "conv/ring": (1.309, 0.0, 0.0),            # conv reading the previous conv's int16 row ring
    "conv/generic": (16.0, 1216.58, 1000.0),
    "convp": (0.795, 11.216, 45027.719),       # padded / strided / 1×1 convolution
    "dwconv": (3.82, 0.0, 608.449),
    "add": (68.86, 0.0, 0.0),                  # MACs of an add = its elements (two rescaled inputs)
    "mean": (5.941, 57.292, 250.0),
    "fc": (1.478, 0.0, 484.243),
    "softmax": (0.0, 584.607, 314.229),
}
# A step kind not measured yet costs like the slowest per-MAC kind with this per-output figure.
UNKNOWN_PER_OUTPUT = 20.0

# The firmware's feature front end: instructions per 1.024 s of audio, measured with
# `asc-tool bench firmware --run demo/run` (feature_instructions_per_1024_ms) on the emulated
# board; the network runs once per window hop, i.e. every 32 new columns = 1.024 s
# (firmware/src/classifier.c).
FEATURE_INSTRUCTIONS_PER_WINDOW = 991_694
WINDOW_HOP_SECONDS = 1.024
# Other feature parameters (--n-fft, --n-mels, --columns): per frame (one per hop)
# a · n_fft·log2(n_fft) + b · n_mels + c (a window's int8 conversion counted per frame), per code path
# (the assembly laid out for n_fft 1024, the C elsewhere); fitted by
# `.venv/bin/python scripts/measure_features_cost.py` on real firmware in the emulated board.
# Check against the ten measured configurations: asm −0.4…+0.4 %, C −4.5…+4.4 %.
FEATURE_COSTS = {"asm": (0.0, 88.299, 28225.328), "c": (3.584, 99.949, 1400.179)}


def step_features(step: Step) -> tuple[int, int]:
    """(MACs executed, output elements) of one step."""
    macs = int(step.cfg.get("macc_executed", step.macc))
    c = step.cfg
    if "out_h" in c and "out_w" in c:
        channels = c.get("out_c", c.get("c", 1))
        outputs = int(c["out_h"]) * int(c["out_w"]) * int(channels)
    elif "hw" in c and "c" in c:                       # MEAN over height and width
        outputs = int(c["c"])
    elif "out_features" in c:
        outputs = int(c["out_features"])
    elif "size" in c:
        outputs = int(c["size"])
    elif "depth" in c:
        outputs = int(c["depth"])
    else:
        outputs = macs
    return macs, outputs


def step_key(step: Step) -> str:
    """The COSTS row of ``step``: its kind, and for plain convolutions the kernel chosen
    (codegen/kernels.py: c1k3, ring or generic run at very different speeds)."""
    if step.kind == "conv":
        return f"conv/{step.cfg.get('kernel') or 'generic'}"
    return step.kind


def step_instructions(step: Step) -> int:
    macs, outputs = step_features(step)
    worst = max(v[0] for v in COSTS.values())
    a, b, c = COSTS.get(step_key(step), (worst, UNKNOWN_PER_OUTPUT, 0.0))
    return int(round(max(a * macs + b * outputs + c, 0.0)))


def network_instructions(net: Network) -> int:
    """Estimated instructions of one inference of ``net`` on the Cortex-M4."""
    return int(sum(step_instructions(s) for s in net.steps))


def feature_window(params) -> tuple[int, float]:
    """(front-end instructions per classification window, the window hop in seconds) of the
    log-mel parameters ``params`` (asc.features.FeatureParams): the measured figure for the
    seed's, the fitted FEATURE_COSTS model for others."""
    from ..asc.features import SEED_PARAMS

    seconds = params.n_columns * params.hop_length / params.sample_rate
    if params == SEED_PARAMS:
        return FEATURE_INSTRUCTIONS_PER_WINDOW, seconds
    frames = seconds * params.sample_rate / params.hop_length
    a, b, c = FEATURE_COSTS["asm" if params.n_fft == 1024 else "c"]
    per_frame = a * params.n_fft * np.log2(params.n_fft) + b * params.n_mels + c
    return int(round(frames * per_frame)), seconds


def load(network_instructions_per_window: int, clock_hz: int,
         feature_instructions: int = FEATURE_INSTRUCTIONS_PER_WINDOW,
         hop_s: float = WINDOW_HOP_SECONDS) -> float:
    """Fraction of real time the features + one network call per window hop take at ``clock_hz``."""
    return float((feature_instructions + network_instructions_per_window) / (hop_s * clock_hz))


def instructions_budget(max_load: float, clock_hz: int,
                        feature_instructions: int = FEATURE_INSTRUCTIONS_PER_WINDOW,
                        hop_s: float = WINDOW_HOP_SECONDS) -> int:
    """Most network instructions per window that keep the load at or under ``max_load``."""
    return int(np.floor(max_load * hop_s * clock_hz - feature_instructions))
