"""Small float-edged .tflite models for the tests of QUANTIZE/DEQUANTIZE (tests/
test_generator_edges.py, tests/test_kernel_library.py): Keras models converted with float input
and output (the TFLite converter's default), one-op models written with the TFLite schema, and an
int8 -> int8 QUANTIZE inserted into a converted model."""

from __future__ import annotations

import contextlib
import copy
import sys

import numpy as np


def convert_float_io(model, shape, seed: int = 0, int8_ops: bool = True) -> bytes:
    """``model`` converted to int8 with float32 input and output (QUANTIZE first, DEQUANTIZE
    last), calibrated on seeded normal data; ``int8_ops=False`` lets ops without an int8 kernel
    stay float (the converter then puts DEQUANTIZE/QUANTIZE around them)."""
    import tensorflow as tf

    data = np.random.default_rng(seed).normal(0, 1, (32, *shape)).astype(np.float32)

    def samples():
        for x in data:
            yield [x[None]]

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = samples
    if int8_ops:
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    with contextlib.redirect_stdout(sys.stderr):
        return converter.convert()


def _schema():
    from tensorflow.lite.python import schema_py_generated as fb

    return fb


def _pack(m) -> bytes:
    import flatbuffers

    b = flatbuffers.Builder(0)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def one_op_tflite(kind: str, shape, in_q=None, out_q=None) -> bytes:
    """A one-op model: 'quantize' (float32 -> int8 with out_q), 'dequantize' (int8 with in_q ->
    float32) or 'requantize' (int8 in_q -> int8 out_q); in_q/out_q are (scale, zero point)."""
    fb = _schema()
    code = fb.BuiltinOperator.DEQUANTIZE if kind == "dequantize" else fb.BuiltinOperator.QUANTIZE
    m = fb.ModelT()
    m.version = 3
    oc = fb.OperatorCodeT()
    oc.builtinCode = code
    oc.deprecatedBuiltinCode = code
    oc.version = 2 if kind == "requantize" else 1
    m.operatorCodes = [oc]
    m.buffers = [fb.BufferT() for _ in range(3)]

    def tensor(name: str, q, buffer: int):
        t = fb.TensorT()
        t.name = name.encode()
        t.shape = [1, *shape]
        t.buffer = buffer
        t.type = fb.TensorType.FLOAT32 if q is None else fb.TensorType.INT8
        if q is not None:
            t.quantization = fb.QuantizationParametersT()
            t.quantization.scale = [float(np.float32(q[0]))]
            t.quantization.zeroPoint = [int(q[1])]
        return t

    g = fb.SubGraphT()
    g.tensors = [tensor("input", None if kind == "quantize" else in_q, 1),
                 tensor("output", None if kind == "dequantize" else out_q, 2)]
    g.inputs, g.outputs = [0], [1]
    op = fb.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = 0, [0], [1]
    g.operators = [op]
    m.subgraphs = [g]
    return _pack(m)


def add_requantize(tflite: bytes, scale_factor: float = 1.7, zp_shift: int = 9) -> bytes:
    """``tflite`` with an int8 -> int8 QUANTIZE after its first op (QUANTIZE of the float
    input): the rest of the graph reads the tensor again with a new scale and zero point."""
    fb = _schema()
    m = fb.ModelT.InitFromObj(fb.Model.GetRootAsModel(tflite, 0))
    g = m.subgraphs[0]
    first = g.operators[0].outputs[0]
    new = copy.deepcopy(g.tensors[first])
    new.name = (new.name or b"") + b"_requantized"
    new.quantization.scale = [float(np.float32(new.quantization.scale[0] * scale_factor))]
    new.quantization.zeroPoint = [int(new.quantization.zeroPoint[0]) + zp_shift]
    m.buffers.append(fb.BufferT())
    new.buffer = len(m.buffers) - 1
    g.tensors.append(new)
    index = len(g.tensors) - 1
    for op in g.operators[1:]:
        op.inputs = [index if k == first else k for k in op.inputs]
    op = fb.OperatorT()
    op.opcodeIndex = next(i for i, c in enumerate(m.operatorCodes)
                          if max(c.builtinCode, c.deprecatedBuiltinCode) == fb.BuiltinOperator.QUANTIZE)
    op.inputs, op.outputs = [first], [index]
    g.operators.insert(1, op)
    return _pack(m)
