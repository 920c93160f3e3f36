"""Which generated kernel runs each step on a Cortex-M4, and the layouts its assembly needs.

Fast paths are chosen only where they are exactly equal to the generic kernels: the pool is taken
on raw accumulators when requantization is monotonic (positive multipliers, no overflow), the
SMMULR requantize when its rounding matches, and a convolution is fused into the next one (row by
row, int16 ring) when the shapes allow it. Every other step keeps the generic C kernels.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .tflite_model import TfliteModel

if TYPE_CHECKING:
    from .lower import Step


def _acc_bound(step: Step) -> np.ndarray:
    """Per output channel, the largest |accumulator| any int8 input can produce."""
    w = np.abs(step.weights.reshape(step.weights.shape[0], -1).astype(np.int64)).sum(axis=1)
    return np.abs(step.bias.astype(np.int64)) + 128 * w


def fast_requantize_ok(step: Step) -> bool:
    """True when `asc_rq` (one rounding add, no 64-bit division) is exact for every channel:
    each shift is a right shift of at least 1, every |accumulator| is below 2^30 (doubled for
    SMMULR) and none can overflow the rounding add. Then requantization is also monotonic, so a fused pool may take the max first."""
    bound = _acc_bound(step)
    for m, sh, b in zip(step.multiplier, step.shift, bound):
        e = -int(sh)
        if (e < 1 or m < 0 or b >= 2**30
                or (int(b) * int(m) >> 31) + 2 + (1 << (e - 1)) >= 2**31):
            return False
    return True


def choose_kernels(steps: list[Step]) -> None:
    """Tag each conv with the kernel its DSP build uses: 'c1k3' (one input channel, 3-wide
    kernel, 2-wide pool of stride 2, stride 1) or 'generic'; 'fast_rq' when `asc_rq` is exact."""
    for s in steps:
        if s.kind != "conv":
            continue
        c = s.cfg
        c["fast_rq"] = fast_requantize_ok(s)
        c1k3 = (c["in_c"] == 1 and c["k_w"] == 3 and c["stride_h"] == 1 and c["stride_w"] == 1
                and c["pool_w"] == 2 and c["pool_stride_w"] == 2 and c["k_h"] <= MAX_KH
                and c["pool_h"] <= MAX_POOL and c["fast_rq"])
        c["kernel"] = "c1k3" if c1k3 else "generic"
        c["asm"] = c1k3_asm(c) if c1k3 else None
        c["ring"] = None
        c["ring_in"] = None


MAX_KH = 7      # asc_kernels.h: ASC_MAX_KH
MAX_POOL = 4    # asc_kernels.h: ASC_MAX_POOL


def fuse_conv_pairs(steps: list[Step], consumers: dict[int, int], model: TfliteModel) -> None:
    """Run a conv that feeds only another conv row by row inside it: the producer's output lives
    in a ring of int16 rows (SMLAD-ready, channels of each group of 4 ordered 0, 2, 1, 3), so
    the consumer needs no unpacking and the producer's full map is never stored."""
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
        cb["asm"] = ring_asm(cb)


def ring_asm(cfg: dict) -> dict | None:
    """Cortex-M4 assembly for the multiply-accumulates of one output pixel and channel of a
    ring-input conv: every weight word loaded once (LDR + two SXTB16), every int16 input pair
    loaded with LDRD at an offset from one base pointer, two SMLAD per pool position. None when
    an offset does not fit the instructions' immediates (the C kernel is used then)."""
    c = cfg
    positions = [(py, px) for py in range(c["pool_h"]) for px in range(c["pool_w"])]
    if len(positions) > 4:
        return None
    taps, offsets = [], []
    for kh in range(c["k_h"]):
        for kw in range(c["k_w"]):
            for g in range(0, c["in_c"], 4):
                xo = [2 * (((py * c["stride_h"] + kh) * c["in_w"] + px * c["stride_w"] + kw) * c["in_c"] + g)
                      for py, px in positions]
                taps.append(((kh * c["k_w"] + kw) * c["in_c"] + g, xo))
                offsets += xo
    mid = (min(offsets) + max(offsets)) // 2 // 4 * 4
    if max(abs(o - mid) for o in offsets) > 1020 or taps[-1][0] > 4095:
        return None
    lines = []
    for w_off, xo in taps:
        lines += [f"ldr %[wv], [%[wb], #{w_off}]", "sxtb16 %[w02], %[wv]",
                  "sxtb16 %[w13], %[wv], ror #8"]
        for p, o in enumerate(xo):
            lines += [f"ldrd %[x0], %[x1], [%[xb], #{o - mid}]",
                      f"smlad %[a{p}], %[x0], %[w02], %[a{p}]",
                      f"smlad %[a{p}], %[x1], %[w13], %[a{p}]"]
    return dict(mid_bytes=mid, n_acc=len(positions), lines=lines)


def c1k3_asm(cfg: dict) -> dict | None:
    """Cortex-M4 assembly for one pooled output and channel of a 'c1k3' conv: one 4-byte load and
    two SXTB16 per input row of the pool window, two dual and two single multiply-accumulates
    per pool column and kernel row (taps 0/2 as SMLAD pairs P0..P2, tap 1 as 16-bit halves of
    M01 and M2), then the max of the raw accumulators into a0. None above 3 kernel rows or 2
    pool rows (registers)."""
    k_h, pool_h = cfg["k_h"], cfg["pool_h"]
    if k_h > 3 or pool_h > 2:
        return None
    mids = [("m01", "b"), ("m01", "t"), ("m2", "b")]
    lines = []
    started: set[str] = set()

    def acc(a: str) -> str:       # an accumulator's first use adds to the bias
        first = a not in started
        started.add(a)
        return "%[bias]" if first else f"%[{a}]"

    for q in range(pool_h + k_h - 1):
        lines += [f"ldr %[w], [%[p], #{q * cfg['in_w']}]", "sxtb16 %[e], %[w]",
                  "sxtb16 %[o], %[w], ror #8"]
        for py in range(pool_h):
            kh = q - py
            if 0 <= kh < k_h:
                m, half = mids[kh]
                lines += [f"smlad %[a{py}0], %[e], %[p{kh}], {acc(f'a{py}0')}",
                          f"smlab{half} %[a{py}0], %[o], %[{m}], %[a{py}0]",
                          f"smlad %[a{py}1], %[o], %[p{kh}], {acc(f'a{py}1')}",
                          f"smlat{half} %[a{py}1], %[e], %[{m}], %[a{py}1]"]
    accs = [f"a{py}{px}" for py in range(pool_h) for px in range(2)]
    for a in accs[1:]:
        lines += [f"cmp %[a00], %[{a}]", "it lt", f"movlt %[a00], %[{a}]"]
    return dict(accs=accs, k_h=k_h, lines=lines)
