"""Lower an int8 .tflite graph to the steps the generated C runs, with every constant computed.

Supported: SUPPORTED_OPS, int8 with per-channel or per-tensor weights. The seed's ops are
lowered here (CONV_2D with valid padding and no dilation, with a following MAX_POOL_2D fused in;
RESHAPE as an alias, NHWC data being already flat; FULLY_CONNECTED; SOFTMAX); the rest of the
tiny-ML op set in lower_ops.py. Multipliers and activation ranges are computed exactly as the
TFLite Micro reference kernels compute them at prepare time (double-precision effective scales,
frexp, round half away from zero). The arena is planned by tensor lifetimes; element-wise steps
overwrite an input they read last (in place).
"""

from __future__ import annotations

import math

import numpy as np

from ..core.errors import DataError
from . import lower_edges, lower_ops
from .ir import Network, Step
from .quant import (activation_range, channel_multipliers, fold_bias, int8_act, op_weights,  # noqa: F401
                    quantize_multiplier)                          # quantize_multiplier: re-exported for tests
from .kernels import choose_kernels, fuse_conv_pairs
from .planner import Buffer, plan
from .tflite_model import Operator, TfliteModel

SUPPORTED_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "MAX_POOL_2D", "AVERAGE_POOL_2D", "MEAN",
                 "ADD", "PAD", "CONCATENATION", "RESHAPE", "FULLY_CONNECTED", "SOFTMAX",
                 *lower_edges.EDGE_OPS)
UNSUPPORTED_HINT = ("the builtin backend supports " + ", ".join(SUPPORTED_OPS)
                    + " (int8); replace the layer with one of these or use --backend stedgeai")


# -- lowering ------------------------------------------------------------------------------

def lower(model: TfliteModel, alignment: int = 4) -> Network:
    """Lower ``model``; DataError naming the op or tensor for anything unsupported."""
    _check_io(model)
    steps: list[Step] = []
    alias: dict[int, int] = {}
    consumers = _consumers(model)
    check_supported(model)
    for i, op in enumerate(model.operators):
        srcs = [alias.get(t, t) for t in op.inputs]
        src = srcs[0]
        if op.name == "RESHAPE":
            _check_reshape(model, op, i)
            alias[op.outputs[0]] = src
        elif op.name == "MAX_POOL_2D" and op.options.get("padding") == "SAME":
            steps.append(lower_ops.lower_pool2(model, op, i, srcs))
        elif op.name == "MAX_POOL_2D" and _fusable(steps, src, consumers, model):
            _fuse_pool(steps[-1], model, op, i)
        elif op.name == "ADD" and lower_ops.fusable_add(steps, srcs, consumers, model):
            lower_ops.fuse_add(steps[-1], lower_ops.lower_add(model, op, i, srcs))
        elif op.name == "CONV_2D" and _needs_padded_conv(op):
            steps.append(lower_ops.lower_convp(model, op, i, srcs))
        elif op.name in _LOWERERS:
            steps.append(_LOWERERS[op.name](model, op, i, src))
        elif op.name in lower_edges.EDGE_LOWERERS:
            steps.append(lower_edges.EDGE_LOWERERS[op.name](model, op, i, srcs))
        else:
            steps.append(lower_ops.NEW_LOWERERS[op.name](model, op, i, srcs))
    _retarget_output(steps, model, alias)
    choose_kernels(steps)
    fuse_conv_pairs(steps, consumers, model)
    blob = _layout_weights(steps, alignment)
    offsets, arena = _plan(steps, model, alignment)
    return Network(steps, blob, offsets, arena, model.tensor(model.inputs[0]),
                   model.tensor(model.outputs[0]), sum(s.macc for s in steps))


def check_supported(model: TfliteModel) -> None:
    """DataError naming the first op the builtin backend has no kernel for (before any work)."""
    for i, op in enumerate(model.operators):
        if op.name in lower_edges.EDGE_OPS:
            lower_edges.check_edge(model, op, i)
        if op.name not in SUPPORTED_OPS:
            raise DataError(f"op {i} ({op.name}) is not supported", UNSUPPORTED_HINT)


