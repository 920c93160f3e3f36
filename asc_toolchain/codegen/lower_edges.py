"""The edges of a float-in / float-out model: QUANTIZE (float32 -> int8) as the op that reads the
graph's input, DEQUANTIZE (int8 -> float32) as the op that writes its output, and QUANTIZE from
int8 to int8 (a requantization) anywhere. This is what the TFLite converter makes when
`inference_input_type` / `inference_output_type` are left float. Every other float tensor is
refused before anything is written, naming the op, its index and what to change.

Constants are those of TFLite Micro's reference kernels: quantize divides by the output scale in
float32 and rounds half away from zero; dequantize multiplies by the input scale; requantize uses
the q31 multiplier and shift of in_scale / out_scale in double precision (clib/quantize_s8.c).
"""

from __future__ import annotations

import numpy as np

from ..core.errors import DataError
from . import quant as q
from .ir import Step
from .tflite_model import Operator, TfliteModel

EDGE_OPS = ("QUANTIZE", "DEQUANTIZE")
FLOAT_HINT = ("the builtin backend runs int8 ops only, with float32 allowed at the graph's edges "
              "(QUANTIZE first, DEQUANTIZE last); convert with full-integer quantization "
              "(converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]) "
              "or replace the layer that stayed float")


def is_float_edge(model: TfliteModel, idx: int) -> bool:
    """True when tensor ``idx`` is a float32 graph input read only by QUANTIZE ops, or a float32
    graph output written by a DEQUANTIZE op."""
    if model.tensor(idx).dtype is not np.float32:
        return False
    if idx in model.inputs:
        readers = [op for op in model.operators if idx in op.inputs]
        return bool(readers) and all(op.name == "QUANTIZE" for op in readers)
    return any(op.name == "DEQUANTIZE" and idx in op.outputs for op in model.operators)


def check_edge(model: TfliteModel, op: Operator, i: int) -> None:
    """DataError unless QUANTIZE/DEQUANTIZE op ``i`` sits where the builtin backend runs it."""
    src, dst = model.tensor(op.inputs[0]), model.tensor(op.outputs[0])
    if op.name == "QUANTIZE" and src.dtype is np.float32:
        if op.inputs[0] not in model.inputs:
            raise DataError(f"op {i} (QUANTIZE) quantizes the float tensor {src.name!r} inside the "
                            "graph", FLOAT_HINT)
        _per_tensor_int8(dst, op, i)
        return
    if op.name == "QUANTIZE":
        _per_tensor_int8(src, op, i)
        _per_tensor_int8(dst, op, i)
        return
    _per_tensor_int8(src, op, i)
    if dst.dtype is not np.float32:
        raise DataError(f"op {i} (DEQUANTIZE) gives {np.dtype(dst.dtype).name}, not float32",
                        "dequantize int8 tensors to float32 only")
    if op.outputs[0] not in model.outputs:
        readers = [f"op {k} ({o.name})" for k, o in enumerate(model.operators) if op.outputs[0] in o.inputs]
        raise DataError(f"op {i} (DEQUANTIZE) feeds float data to {', '.join(readers) or 'the graph'}",
                        FLOAT_HINT)


def _per_tensor_int8(t, op: Operator, i: int) -> None:
    if t.dtype is not np.int8 or len(t.scales) != 1:
        raise DataError(f"op {i} ({op.name}): tensor {t.name!r} is {np.dtype(t.dtype).name}, not "
                        "per-tensor int8", FLOAT_HINT)


def lower_quantize(model: TfliteModel, op: Operator, i: int, srcs: list[int]) -> Step:
    """QUANTIZE: float32 input -> int8 ('quantize'), or int8 -> int8 ('requantize')."""
    check_edge(model, op, i)
    src, out = model.tensor(srcs[0]), model.tensor(op.outputs[0])
    size = int(np.prod(out.shape))
    if src.dtype is np.float32:
        cfg = dict(size=size, scale=float(out.scales[0]), zero_point=int(out.zero_points[0]))
        return Step("quantize", f"quantize{i}", srcs[0], op.outputs[0], cfg, macc=size)
    mult, shift = q.quantize_multiplier(float(np.float64(src.scales[0]) / np.float64(out.scales[0])))
    cfg = dict(size=size, in_zero_point=int(src.zero_points[0]), out_zero_point=int(out.zero_points[0]),
               multiplier=mult, shift=shift, inplace=[srcs[0]])
    return Step("requantize", f"requantize{i}", srcs[0], op.outputs[0], cfg, macc=size)


def lower_dequantize(model: TfliteModel, op: Operator, i: int, srcs: list[int]) -> Step:
    """DEQUANTIZE of an int8 tensor into the float32 graph output."""
    check_edge(model, op, i)
    src = model.tensor(srcs[0])
    size = int(np.prod(src.shape))
    cfg = dict(size=size, scale=float(src.scales[0]), zero_point=int(src.zero_points[0]))
    return Step("dequantize", f"dequantize{i}", srcs[0], op.outputs[0], cfg, macc=size)


def edge_quantization(model: TfliteModel, idx: int):
    """The int8 tensor behind graph input or output ``idx``: the QUANTIZE op's output for a float
    input, the DEQUANTIZE op's input for a float output, else the tensor itself."""
    t = model.tensor(idx)
    if t.dtype is not np.float32:
        return t
    for op in model.operators:
        if op.name == "QUANTIZE" and idx in op.inputs:
            return model.tensor(op.outputs[0])
        if op.name == "DEQUANTIZE" and idx in op.outputs:
            return model.tensor(op.inputs[0])
    return t


EDGE_LOWERERS = {"QUANTIZE": lower_quantize, "DEQUANTIZE": lower_dequantize}
