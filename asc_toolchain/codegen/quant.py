"""TFLite's quantization arithmetic and the checked access to an op's int8 tensors, shared by the
lowering of every op (lower.py, lower_ops.py). Multipliers and clamps are computed exactly as the
reference kernels compute them."""

from __future__ import annotations

import math

import numpy as np

from ..core.errors import DataError
from .tflite_model import Operator, Tensor, TfliteModel


def round_half_away(x: float) -> int:
    """std::round: halves go away from zero."""
    return int(math.copysign(math.floor(abs(x) + 0.5), x))


def quantize_multiplier(real: float) -> tuple[int, int]:
    """(q31 multiplier, shift) with real = q * 2^(shift - 31), as TFLite's QuantizeMultiplier."""
    if real == 0.0:
        return 0, 0
    q, shift = math.frexp(real)
    q_fixed = round_half_away(q * (1 << 31))
    if q_fixed == (1 << 31):
        q_fixed //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    return int(q_fixed), int(shift)


def activation_range(activation: str, scale: float, zero_point: int) -> tuple[int, int]:
    """Clamp bounds of a fused activation on an int8 output (float32 division, std::round)."""
    def q(f: float) -> int:
        return zero_point + round_half_away(float(np.float32(f) / np.float32(scale)))

    lo, hi = -128, 127
    if activation == "RELU":
        return max(lo, q(0.0)), hi
    if activation == "RELU6":
        return max(lo, q(0.0)), min(hi, q(6.0))
    if activation == "RELU_N1_TO_1":
        return max(lo, q(-1.0)), min(hi, q(1.0))
    if activation == "NONE":
        return lo, hi
    raise DataError(f"fused activation {activation} is not supported by the builtin backend",
                    "use relu, relu6 or none")


def channel_multipliers(inp: Tensor, weights: Tensor, out: Tensor, channels: int):
    """Per-output-channel (multiplier, shift) lists from double-precision effective scales."""
    scales = weights.scales if len(weights.scales) > 1 else np.repeat(weights.scales, channels)
    pairs = [quantize_multiplier(float(np.float64(inp.scales[0]) * np.float64(s)
                                       / np.float64(out.scales[0]))) for s in scales]
    return [p[0] for p in pairs], [p[1] for p in pairs]


# -- an op's tensors, checked ---------------------------------------------------------------

def int8_act(model: TfliteModel, idx: int, op: Operator, i: int) -> Tensor:
    """Tensor ``idx`` of op ``i``; DataError unless it is per-tensor int8."""
    t = model.tensor(idx)
    if t.dtype is not np.int8 or len(t.scales) != 1:
        raise DataError(f"op {i} ({op.name}): tensor {t.name!r} is not per-tensor int8",
                        "quantize the whole model to int8 (`asc-tool quantize`)")
    return t


def op_weights(model: TfliteModel, op: Operator, i: int,
             axis: int = 0) -> tuple[Tensor, np.ndarray | None]:
    """The op's constant symmetric int8 weights and int32 bias (or None); DataError otherwise."""
    w = model.tensor(op.inputs[1])
    if w.dtype is not np.int8 or w.data is None or np.any(w.zero_points != 0):
        raise DataError(f"op {i} ({op.name}): weights {w.name!r} are not constant symmetric int8",
                        "quantize with full-integer int8 (`asc-tool quantize`)")
    if len(w.scales) > 1 and w.quantized_dimension != axis:
        raise DataError(f"op {i} ({op.name}): per-channel weights on axis {w.quantized_dimension}",
                        f"the builtin backend expects per-output-channel scales (axis {axis})")
    bias = None
    if len(op.inputs) > 2 and op.inputs[2] >= 0:
        b = model.tensor(op.inputs[2])
        if b.dtype is not np.int32 or b.data is None:
            raise DataError(f"op {i} ({op.name}): bias {b.name!r} is not constant int32",
                            "quantize with full-integer int8 (`asc-tool quantize`)")
        bias = b.data.astype(np.int64)
    return w, bias


def fold_bias(bias: np.ndarray | None, weights: np.ndarray, in_zp: int, name: str) -> np.ndarray:
    """bias - in_zp * sum(weights) per output channel, so kernels skip the input offset."""
    n_out = weights.shape[0]
    base = bias if bias is not None else np.zeros(n_out, np.int64)
    folded = base - in_zp * weights.reshape(n_out, -1).astype(np.int64).sum(axis=1)
    if np.any(np.abs(folded) > 2**31 - 1):
        raise DataError(f"{name}: folded bias overflows int32", "the layer's biases are out of range")
    return folded.astype(np.int32)
