"""Recipe pieces of jetson-ser training: the loss, the learning-rate schedule, the optimizer
with a lower rate for the backbone, class-balanced batch order and SpecAugment masks.

``cfg`` is a :class:`.train.SerTrainConfig` (epochs, learning_rate, cosine, warmup, backbone_lr,
mixup, label_smoothing).
"""

from __future__ import annotations

import keras
import numpy as np


def soft_labels(cfg) -> bool:
    """True when training targets are probability vectors (mixup or label smoothing)."""
    return cfg.mixup > 0 or cfg.label_smoothing > 0


def make_loss(cfg):
    """Cross-entropy: on class indices, or on (mixed, smoothed) probability vectors."""
    if soft_labels(cfg):
        return keras.losses.CategoricalCrossentropy(label_smoothing=cfg.label_smoothing)
    return "sparse_categorical_crossentropy"


def learning_rate(cfg, steps_per_epoch: int):
    """The learning rate (a number or a schedule over optimizer steps): linear warm-up from 0 over
    ``warmup`` epochs, then cosine decay to 0 over the remaining epochs (constant without
    ``cosine``)."""
    total = max(1, cfg.epochs * steps_per_epoch)
    warm = min(cfg.warmup * steps_per_epoch, total - 1)
    if warm <= 0:
        if not cfg.cosine:
            return cfg.learning_rate
        return keras.optimizers.schedules.CosineDecay(cfg.learning_rate, total)
    return keras.optimizers.schedules.CosineDecay(0.0, total - warm, alpha=0.0 if cfg.cosine else 1.0,
                                                  warmup_target=cfg.learning_rate, warmup_steps=warm)


def make_optimizer(cfg, steps_per_epoch: int):
    """Adam at :func:`learning_rate`; with ``backbone_lr`` < 1 the backbone's steps are scaled."""
    rate = learning_rate(cfg, steps_per_epoch)
    if cfg.backbone_lr == 1.0:
        return keras.optimizers.Adam(rate)
    return BackboneScaledAdam(rate, backbone_scale=cfg.backbone_lr)


HEAD_LAYERS = ("head_", "probabilities")     # layer-name prefixes of the SER head (both backbones)


@keras.saving.register_keras_serializable(package="asc_toolchain")
class BackboneScaledAdam(keras.optimizers.Adam):
    """Adam whose learning rate is multiplied by ``backbone_scale`` for every variable outside the
    head (layers named head_* and probabilities): fine-tunes a pretrained backbone more gently
    than the freshly initialised head."""

    def __init__(self, learning_rate=0.001, backbone_scale: float = 1.0, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.backbone_scale = float(backbone_scale)

    def build(self, var_list):
        super().build(var_list)
        self._backbone = {self._var_key(v) for v in var_list if not v.path.startswith(HEAD_LAYERS)}

    def update_step(self, gradient, variable, learning_rate):
        if self._var_key(variable) in self._backbone:
            learning_rate = learning_rate * self.backbone_scale
        return super().update_step(gradient, variable, learning_rate)

    def get_config(self):
        return {**super().get_config(), "backbone_scale": self.backbone_scale}



def balanced_order(y: np.ndarray, size: int, batch_size: int, rng: np.random.Generator) -> np.ndarray:
    """``size`` window indices in batches of ``batch_size`` holding each present class
    ⌊batch/C⌋ or ⌈batch/C⌉ times (which classes get one more: rotating); within a class the
    windows come in random order, reshuffled each time all have been used."""
    classes = np.unique(y)
    pools = {c: np.flatnonzero(y == c) for c in classes}
    queues = {c: [] for c in classes}
    out, turn = [], 0
    while len(out) < size:
        n = min(batch_size, size - len(out))
        counts = np.full(len(classes), n // len(classes))
        for k in range(n % len(classes)):
            counts[(turn + k) % len(classes)] += 1
        turn += n % len(classes)
        batch = []
        for c, count in zip(classes, counts):
            while len(queues[c]) < count:
                queues[c].extend(rng.permutation(pools[c]).tolist())
            batch.extend(queues[c][:count])
            del queues[c][:count]
        out.extend(rng.permutation(batch).tolist())
    return np.asarray(out, np.int64)


def mask(x: np.ndarray, rng: np.random.Generator, max_width: int = 16, count: int = 1) -> None:
    """In place: per window ``count`` bands of frames (all channels) and ``count`` of mel rows
    (channel 0; pitch and RMS are constant along the rows), each up to ``max_width`` wide."""
    n, rows, cols, _ = x.shape
    for k in range(n):
        for _ in range(count):
            w = rng.integers(0, max_width + 1)
            t0 = rng.integers(0, cols - w + 1)
            x[k, :, t0:t0 + w, :] = 0.0
        for _ in range(count):
            h = rng.integers(0, max_width + 1)
            f0 = rng.integers(0, rows - h + 1)
            x[k, f0:f0 + h, :, 0] = 0.0
