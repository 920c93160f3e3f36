"""Model families for n_mels×n_columns log-mel inputs; MODELS names them (with default width, depth).

Every family converts to int8 TFLite with only the generator's ops (SPEC §12): CONV_2D,
DEPTHWISE_CONV_2D, pools, MEAN, ADD, FULLY_CONNECTED, RESHAPE, SOFTMAX and fused RELU/RELU6;
batch norm sits right after a convolution so the converter folds it into the weights.
- seed_cnn: the seed (SPEC §5): Conv2D 16 3×3 relu → MaxPool 2 → Conv2D 16 3×3 relu → MaxPool 2 →
  Flatten → Dense 9 relu → Dense 3 softmax; 7,703 parameters. Knobs: --filters, --dense-units.
- ds_cnn: a 3×3 stem with stride 2, then ``depth`` depthwise-separable blocks of ``width``
  channels, global average pooling, Dense.
- res_ds: BC-ResNet / CP-Mobile spirit: a stem, then ``depth`` residual depthwise-separable
  blocks (depthwise 3×3 → BN → ReLU → pointwise → BN, + the block's input, ReLU), the width
  doubling with a strided block every second block; global pooling, Dense.
- inverted: MobileNetV2-style inverted residuals (1×1 expand ×3 → depthwise 3×3 → 1×1 project,
  ReLU6), a strided block every second block; global pooling, Dense.

Teachers (TEACHERS) only teach (``--distill``) and are never deployed or searched:
- efficientnet_lite0: EfficientNet-Lite0 from its ImageNet weights (ser/efficientnet.py); the
  standardised window is resized to TEACHER_SIDE² (bilinear), mapped to about [0, 1] (x/4 + 1/2)
  and given as the three colour channels.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelSpec:
    """Family and shape; ``width``/``depth`` None take the family's default (MODELS)."""

    filters: tuple[int, int] = (16, 16)
    dense_units: int = 9
    n_mels: int = 30
    n_columns: int = 32
    n_classes: int = 3
    name: str = "seed_cnn"
    width: int | None = None
    depth: int | None = None

    def knobs(self) -> dict:
        """What the run's manifest records about the model (besides its parameter count)."""
        if self.name == "seed_cnn":
            return {"name": self.name, "filters": list(self.filters), "dense_units": self.dense_units}
        width, depth = self.resolved()
        return {"name": self.name, "width": width, "depth": depth}

    def check_input(self) -> None:
        """ConfigError when the input (n_mels × n_columns) is too small for the family: the seed
        CNN's two unpadded 3×3 convolutions, each followed by 2×2 pooling, need 10 × 10."""
        from ..core.errors import ConfigError

        least = SEED_CNN_LEAST_INPUT if self.name == "seed_cnn" else 1
        if min(self.n_mels, self.n_columns) < least:
            raise ConfigError(f"{self.n_mels} mels x {self.n_columns} columns is too small for {self.name}: "
                              f"it needs at least {least} of each", "use more --n-mels/--columns or another --model")

    def resolved(self) -> tuple[int, int]:
        w, d = MODELS.get(self.name, (None, None))
        return self.width or w, self.depth or d


SEED_CNN_LEAST_INPUT = 10
MODELS = {"seed_cnn": (None, None), "ds_cnn": (24, 3), "res_ds": (16, 4), "inverted": (16, 4)}
TEACHERS = ("efficientnet_lite0",)
TEACHER_SIDE = 96                   # pixels: ~20 s per teacher epoch of 2,500 windows on 2 CPUs


def build_model(spec: ModelSpec = ModelSpec()):
    """The uncompiled Keras model of ``spec``'s family (input n_mels×n_columns×1)."""
    import keras

    spec.check_input()
    if spec.name == "seed_cnn":
        return build_seed_cnn(spec)
    if spec.name == "efficientnet_lite0":
        return build_imagenet_teacher(spec)
    inp = keras.Input(shape=(spec.n_mels, spec.n_columns, 1), name="logmel")
    width, depth = spec.resolved()
    x = _conv_bn(inp, width, 3, 2, "stem")
    x = {"ds_cnn": _ds_blocks, "res_ds": _res_blocks, "inverted": _inverted_blocks}[spec.name](x, width, depth)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    out = keras.layers.Dense(spec.n_classes, activation="softmax", name="scores")(x)
    return keras.Model(inp, out, name=f"asc_{spec.name}")


