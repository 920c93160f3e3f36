"""Lowering of the ops beyond the seed set: convolutions with padding or dilation, depthwise
convolutions, pools with padding, average pools, MEAN over H and W, ADD with two scales, PAD and
channel CONCATENATION. Every constant is computed as TFLite Micro computes it at prepare time.

Each lowerer takes (model, op, index, srcs), ``srcs`` being the op's input tensors with RESHAPE
aliases resolved, and returns one Step (library.KERNEL_FAMILIES names its C file).
"""

from __future__ import annotations

import numpy as np

from ..core.errors import DataError
from . import quant as q
from .ir import Step
from .tflite_model import Operator, TfliteModel

LEFT_SHIFT_ADD = 20     # TFLite's int8 ADD: inputs are shifted left by 20 bits before scaling


def tflite_padding(padding: str, in_size: int, k: int, stride: int, dilation: int,
                   out_size: int) -> int:
    """Top/left padding as TFLite computes it (C division truncating, never negative)."""
    eff = (k - 1) * dilation + 1
    total = (out_size - 1) * stride + eff - in_size
    return max(0, int(total / 2))


def _conv_common(model: TfliteModel, op: Operator, i: int, src: int, w_shape, out_c: int) -> dict:
    o = op.options
    inp, out = q.int8_act(model, src, op, i), q.int8_act(model, op.outputs[0], op, i)
    _, ih, iw, ic = inp.shape
    _, oh, ow, _ = out.shape
    kh, kw = w_shape
    dh, dw = o.get("dilation_h", 1), o.get("dilation_w", 1)
    lo, hi = q.activation_range(o["activation"], float(out.scales[0]), int(out.zero_points[0]))
    return dict(in_h=ih, in_w=iw, in_c=ic, out_h=oh, out_w=ow, out_c=out_c, k_h=kh, k_w=kw,
                stride_h=o["stride_h"], stride_w=o["stride_w"], dil_h=dh, dil_w=dw,
                pad_top=tflite_padding(o["padding"], ih, kh, o["stride_h"], dh, oh),
                pad_left=tflite_padding(o["padding"], iw, kw, o["stride_w"], dw, ow),
                depth_mult=1, in_offset=-int(inp.zero_points[0]),
                out_zero_point=int(out.zero_points[0]), act_min=lo, act_max=hi)


def _raw_bias(bias, n: int) -> np.ndarray:
    return (bias if bias is not None else np.zeros(n, np.int64)).astype(np.int32)


def lower_convp(model: TfliteModel, op: Operator, i: int, srcs: list[int]) -> Step:
    """CONV_2D with SAME padding or dilation (the input offset is applied per tap)."""
    w, bias = q.op_weights(model, op, i)
    oc, kh, kw, _ = w.shape
    cfg = _conv_common(model, op, i, srcs[0], (kh, kw), oc)
    mult, shift = q.channel_multipliers(model.tensor(srcs[0]), w, model.tensor(op.outputs[0]), oc)
    macc = cfg["out_h"] * cfg["out_w"] * oc * kh * kw * cfg["in_c"]
    return Step("convp", f"conv{i}", srcs[0], op.outputs[0], cfg, mult, shift, w.data.copy(),
                _raw_bias(bias, oc), macc=macc)


def pack_convp_weights(w: np.ndarray) -> np.ndarray:
    """int8 weights [out_c][k_h][k_w][in_c] as the int16 matrix-product order of the kernel
    library (clib/asc_kernels.h, ASC_CONVP_WEIGHT): taps padded to groups of 4, channels to
    pairs; per pair and group the words (taps 0, 2) and (1, 3) of each channel of the pair."""
    oc = w.shape[0]
    taps = w.reshape(oc, -1).astype(np.int16)
    groups = (taps.shape[1] + 3) // 4
    padded = np.zeros((oc + oc % 2, 4 * groups), np.int16)
    padded[:oc, :taps.shape[1]] = taps
    # [pair][channel j][group][half][h] with tap = 4 group + 2 half + h -> [pair][group][h][j][half]
    five = padded.reshape(-1, 2, groups, 2, 2)
    return np.ascontiguousarray(five.transpose(0, 2, 4, 1, 3)).reshape(-1)