def _needs_padded_conv(op: Operator) -> bool:
    o = op.options
    return o.get("padding") != "VALID" or o.get("dilation_w", 1) != 1 or o.get("dilation_h", 1) != 1


def _check_io(model: TfliteModel) -> None:
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise DataError(f"the model has {len(model.inputs)} inputs and {len(model.outputs)} outputs",
                        "the builtin backend generates single-input, single-output networks")
    for what, idx in (("input", model.inputs[0]), ("output", model.outputs[0])):
        t = model.tensor(idx)
        if (t.dtype is not np.int8 or len(t.scales) != 1) and not lower_edges.is_float_edge(model, idx):
            raise DataError(f"model {what} {t.name!r} is {np.dtype(t.dtype).name}, not per-tensor int8",
                            "quantize with int8 input and output (`asc-tool quantize`)")
        if t.shape and t.shape[0] != 1:
            raise DataError(f"model {what} {t.name!r} has batch {t.shape[0]}, not 1",
                            "quantize with the batch fixed to 1 (`asc-tool quantize`)")


def _consumers(model: TfliteModel) -> dict[int, int]:
    count: dict[int, int] = {}
    for op in model.operators:
        for t in op.inputs:
            count[t] = count.get(t, 0) + 1
    return count


def _check_reshape(model: TfliteModel, op: Operator, i: int) -> None:
    a, b = model.tensor(op.inputs[0]), model.tensor(op.outputs[0])
    if int(np.prod(a.shape)) != int(np.prod(b.shape)):
        raise DataError(f"op {i} (RESHAPE) changes the element count {a.shape} -> {b.shape}",
                        UNSUPPORTED_HINT)


def _lower_conv(model: TfliteModel, op: Operator, i: int, src: int) -> Step:
    o = op.options
    inp, out = int8_act(model, src, op, i), int8_act(model, op.outputs[0], op, i)
    w, bias = op_weights(model, op, i)
    _, ih, iw, ic = inp.shape
    oc, kh, kw, _ = w.shape
    _, oh, ow, _ = out.shape
    mult, shift = channel_multipliers(inp, w, out, oc)
    lo, hi = activation_range(o["activation"], float(out.scales[0]), int(out.zero_points[0]))
    cfg = dict(in_h=ih, in_w=iw, in_c=ic, out_c=oc, k_h=kh, k_w=kw, stride_h=o["stride_h"],
               stride_w=o["stride_w"], pool_h=1, pool_w=1, pool_stride_h=1, pool_stride_w=1,
               out_h=oh, out_w=ow, out_zero_point=int(out.zero_points[0]), act_min=lo, act_max=hi)
    step = Step("conv", f"conv{i}", src, op.outputs[0], cfg, mult, shift, w.data.copy(),
                fold_bias(bias, w.data, int(inp.zero_points[0]), f"op {i} (CONV_2D)"),
                macc=oh * ow * oc * kh * kw * ic)
    cfg["macc_executed"] = step.macc
    return step


def _pool_cfg(model: TfliteModel, op: Operator, i: int, src: int) -> dict:
    o = op.options
    inp, out = int8_act(model, src, op, i), int8_act(model, op.outputs[0], op, i)
    if o.get("padding") != "VALID":
        raise DataError(f"op {i} (MAX_POOL_2D) uses padding {o.get('padding')}",
                        "the builtin backend needs padding='valid' pools")
    if inp.scales[0] != out.scales[0] or inp.zero_points[0] != out.zero_points[0]:
        raise DataError(f"op {i} (MAX_POOL_2D) changes quantization", "a max-pool keeps its input's scale")
    lo, hi = activation_range(o["activation"], float(out.scales[0]), int(out.zero_points[0]))
    _, oh, ow, c = out.shape
    return dict(pool_h=o["filter_h"], pool_w=o["filter_w"], stride_h=o["stride_h"],
                stride_w=o["stride_w"], out_h=oh, out_w=ow, c=c, in_h=inp.shape[1],
                in_w=inp.shape[2], act_min=lo, act_max=hi)


