"""A small reader for the parts of a .tflite flatbuffer the code generator needs.

It reads tensors (shape, type, per-tensor or per-channel scales and zero points, constant data)
and operators (builtin code, inputs, outputs, options) of the first subgraph. Field numbers
follow the TensorFlow Lite schema (schema.fbs); only the flatbuffers runtime is used, so
reading a model does not import TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..core.errors import DataError

# BuiltinOperator codes (schema.fbs) of the ops we know by name.
OP_NAMES = {0: "ADD", 2: "CONCATENATION", 60: "PADV2", 3: "CONV_2D", 4: "DEPTHWISE_CONV_2D", 6: "DEQUANTIZE", 9: "FULLY_CONNECTED",
            14: "LOGISTIC", 17: "MAX_POOL_2D", 1: "AVERAGE_POOL_2D", 18: "MUL", 19: "RELU",
            21: "RELU6", 22: "RESHAPE", 25: "SOFTMAX", 34: "PAD", 40: "MEAN", 45: "STRIDED_SLICE",
            77: "SHAPE", 83: "PACK", 114: "QUANTIZE"}
TENSOR_TYPES = {0: np.float32, 2: np.int32, 3: np.uint8, 4: np.int64, 7: np.int16, 9: np.int8}
ACTIVATIONS = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6", 4: "TANH"}
PADDINGS = {0: "SAME", 1: "VALID"}


@dataclass
class Tensor:
    """One tensor: shape, numpy dtype, quantization and (for constants) its data."""

    index: int
    name: str
    shape: tuple[int, ...]
    dtype: type
    scales: np.ndarray          # float32, one per tensor or per channel
    zero_points: np.ndarray     # int64
    quantized_dimension: int
    data: np.ndarray | None     # constant contents reshaped to ``shape``, else None

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape)) * np.dtype(self.dtype).itemsize


@dataclass
class Operator:
    """One operator: its name (e.g. CONV_2D), tensor indices and decoded options."""

    name: str
    inputs: list[int]
    outputs: list[int]
    options: dict = field(default_factory=dict)


@dataclass
class TfliteModel:
    """The first subgraph of a .tflite model."""

    tensors: list[Tensor]
    operators: list[Operator]
    inputs: list[int]
    outputs: list[int]

    def tensor(self, index: int) -> Tensor:
        return self.tensors[index]


def read_tflite(source: bytes | str | Path) -> TfliteModel:
    """Parse a .tflite model from bytes or a path; DataError if it is not a TFLite flatbuffer."""
    data = Path(source).read_bytes() if isinstance(source, (str, Path)) else bytes(source)
    where = str(source) if isinstance(source, (str, Path)) else "model bytes"
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise DataError(f"{where}: not a TensorFlow Lite model (no TFL3 identifier)",
                        "run `asc-tool quantize --run RUN` to produce model_int8.tflite")
    try:
        return _read_model(data)
    except (IndexError, ValueError, KeyError) as exc:
        raise DataError(f"{where}: damaged TensorFlow Lite model ({exc})",
                        "quantize the run again") from None


# -- flatbuffer access ---------------------------------------------------------------------------

def _table(buf: bytes, pos: int):
    from flatbuffers.table import Table

    return Table(bytearray(buf) if not isinstance(buf, bytearray) else buf, pos)


def _field(tab, slot: int, kind, default=0):
    import flatbuffers.number_types as nt

    off = tab.Offset(4 + 2 * slot)
    return tab.Get(getattr(nt, kind), off + tab.Pos) if off else default


def _vector(tab, slot: int, dtype) -> np.ndarray:
    off = tab.Offset(4 + 2 * slot)
    if not off:
        return np.zeros(0, dtype)
    start = tab.Vector(off)
    n = tab.VectorLen(off)
    return np.frombuffer(bytes(tab.Bytes[start:start + n * np.dtype(dtype).itemsize]), dtype).copy()


def _tables(tab, slot: int) -> list:
    off = tab.Offset(4 + 2 * slot)
    if not off:
        return []
    start = tab.Vector(off)
    return [_table(tab.Bytes, tab.Indirect(start + 4 * i)) for i in range(tab.VectorLen(off))]


def _sub(tab, slot: int):
    off = tab.Offset(4 + 2 * slot)
    return _table(tab.Bytes, tab.Indirect(off + tab.Pos)) if off else None


def _string(tab, slot: int) -> str:
    off = tab.Offset(4 + 2 * slot)
    return tab.String(off + tab.Pos).decode("utf-8", "replace") if off else ""


# -- schema ----------------------------------------------------------------------------------------

def _read_model(data: bytes) -> TfliteModel:
    import flatbuffers.encode as enc
    import flatbuffers.number_types as nt

    buf = bytearray(data)
    model = _table(buf, enc.Get(nt.UOffsetTFlags.packer_type, buf, 0))
    codes = [max(_field(c, 0, "Int8Flags"), _field(c, 3, "Int32Flags")) for c in _tables(model, 1)]
    buffers = [_vector(b, 0, np.uint8) for b in _tables(model, 4)]
    graphs = _tables(model, 2)
    if not graphs:
        raise ValueError("no subgraph")
    graph = graphs[0]
    tensors = [_read_tensor(i, t, buffers) for i, t in enumerate(_tables(graph, 0))]
    operators = [_read_operator(op, codes) for op in _tables(graph, 3)]
    return TfliteModel(tensors, operators, _vector(graph, 1, np.int32).tolist(),
                       _vector(graph, 2, np.int32).tolist())


def _read_tensor(index: int, tab, buffers: list[np.ndarray]) -> Tensor:
    shape = tuple(int(v) for v in _vector(tab, 0, np.int32))
    type_code = _field(tab, 1, "Int8Flags")
    dtype = TENSOR_TYPES.get(type_code, np.uint8)
    quant = _sub(tab, 4)
    scales = _vector(quant, 2, np.float32) if quant else np.zeros(0, np.float32)
    zps = _vector(quant, 3, np.int64) if quant else np.zeros(0, np.int64)
    qdim = _field(quant, 6, "Int32Flags") if quant else 0
    raw = buffers[_field(tab, 2, "Uint32Flags")] if buffers else np.zeros(0, np.uint8)
    values = None
    if raw.size and type_code in TENSOR_TYPES:
        values = np.frombuffer(raw.tobytes(), dtype).reshape(shape)
    return Tensor(index, _string(tab, 3), shape, dtype, scales, zps, qdim, values)


def _read_operator(tab, codes: list[int]) -> Operator:
    code = codes[_field(tab, 0, "Uint32Flags")]
    name = OP_NAMES.get(code, f"builtin op {code}")
    opts = _sub(tab, 4)
    return Operator(name, _vector(tab, 1, np.int32).tolist(), _vector(tab, 2, np.int32).tolist(),
                    _read_options(name, opts) if opts else {})


def _read_options(name: str, t) -> dict:
    i8, i32 = "Int8Flags", "Int32Flags"
    if name == "CONV_2D":
        return {"padding": PADDINGS.get(_field(t, 0, i8), "?"), "stride_w": _field(t, 1, i32),
                "stride_h": _field(t, 2, i32), "activation": ACTIVATIONS.get(_field(t, 3, i8), "?"),
                "dilation_w": _field(t, 4, i32, 1), "dilation_h": _field(t, 5, i32, 1)}
    if name in ("MAX_POOL_2D", "AVERAGE_POOL_2D"):
        return {"padding": PADDINGS.get(_field(t, 0, i8), "?"), "stride_w": _field(t, 1, i32),
                "stride_h": _field(t, 2, i32), "filter_w": _field(t, 3, i32),
                "filter_h": _field(t, 4, i32), "activation": ACTIVATIONS.get(_field(t, 5, i8), "?")}
    if name == "FULLY_CONNECTED":
        return {"activation": ACTIVATIONS.get(_field(t, 0, i8), "?"),
                "keep_num_dims": bool(_field(t, 2, "BoolFlags", False))}
    if name == "DEPTHWISE_CONV_2D":
        return {"padding": PADDINGS.get(_field(t, 0, i8), "?"), "stride_w": _field(t, 1, i32),
                "stride_h": _field(t, 2, i32), "depth_multiplier": _field(t, 3, i32),
                "activation": ACTIVATIONS.get(_field(t, 4, i8), "?"),
                "dilation_w": _field(t, 5, i32, 1), "dilation_h": _field(t, 6, i32, 1)}
    if name == "ADD":
        return {"activation": ACTIVATIONS.get(_field(t, 0, i8), "?")}
    if name == "CONCATENATION":
        return {"axis": _field(t, 0, i32), "activation": ACTIVATIONS.get(_field(t, 1, i8), "?")}
    if name == "MEAN":
        return {"keep_dims": bool(_field(t, 0, "BoolFlags", False))}
    if name == "SOFTMAX":
        return {"beta": float(_field(t, 0, "Float32Flags", 0.0))}
    return {}