def pack_fc_weights(w: np.ndarray) -> np.ndarray:
    """int8 dense weights [out][in] in the grouped order of the kernel library (clib/asc_kernels.h,
    asc_fc_weight): per group of 4 rows the 4 rows' words of each 4 inputs, then each row's last
    in % 4 weights; the out % 4 last rows plain."""
    n_out, n = w.shape
    full, groups = n & ~3, n_out // 4
    parts = []
    for g in range(groups):
        rows = w[4 * g:4 * g + 4]
        parts.append(rows[:, :full].reshape(4, -1, 4).transpose(1, 0, 2).reshape(-1))
        parts.append(rows[:, full:].reshape(-1))
    parts.append(w[4 * groups:].reshape(-1))
    return np.concatenate(parts).astype(np.int8)


def blob_weights(step: Step) -> bytes:
    """A step's weights as the kernel reads them from the weights blob."""
    if step.kind == "convp":
        return pack_convp_weights(step.weights).astype("<i2").tobytes()
    if step.kind == "fc":
        return pack_fc_weights(step.weights).tobytes()
    return step.weights.astype(np.int8).tobytes()


def lower_dwconv(model: TfliteModel, op: Operator, i: int, srcs: list[int]) -> Step:
    """DEPTHWISE_CONV_2D, any padding, stride, dilation and depth multiplier."""
    w, bias = q.op_weights(model, op, i, axis=3)
    _, kh, kw, oc = w.shape
    cfg = _conv_common(model, op, i, srcs[0], (kh, kw), oc)
    cfg["depth_mult"] = oc // cfg["in_c"]
    if cfg["depth_mult"] * cfg["in_c"] != oc:
        raise DataError(f"op {i} (DEPTHWISE_CONV_2D): {oc} output channels for {cfg['in_c']} inputs",
                        "the depth multiplier must be a whole number")
    scales = w.scales if len(w.scales) > 1 else np.repeat(w.scales, oc)
    mult, shift = _per_channel(model.tensor(srcs[0]), scales, model.tensor(op.outputs[0]))
    macc = cfg["out_h"] * cfg["out_w"] * oc * kh * kw
    return Step("dwconv", f"dwconv{i}", srcs[0], op.outputs[0], cfg, mult, shift,
                w.data.reshape(-1).copy(), _raw_bias(bias, oc), macc=macc)


def _per_channel(inp, scales, out) -> tuple[list[int], list[int]]:
    pairs = [q.quantize_multiplier(float(np.float64(inp.scales[0]) * np.float64(s)
                                             / np.float64(out.scales[0]))) for s in scales]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def lower_pool2(model: TfliteModel, op: Operator, i: int, srcs: list[int]) -> Step:
    """AVERAGE_POOL_2D (any padding) or MAX_POOL_2D with SAME padding; scale kept."""
    o = op.options
    inp, out = q.int8_act(model, srcs[0], op, i), q.int8_act(model, op.outputs[0], op, i)
    if inp.scales[0] != out.scales[0] or inp.zero_points[0] != out.zero_points[0]:
        raise DataError(f"op {i} ({op.name}) changes quantization", "a pool keeps its input's scale")
    lo, hi = q.activation_range(o["activation"], float(out.scales[0]), int(out.zero_points[0]))
    _, ih, iw, c = inp.shape
    _, oh, ow, _ = out.shape
    cfg = dict(in_h=ih, in_w=iw, c=c, pool_h=o["filter_h"], pool_w=o["filter_w"],
               stride_h=o["stride_h"], stride_w=o["stride_w"],
               pad_top=tflite_padding(o["padding"], ih, o["filter_h"], o["stride_h"], 1, oh),
               pad_left=tflite_padding(o["padding"], iw, o["filter_w"], o["stride_w"], 1, ow),
               out_h=oh, out_w=ow, act_min=lo, act_max=hi,
               op="avg" if op.name == "AVERAGE_POOL_2D" else "max")
    return Step("pool2", f"{cfg['op']}pool{i}", srcs[0], op.outputs[0], cfg,
                macc=oh * ow * c * o["filter_h"] * o["filter_w"])