def _lower_pool(model: TfliteModel, op: Operator, i: int, src: int) -> Step:
    p = _pool_cfg(model, op, i, src)
    return Step("pool", f"pool{i}", src, op.outputs[0], p,
                macc=p["out_h"] * p["out_w"] * p["c"] * p["pool_h"] * p["pool_w"])


def _fusable(steps: list[Step], src: int, consumers: dict[int, int], model: TfliteModel) -> bool:
    return (bool(steps) and steps[-1].kind == "conv" and steps[-1].dst == src
            and steps[-1].cfg["pool_h"] == 1 and consumers.get(src, 0) == 1
            and src not in model.outputs)


def _fuse_pool(conv: Step, model: TfliteModel, op: Operator, i: int) -> None:
    """Fold the pool into ``conv``: only the pooled outputs are stored; clamps combine."""
    p = _pool_cfg(model, op, i, conv.dst)
    c = conv.cfg
    c.update(pool_h=p["pool_h"], pool_w=p["pool_w"], pool_stride_h=p["stride_h"],
             pool_stride_w=p["stride_w"], out_h=p["out_h"], out_w=p["out_w"],
             act_min=min(max(c["act_min"], p["act_min"]), p["act_max"]),
             act_max=min(max(c["act_max"], p["act_min"]), p["act_max"]))
    conv.macc += p["out_h"] * p["out_w"] * p["c"] * p["pool_h"] * p["pool_w"]
    c["macc_executed"] = (p["out_h"] * p["out_w"] * p["pool_h"] * p["pool_w"]
                          * c["out_c"] * c["k_h"] * c["k_w"] * c["in_c"])
    conv.dst = op.outputs[0]
    conv.name += f"_pool{i}"


def _lower_fc(model: TfliteModel, op: Operator, i: int, src: int) -> Step:
    inp, out = int8_act(model, src, op, i), int8_act(model, op.outputs[0], op, i)
    w, bias = op_weights(model, op, i)
    n_out, n_in = w.shape
    if int(np.prod(inp.shape)) != n_in:
        raise DataError(f"op {i} (FULLY_CONNECTED): input has {int(np.prod(inp.shape))} elements, "
                        f"weights expect {n_in}", "quantize with the batch fixed to 1")
    mult, shift = channel_multipliers(inp, w, out, n_out)
    lo, hi = activation_range(op.options["activation"], float(out.scales[0]), int(out.zero_points[0]))
    cfg = dict(in_features=n_in, out_features=n_out, out_zero_point=int(out.zero_points[0]),
               act_min=lo, act_max=hi)
    return Step("fc", f"fc{i}", src, op.outputs[0], cfg, mult, shift, w.data.copy(),
                fold_bias(bias, w.data, int(inp.zero_points[0]), f"op {i} (FULLY_CONNECTED)"),
                macc=n_in * n_out + n_out)


def _lower_softmax(model: TfliteModel, op: Operator, i: int, src: int) -> Step:
    inp, out = int8_act(model, src, op, i), int8_act(model, op.outputs[0], op, i)
    if abs(float(out.scales[0]) - 1.0 / 256) > 1e-9 or int(out.zero_points[0]) != -128:
        raise DataError(f"op {i} (SOFTMAX): output scale {out.scales[0]} / zero point "
                        f"{out.zero_points[0]} (int8 softmax needs 1/256 and -128)", "quantize again")
    real = min(float(np.float64(np.float32(op.options.get("beta", 1.0))) * np.float64(inp.scales[0])
                     * float(1 << 26)), float((1 << 31) - 1))
    mult, left = quantize_multiplier(real)
    if left < 0:
        raise DataError(f"op {i} (SOFTMAX): input scale {inp.scales[0]} is too small",
                        "the logits' range is degenerate; retrain or quantize again")
    diff_min = -int(math.floor(31.0 * (1 << 26) / (1 << left)))
    cfg = dict(depth=int(np.prod(inp.shape)), input_multiplier=mult, input_left_shift=left,
               diff_min=diff_min)
    return Step("softmax", f"softmax{i}", src, op.outputs[0], cfg)


