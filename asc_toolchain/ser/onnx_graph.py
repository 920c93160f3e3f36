"""Keras ResNet graph → ONNX (opset 13, batch 1), written here for the layers jetson-ser uses.

ONNX convolutions are NCHW, so the graph is NCHW inside; the input is NCHW (TensorRT's native
layout) or NHWC (a Transpose first). Batch normalisation after a convolution is folded into
its weights; ZeroPadding2D before a convolution becomes the convolution's pads (elsewhere a
Pad node); Dropout is the identity. Supported: InputLayer, ZeroPadding2D, Conv2D, BatchNormalization,
ReLU, Activation (relu, softmax), MaxPooling2D, Add, GlobalAveragePooling2D, Dropout, Dense.
"""

from __future__ import annotations

import numpy as np

from ..core.errors import ConfigError

OPSET = 13


def _inbound(layer_cfg: dict) -> list[str]:
    """Names of the layers feeding a layer (from its functional config)."""
    names = []

    def walk(obj):
        if isinstance(obj, dict):
            hist = obj.get("config", {}).get("keras_history") if obj.get("class_name") == "__keras_tensor__" else None
            if hist:
                names.append(hist[0])
                return
            for v in obj.values():
                walk(v)
        elif isinstance(obj, (list, tuple)):
            for v in obj:
                walk(v)

    for node in layer_cfg.get("inbound_nodes", []):
        walk(node.get("args", []))
    return names


class _Builder:
    def __init__(self, model):
        from onnx import helper, numpy_helper

        self.helper, self.numpy_helper = helper, numpy_helper
        self.model = model
        self.layers = {layer.name: layer for layer in model.layers}
        self.config = model.get_config()
        self.inputs = {c["name"]: _inbound(c) for c in self.config["layers"]}
        self.consumers: dict[str, list[str]] = {}
        for name, ins in self.inputs.items():
            for i in ins:
                self.consumers.setdefault(i, []).append(name)
        self.nodes, self.inits = [], []
        self.alias: dict[str, str] = {}     # layer name → ONNX tensor holding its output
        self.pads: dict[str, tuple] = {}    # ZeroPadding2D layer → (source tensor, pads)

    def const(self, name: str, value: np.ndarray, dtype=np.float32) -> str:
        self.inits.append(self.numpy_helper.from_array(np.asarray(value, dtype), name))
        return name

    def node(self, op: str, inputs: list, output: str, **attrs) -> str:
        self.nodes.append(self.helper.make_node(op, inputs, [output], name=output, **attrs))
        return output

    def src(self, layer_name: str) -> str:
        """Tensor of a layer's output, materialising a pending zero padding as a Pad node."""
        if layer_name in self.pads:
            source, pads = self.pads.pop(layer_name)
            amount = self.const(layer_name + "_pads", [0, 0, pads[0], pads[1], 0, 0, pads[2], pads[3]],
                                np.int64)
            self.alias[layer_name] = self.node("Pad", [source, amount], layer_name, mode="constant")
        return self.alias[layer_name]


def keras_to_onnx(model, layout: str = "NCHW", name: str = "ser"):
    """Return an onnx.ModelProto of ``model`` with input ``input`` and output ``probabilities``."""
    from onnx import TensorProto, checker, helper

    b = _Builder(model)
    in_layer = _endpoint(b.config["input_layers"])
    h, w, c = model.input_shape[1:]
    if layout == "NCHW":
        shape, b.alias[in_layer] = [1, c, h, w], "input"
    elif layout == "NHWC":
        shape = [1, h, w, c]
        b.alias[in_layer] = b.node("Transpose", ["input"], "input_nchw", perm=[0, 3, 1, 2])
    else:
        raise ConfigError(f"layout {layout!r} is not NCHW or NHWC", "pass --layout NCHW (TensorRT) or NHWC")
    for cfg in b.config["layers"]:
        if cfg["name"] != in_layer:
            _convert(b, cfg)
    out_name = b.src(_endpoint(b.config["output_layers"]))
    if out_name != "probabilities":
        b.nodes.append(helper.make_node("Identity", [out_name], ["probabilities"], name="probabilities"))
    n_out = int(model.output_shape[-1])
    graph = helper.make_graph(
        b.nodes, name, [helper.make_tensor_value_info("input", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [1, n_out])], b.inits)
    proto = helper.make_model(graph, producer_name="asc-tool", opset_imports=[helper.make_opsetid("", OPSET)])
    proto.ir_version = 7                               # readable by onnx 1.8+ / TensorRT 8.0
    checker.check_model(proto)
    return proto


def _endpoint(spec) -> str:
    """The layer name in a functional config's input_layers/output_layers (one endpoint)."""
    while isinstance(spec, list) and spec and isinstance(spec[0], list):
        if len(spec) != 1:
            raise ConfigError(f"the model has {len(spec)} inputs or outputs", "export a one-input, one-output model")
        spec = spec[0]
    return spec[0]