def lower_add(model: TfliteModel, op: Operator, i: int, srcs: list[int]) -> Step:
    """ADD of two same-shape int8 tensors with their own scales (no broadcasting)."""
    a, b = (q.int8_act(model, t, op, i) for t in srcs[:2])
    out = q.int8_act(model, op.outputs[0], op, i)
    if a.shape != b.shape or a.data is not None or b.data is not None:
        raise DataError(f"op {i} (ADD): shapes {a.shape} and {b.shape} (or a constant input)",
                        "the builtin backend adds two computed tensors of the same shape")
    twice_max = 2.0 * max(float(a.scales[0]), float(b.scales[0]))
    m1, s1 = q.quantize_multiplier(float(a.scales[0]) / twice_max)
    m2, s2 = q.quantize_multiplier(float(b.scales[0]) / twice_max)
    mo, so = q.quantize_multiplier(twice_max / ((1 << LEFT_SHIFT_ADD) * float(out.scales[0])))
    lo, hi = q.activation_range(op.options.get("activation", "NONE"), float(out.scales[0]),
                                 int(out.zero_points[0]))
    size = int(np.prod(out.shape))
    cfg = dict(size=size, in1_offset=-int(a.zero_points[0]), in2_offset=-int(b.zero_points[0]),
               out_offset=int(out.zero_points[0]), left_shift=LEFT_SHIFT_ADD,
               in1_multiplier=m1, in1_shift=s1, in2_multiplier=m2, in2_shift=s2,
               out_multiplier=mo, out_shift=so, act_min=lo, act_max=hi, inplace=list(srcs[:2]))
    return Step("add", f"add{i}", srcs[0], op.outputs[0], cfg, macc=size, inputs=list(srcs[:2]))


def fusable_add(steps: list[Step], srcs: list[int], consumers: dict[int, int],
                model: TfliteModel) -> bool:
    """True when an ADD can run inside the padded convolution just before it: that
    convolution's output is one of the ADD's inputs and is read by nothing else."""
    if not steps or steps[-1].kind != "convp" or steps[-1].cfg.get("add"):
        return False
    conv = steps[-1]
    other = [t for t in srcs[:2] if t != conv.dst]
    return (len(other) == 1 and conv.dst in srcs[:2] and consumers.get(conv.dst, 0) == 1
            and conv.dst not in model.outputs and model.tensor(other[0]).data is None)


def fuse_add(conv: Step, add: Step) -> None:
    """Run ``add`` as the epilogue of ``conv``: the convolution's value is ADD input 1 (the
    parameters are swapped when it was input 2; the integer sum does not depend on the order),
    the other input is the residual, and the output may overwrite the residual."""
    a = dict(add.cfg)
    residual = add.inputs[1] if add.inputs[0] == conv.dst else add.inputs[0]
    if add.inputs[1] == conv.dst:
        for key in ("offset", "multiplier", "shift"):
            a[f"in1_{key}"], a[f"in2_{key}"] = add.cfg[f"in2_{key}"], add.cfg[f"in1_{key}"]
    a.pop("inplace")
    conv.cfg["add"] = a
    # Overwriting the residual is safe unless the convolution reads it too (neighbours).
    conv.cfg["inplace"] = [residual] if residual != conv.src else []
    conv.inputs = [conv.src, residual]
    conv.dst = add.dst
    conv.macc += add.macc
    conv.name += f"_{add.name}"