_LOWERERS = {"CONV_2D": _lower_conv, "MAX_POOL_2D": _lower_pool,
             "FULLY_CONNECTED": _lower_fc, "SOFTMAX": _lower_softmax}


def _retarget_output(steps: list[Step], model: TfliteModel, alias: dict[int, int]) -> None:
    """A graph output reached through RESHAPE aliases: the producing step writes it directly."""
    out = model.outputs[0]
    if any(s.dst == out for s in steps):
        return
    target = alias.get(out)
    if target is None or target == model.inputs[0]:
        raise DataError("the model output is not produced by a supported op", UNSUPPORTED_HINT)
    for s in steps:
        if s.dst == target:
            s.dst = out
        if s.src == target:
            raise DataError("the model output is also read by another op", UNSUPPORTED_HINT)


def _layout_weights(steps: list[Step], alignment: int) -> bytes:
    """Concatenate each layer's weights as its kernel reads them (lower_ops.blob_weights), padded,
    then its little-endian int32 biases."""
    blob = bytearray()
    for s in steps:
        if s.weights is None:
            continue
        s.weights_offset = len(blob)
        blob += lower_ops.blob_weights(s)
        blob += bytes((-len(blob)) % alignment)
        s.bias_offset = len(blob)
        blob += s.bias.astype("<i4").tobytes()
    return bytes(blob)


def _plan(steps: list[Step], model: TfliteModel, alignment: int) -> tuple[dict[int, int], int]:
    external = {model.inputs[0], model.outputs[0]}
    life: dict[int, list[int]] = {}
    sizes: dict[int, int] = {}
    for n, s in enumerate(steps):
        for t in (s.src, *s.inputs, s.dst):
            if t not in external:
                life.setdefault(t, [n, n])[1] = n
        if s.cfg.get("ring"):
            # The producer runs inside its consumer's step: its input stays alive one step
            # longer, and its output is only the ring of rows the consumer reads.
            if s.src in life:
                life[s.src][1] = max(life[s.src][1], n + 1)
            sizes[s.dst] = s.cfg["ring"]["bytes"]
    shared = _in_place(steps, life, model)
    for dst, src in shared.items():     # one buffer for both, alive over both lifetimes
        life[src][1] = max(life[src][1], life.pop(dst)[1])
    buffers = [Buffer(str(t), sizes.get(t, model.tensor(t).nbytes), a, b) for t, (a, b) in life.items()]
    # Scratch of a step (the DSP convolution's int16 columns): alive during that step only.
    buffers += [Buffer(f"scratch{n}", s.cfg["scratch_bytes"], n, n)
                for n, s in enumerate(steps) if s.cfg.get("scratch_bytes")]
    offsets, arena = plan(buffers, alignment)
    for n, s in enumerate(steps):
        if s.cfg.get("scratch_bytes"):
            s.cfg["scratch_off"] = offsets.pop(f"scratch{n}")
    result = {int(k): v for k, v in offsets.items()}
    result.update({dst: result[src] for dst, src in shared.items()})
    return result, arena


def _in_place(steps: list[Step], life: dict[int, list[int]], model: TfliteModel) -> dict[int, int]:
    """{output: input} for element-wise steps that may overwrite an input read last by them
    (each element is read before the same element is written)."""
    shared: dict[int, int] = {}
    for n, s in enumerate(steps):
        if not s.cfg.get("inplace") or s.dst not in life:
            continue
        for t in s.cfg["inplace"]:
            if (t in life and life[t][1] == n
                    and model.tensor(t).nbytes == model.tensor(s.dst).nbytes):
                shared[s.dst] = shared.get(t, t)     # chains of in-place steps share one root
                break
    return shared
