"""Which library kernel runs each convolution on a Cortex-M4 (clib/conv_s8_dsp.h).

Fast paths are chosen only where they are exactly equal to the generic kernel (clib/conv_s8.c):
the pool is taken on raw accumulators when requantization is monotonic (positive multipliers,
no overflow), the SMMULR requantize when its rounding matches, and a convolution is fused into
the next one (row by row, int16 ring) when the shapes allow it. Every other step keeps the
generic kernels. The kernels' code lives in the library; this module only decides.
"""

from __future__ import annotations

import numpy as np

from .ir import Step
from .tflite_model import TfliteModel

MAX_KH = 7      # clib/conv_s8_dsp.h: ASC_MAX_KH
MAX_POOL = 4    # clib/conv_s8_dsp.h: ASC_MAX_POOL


def _acc_bound(step: Step) -> np.ndarray:
    """Per output channel, the largest |accumulator| any int8 input can produce. Seed convs and
    dense layers have the input zero point in the bias (|input| <= 128); padded and depthwise
    convolutions add the input offset per tap (|input + offset| <= 128 + |offset|)."""
    if step.kind == "dwconv":
        w = np.abs(step.weights.reshape(-1, step.cfg["out_c"]).astype(np.int64)).sum(axis=0)
    else:
        w = np.abs(step.weights.reshape(step.weights.shape[0], -1).astype(np.int64)).sum(axis=1)
    x_max = 128 + abs(int(step.cfg.get("in_offset", 0)))
    return np.abs(step.bias.astype(np.int64)) + x_max * w


def convp_scratch_bytes(cfg: dict) -> int:
    """Bytes of scratch the DSP convolution needs (clib: ASC_CONVP_SCRATCH int16): three output
    pixels' int16 taps, then, with a fused ADD, their outputs before it (whole words), then a
    requantization table of 3 words per output channel, then, with a fused ADD, 512 words of
    the inputs' scaled values per int8 value."""
    groups = (cfg["k_h"] * cfg["k_w"] * cfg["in_c"] + 3) // 4
    sums = 2 * ((3 * cfg["out_c"] + 3) // 4) + 1024 if cfg.get("add") else 0
    return 2 * (12 * groups + sums + 6 * cfg["out_c"])


DW_SCRATCH_FREE = 4 * 1024     # bytes of depthwise scratch always worth their arena room


def dwconv_scratch_bytes(cfg: dict) -> int:
    """Bytes of scratch the DSP depthwise convolution reads through (clib: ASC_DW_SCRATCH int16):
    the padded input plane of 4 channels as int16 and their weights as pairs; 0 where that path
    does not apply (depth multiplier > 1, channels not a multiple of 4) or the plane would cost
    more than half the layer's input (and over DW_SCRATCH_FREE): the in-place path runs there."""
    if cfg["depth_mult"] != 1 or cfg["out_c"] % 4:
        return 0
    ph = (cfg["out_h"] - 1) * cfg["stride_h"] + (cfg["k_h"] - 1) * cfg["dil_h"] + 1
    pw = (cfg["out_w"] - 1) * cfg["stride_w"] + (cfg["k_w"] - 1) * cfg["dil_w"] + 1
    size = 2 * (4 * ((ph + 1) // 2 * 2 * pw + cfg["k_h"] * cfg["k_w"]) + 8)
    in_bytes = cfg["in_h"] * cfg["in_w"] * cfg["in_c"]
    return size if size <= max(in_bytes // 2, DW_SCRATCH_FREE) else 0


def fast_requantize_ok(step: Step) -> bool:
    """True when `asc_rq` (one rounding add, no 64-bit division) is exact for every channel:
    each shift is a right shift of at least 1, every |accumulator| is below 2^30 (doubled for
    SMMULR) and none can overflow the rounding add. Then requantization is also monotonic, so a
    fused pool may take the max first."""
    bound = _acc_bound(step)
    for m, sh, b in zip(step.multiplier, step.shift, bound):
        e = -int(sh)
        if (e < 1 or m < 0 or b >= 2**30
                or (int(b) * int(m) >> 31) + 2 + (1 << (e - 1)) >= 2**31):
            return False
    return True


def choose_kernels(steps: list[Step]) -> None:
    """Tag each conv with the kernel its DSP build uses: 'c1k3' (one input channel, 3-wide
    kernel, 2-wide pool of stride 2, stride 1) or 'generic'; 'fast_rq' when `asc_rq` is exact
    (also on dense, padded and depthwise steps, whose DSP paths take it when set). Padded
    convolutions get 'scratch_bytes': the arena room their DSP matrix product needs; depthwise
    ones the room for their padded plane where that path applies."""
    for s in steps:
        if s.kind in ("fc", "convp", "dwconv"):
            s.cfg["fast_rq"] = fast_requantize_ok(s)
        if s.kind == "convp":
            s.cfg["scratch_bytes"] = convp_scratch_bytes(s.cfg)
        if s.kind == "dwconv":
            s.cfg["scratch_bytes"] = dwconv_scratch_bytes(s.cfg)
        if s.kind != "conv":
            continue
        c = s.cfg
        c["fast_rq"] = fast_requantize_ok(s)
        c1k3 = (c["in_c"] == 1 and c["k_w"] == 3 and c["stride_h"] == 1 and c["stride_w"] == 1
                and c["pool_w"] == 2 and c["pool_stride_w"] == 2 and c["k_h"] <= MAX_KH
                and c["pool_h"] <= MAX_POOL and c["fast_rq"])
        c["kernel"] = "c1k3" if c1k3 else "generic"
        c["ring"] = None
        c["ring_in"] = None


def fuse_conv_pairs(steps: list[Step], consumers: dict[int, int], model: TfliteModel) -> None:
    """Run a conv that feeds only another conv row by row inside it: the producer's output lives
    in a ring of int16 rows (SMLAD-ready, channels of each group of 4 ordered 0, 2, 1, 3), so
    the consumer ('ring' kernel) needs no unpacking and the producer's full map is never stored."""
    for a, b in zip(steps, steps[1:]):
        if a.kind != "conv" or b.kind != "conv" or b.src != a.dst or a.cfg["ring_in"]:
            continue
        cb = b.cfg
        if (consumers.get(a.dst, 0) != 1 or a.dst in model.outputs or cb["in_c"] % 4
                or not cb["fast_rq"] or cb["pool_h"] > MAX_POOL or cb["pool_w"] > MAX_POOL):
            continue
        rows = (cb["pool_h"] - 1) * cb["stride_h"] + cb["k_h"]
        step = cb["pool_stride_h"] * cb["stride_h"]
        row_len = a.cfg["out_w"] * a.cfg["out_c"]
        if 2 * rows * row_len > model.tensor(a.dst).nbytes:
            continue
        ring = dict(rows=rows, step=step, row_len=row_len, bytes=2 * rows * row_len)
        a.cfg["ring"] = ring
        cb["ring_in"] = ring
        cb["kernel"] = "ring"