def lower_mean(model: TfliteModel, op: Operator, i: int, srcs: list[int]) -> Step:
    """MEAN over axes 1 and 2 of an NHWC int8 tensor (global average pooling)."""
    inp, out = q.int8_act(model, srcs[0], op, i), q.int8_act(model, op.outputs[0], op, i)
    axes = model.tensor(op.inputs[1]).data
    if len(inp.shape) != 4 or axes is None or sorted(int(v) for v in axes.reshape(-1)) != [1, 2]:
        raise DataError(f"op {i} (MEAN) reduces axes {None if axes is None else axes.tolist()}",
                        "the builtin backend takes MEAN over height and width (axes 1, 2) only")
    _, h, w, c = inp.shape
    n = h * w
    same = inp.scales[0] == out.scales[0] and inp.zero_points[0] == out.zero_points[0]
    mult, shift = q.quantize_multiplier(float(np.float64(inp.scales[0]) / np.float64(out.scales[0])))
    # The reference folds 1/n into the multiplier: up to 32 more bits, kept >= -31 in total.
    extra = min(n.bit_length() - 1, 32, 31 + shift)
    cfg = dict(hw=n, c=c, in_zero_point=int(inp.zero_points[0]),
               out_zero_point=int(out.zero_points[0]), multiplier=int((mult << extra) // n),
               shift=shift - extra, same_scale=int(same))
    return Step("mean", f"mean{i}", srcs[0], op.outputs[0], cfg, macc=h * w * c)


def lower_pad(model: TfliteModel, op: Operator, i: int, srcs: list[int]) -> Step:
    """PAD of an NHWC int8 tensor with its zero point (no batch padding)."""
    inp, out = q.int8_act(model, srcs[0], op, i), q.int8_act(model, op.outputs[0], op, i)
    pads = model.tensor(op.inputs[1]).data
    if len(inp.shape) != 4 or pads is None or np.any(pads.reshape(-1, 2)[0] != 0):
        raise DataError(f"op {i} (PAD): {None if pads is None else pads.tolist()} on {inp.shape}",
                        "the builtin backend pads height, width and channels of NHWC tensors")
    p = pads.reshape(-1, 2)
    cfg = dict(in_h=inp.shape[1], in_w=inp.shape[2], c=inp.shape[3], out_h=out.shape[1],
               out_w=out.shape[2], out_c=out.shape[3], top=int(p[1, 0]), left=int(p[2, 0]),
               front=int(p[3, 0]), value=int(out.zero_points[0]))
    return Step("pad", f"pad{i}", srcs[0], op.outputs[0], cfg)


def lower_concat(model: TfliteModel, op: Operator, i: int, srcs: list[int]) -> Step:
    """CONCATENATION on the last axis of tensors sharing the output's scale and zero point."""
    out = q.int8_act(model, op.outputs[0], op, i)
    ins = [q.int8_act(model, t, op, i) for t in srcs]
    axis = op.options.get("axis", -1) % len(out.shape)
    same = all(t.scales[0] == out.scales[0] and t.zero_points[0] == out.zero_points[0] for t in ins)
    if op.options.get("activation", "NONE") != "NONE":
        raise DataError(f"op {i} (CONCATENATION) has a fused {op.options['activation']}",
                        "concatenate without a fused activation")
    if axis != len(out.shape) - 1 or not same or any(t.data is not None for t in ins):
        raise DataError(f"op {i} (CONCATENATION) on axis {axis} or with differing scales",
                        "concatenate computed tensors on channels, with one scale for all")
    parts, c0 = [], 0
    for t in ins:
        parts.append(dict(c=int(t.shape[-1]), c0=c0))
        c0 += int(t.shape[-1])
    cfg = dict(rows=int(np.prod(out.shape[:-1])), out_c=int(out.shape[-1]), parts=parts)
    return Step("concat", f"concat{i}", srcs[0], op.outputs[0], cfg, inputs=list(srcs))


NEW_LOWERERS = {"DEPTHWISE_CONV_2D": lower_dwconv, "AVERAGE_POOL_2D": lower_pool2,
                "ADD": lower_add, "MEAN": lower_mean, "PAD": lower_pad,
                "CONCATENATION": lower_concat}