def _convert(b: _Builder, cfg: dict) -> None:
    kind, name = cfg["class_name"], cfg["name"]
    layer, ins = b.layers[name], b.inputs[name]
    if kind == "ZeroPadding2D":
        (top, bottom), (left, right) = layer.padding
        b.pads[name] = (b.src(ins[0]), (top, left, bottom, right))
    elif kind == "Conv2D":
        _conv(b, layer, ins[0])
    elif kind == "BatchNormalization":
        if name not in b.alias:                        # not folded into a convolution
            _batchnorm(b, layer, ins[0])
    elif kind in ("ReLU", "Activation"):
        _activation(b, layer, ins[0], _activation_name(layer))
    elif kind == "MaxPooling2D":
        b.alias[name] = b.node("MaxPool", [b.src(ins[0])], name, kernel_shape=list(layer.pool_size),
                               strides=list(layer.strides), **_same_pads(layer, layer.pool_size))
    elif kind == "Add":
        b.alias[name] = b.node("Add", [b.src(i) for i in ins], name)
    elif kind == "GlobalAveragePooling2D":
        pooled = b.node("GlobalAveragePool", [b.src(ins[0])], name + "_pool")
        b.alias[name] = b.node("Flatten", [pooled], name, axis=1)
    elif kind == "Dropout":
        b.alias[name] = b.src(ins[0])
    elif kind == "Dense":
        _dense(b, layer, ins[0])
    else:
        raise ConfigError(f"layer {name!r} ({kind}) has no ONNX conversion here",
                          "the jetson-ser exporter covers the ResNet34 layers only")


def _same_pads(layer, kernel) -> dict:
    if layer.padding == "valid":
        return {}
    if list(layer.strides) != [1, 1] or any(k % 2 == 0 for k in kernel):
        raise ConfigError(f"layer {layer.name!r}: padding 'same' with stride {layer.strides}",
                          "use ZeroPadding2D + 'valid' (as the ResNet34 here does)")
    p = [k // 2 for k in kernel]
    return {"pads": [p[0], p[1], p[0], p[1]]}


def _conv(b: _Builder, layer, src_layer: str) -> None:
    kernel = layer.get_weights()[0]                                    # HWIO
    bias = layer.get_weights()[1] if layer.use_bias else np.zeros(kernel.shape[-1], np.float32)
    weight = np.transpose(kernel, (3, 2, 0, 1)).astype(np.float64)      # OIHW
    bias = bias.astype(np.float64)
    out_name = layer.name
    users = b.consumers.get(layer.name, [])
    if len(users) == 1 and type(b.layers[users[0]]).__name__ == "BatchNormalization":
        scale, shift = _bn_affine(b.layers[users[0]])
        weight, bias = weight * scale[:, None, None, None], bias * scale + shift
        out_name = users[0]
    attrs = {"kernel_shape": list(layer.kernel_size), "strides": list(layer.strides)}
    if src_layer in b.pads:
        source, pads = b.pads.pop(src_layer)
        attrs["pads"] = list(pads)
    else:
        source = b.src(src_layer)
        attrs.update(_same_pads(layer, layer.kernel_size))
    inputs = [source, b.const(out_name + "_W", weight), b.const(out_name + "_B", bias)]
    tensor = b.node("Conv", inputs, out_name + ("_conv" if layer.activation.__name__ != "linear" else ""), **attrs)
    if layer.activation.__name__ != "linear":
        tensor = _act_node(b, layer.activation.__name__, tensor, out_name)
    b.alias[out_name] = tensor


def _bn_affine(bn) -> tuple[np.ndarray, np.ndarray]:
    gamma, beta, mean, var = (w.astype(np.float64) for w in bn.get_weights())
    scale = gamma / np.sqrt(var + bn.epsilon)
    return scale, beta - mean * scale


def _batchnorm(b: _Builder, layer, src: str) -> None:
    scale, shift = _bn_affine(layer)
    s = b.const(layer.name + "_scale", scale.reshape(1, -1, 1, 1))
    t = b.const(layer.name + "_shift", shift.reshape(1, -1, 1, 1))
    b.alias[layer.name] = b.node("Add", [b.node("Mul", [b.src(src), s], layer.name + "_mul"), t], layer.name)


def _activation_name(layer) -> str:
    if type(layer).__name__ == "ReLU":
        if layer.max_value is not None or float(layer.negative_slope) != 0 or float(layer.threshold) != 0:
            raise ConfigError(f"layer {layer.name!r}: only a plain ReLU converts", "use layers.ReLU()")
        return "relu"
    return layer.activation.__name__


def _activation(b: _Builder, layer, src: str, act: str) -> None:
    b.alias[layer.name] = _act_node(b, act, b.src(src), layer.name)


def _act_node(b: _Builder, act: str, src: str, out: str) -> str:
    if act == "relu":
        return b.node("Relu", [src], out)
    if act == "softmax":
        return b.node("Softmax", [src], out, axis=1)
    if act == "linear":
        return b.node("Identity", [src], out)
    raise ConfigError(f"activation {act!r} has no ONNX conversion here", "use relu or softmax")


def _dense(b: _Builder, layer, src: str) -> None:
    kernel, bias = layer.get_weights() if layer.use_bias else (layer.get_weights()[0], None)
    bias = bias if bias is not None else np.zeros(kernel.shape[1], np.float32)
    act = layer.activation.__name__
    gemm_out = layer.name if act == "linear" else layer.name + "_gemm"
    tensor = b.node("Gemm", [b.src(src), b.const(layer.name + "_W", kernel), b.const(layer.name + "_B", bias)],
                    gemm_out)
    b.alias[layer.name] = tensor if act == "linear" else _act_node(b, act, tensor, layer.name)