def build_seed_cnn(spec: ModelSpec = ModelSpec()):
    """Return the uncompiled seed CNN for ``spec`` (input H×W×1 = n_mels×n_columns×1)."""
    import keras
    from keras import layers

    model = keras.Sequential(name="asc_cnn")
    model.add(keras.Input(shape=(spec.n_mels, spec.n_columns, 1), name="logmel"))
    for i, n in enumerate(spec.filters):
        model.add(layers.Conv2D(n, 3, activation="relu", name=f"conv{i + 1}"))
        model.add(layers.MaxPooling2D(2, name=f"pool{i + 1}"))
    model.add(layers.Flatten(name="flatten"))
    model.add(layers.Dense(spec.dense_units, activation="relu", name="dense1"))
    model.add(layers.Dense(spec.n_classes, activation="softmax", name="scores"))
    return model


def build_imagenet_teacher(spec: ModelSpec):
    """EfficientNet-Lite0 with its ImageNet weights (the SER head on ``spec.n_classes``) behind
    a resize of the n_mels×n_columns×1 standardised window to TEACHER_SIDE² × 3 in about [0, 1]."""
    import keras
    from keras import layers

    from ..ser.efficientnet import build_efficientnet_lite0, load_imagenet

    backbone = build_efficientnet_lite0(spec.n_classes, input_shape=(TEACHER_SIDE, TEACHER_SIDE, 3))
    load_imagenet(backbone)
    inp = keras.Input(shape=(spec.n_mels, spec.n_columns, 1), name="logmel")
    x = layers.Resizing(TEACHER_SIDE, TEACHER_SIDE, name="to_image")(inp)
    x = layers.Rescaling(0.25, offset=0.5, name="to_unit")(x)
    x = layers.Concatenate(name="to_rgb")([x, x, x])
    return keras.Model(inp, backbone(x), name="asc_efficientnet_lite0")


def _conv_bn(x, filters: int, kernel: int, stride: int, name: str, act: str | None = "relu"):
    from keras import layers

    x = layers.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.Activation(act, name=f"{name}_{act}")(x) if act else x


def _dw_bn(x, stride: int, name: str, act: str | None = "relu"):
    from keras import layers

    x = layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False, name=f"{name}_dw")(x)
    x = layers.BatchNormalization(name=f"{name}_dwbn")(x)
    return layers.Activation(act, name=f"{name}_dw{act}")(x) if act else x


def _ds_blocks(x, width: int, depth: int):
    for i in range(depth):
        x = _dw_bn(x, 1, f"b{i}")
        x = _conv_bn(x, width, 1, 1, f"b{i}_pw")
    return x


def _res_blocks(x, width: int, depth: int):
    from keras import layers

    for i in range(depth):
        stride = 2 if i % 2 == 1 else 1
        channels = width * 2 ** ((i + 1) // 2)
        y = _dw_bn(x, stride, f"r{i}")
        y = _conv_bn(y, channels, 1, 1, f"r{i}_pw", act=None)
        if stride == 1 and channels == x.shape[-1]:
            y = layers.Add(name=f"r{i}_add")([x, y])
        x = layers.Activation("relu", name=f"r{i}_out")(y)
    return x


def _inverted_blocks(x, width: int, depth: int, expand: int = 3):
    from keras import layers

    for i in range(depth):
        stride = 2 if i % 2 == 1 else 1
        channels = width * 2 ** ((i + 1) // 2)
        y = _conv_bn(x, x.shape[-1] * expand, 1, 1, f"m{i}_exp", act="relu6")
        y = _dw_bn(y, stride, f"m{i}", act="relu6")
        y = _conv_bn(y, channels, 1, 1, f"m{i}_proj", act=None)
        x = layers.Add(name=f"m{i}_add")([x, y]) if stride == 1 and channels == x.shape[-1] else y
    return x
