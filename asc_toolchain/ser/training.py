"""Keras pieces for jetson-ser training: augmented batches and validation UAR per clip."""

from __future__ import annotations

import sys

import keras
import numpy as np


class Batches(keras.utils.PyDataset):
    """Shuffled NHWC batches, seeded; with ``augment`` one time mask and one mel mask per window
    (≤ 16 frames / ≤ 16 mel rows set to 0) — time shift already comes from several windows
    per utterance."""

    def __init__(self, x: np.ndarray, y: np.ndarray, batch_size: int, augment: bool, seed: int):
        super().__init__()
        self.x, self.y, self.batch_size, self.augment, self.seed = x, y, batch_size, augment, seed
        self.epoch = 0
        self.on_epoch_end()

    def __len__(self) -> int:
        return int(np.ceil(len(self.y) / self.batch_size))

    def on_epoch_end(self) -> None:
        self.order = np.random.default_rng([self.seed, self.epoch]).permutation(len(self.y))
        self.epoch += 1

    def __getitem__(self, i: int):
        idx = self.order[i * self.batch_size:(i + 1) * self.batch_size]
        x, y = self.x[idx].copy(), self.y[idx]
        if self.augment:
            mask(x, np.random.default_rng([self.seed, self.epoch, i]))
        return x, y


def mask(x: np.ndarray, rng: np.random.Generator, max_width: int = 16) -> None:
    """In place: per window one band of frames (all channels) and one of mel rows (channel 0)."""
    n, rows, cols, _ = x.shape
    for k in range(n):
        w = rng.integers(0, max_width + 1)
        t0 = rng.integers(0, cols - w + 1)
        x[k, :, t0:t0 + w, :] = 0.0
        h = rng.integers(0, max_width + 1)
        f0 = rng.integers(0, rows - h + 1)
        x[k, f0:f0 + h, :, 0] = 0.0


def clip_uar(scores: np.ndarray, y: np.ndarray, clip: np.ndarray) -> float:
    """UAR of per-clip predictions (argmax of the mean window score)."""
    clips = np.unique(clip)
    truth = np.array([y[clip == c][0] for c in clips])
    pred = np.array([scores[clip == c].mean(axis=0).argmax() for c in clips])
    return float(np.mean([np.mean(pred[truth == c] == c) for c in np.unique(truth)]))


def precise_bn(model, x: np.ndarray, batch: int = 32, max_windows: int = 512, seed: int = 0) -> None:
    """Set every batch-norm layer's moving statistics to the mean of per-batch statistics over
    (up to ``max_windows``) training windows. With few steps per epoch the moving averages lag
    far behind the weights and validation sees a different network; this pass removes the lag.
    Only the moving statistics change; weights stay as trained."""
    bns = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    if not bns:
        return
    rng = np.random.default_rng(seed)
    pick = rng.permutation(len(x))[:max_windows]
    momentum = [layer.momentum for layer in bns]
    try:
        for k, start in enumerate(range(0, len(pick), batch)):
            for layer in bns:
                layer.momentum = k / (k + 1.0)        # running mean over the batches so far
            model(x[pick[start:start + batch]], training=True)
    finally:
        for layer, m in zip(bns, momentum):
            layer.momentum = m


class ClipUAR(keras.callbacks.Callback):
    """Adds ``val_uar`` (per clip) to the logs and prints one line per epoch.

    With ``x_train`` given (few steps per epoch), batch-norm statistics are recomputed first
    (:func:`precise_bn`)."""

    def __init__(self, x_val, y_val, clip_val, log=None, x_train=None):
        super().__init__()
        self.x_val, self.y_val, self.clip_val, self.x_train = x_val, y_val, clip_val, x_train
        self.log = log or (lambda m: print(m, file=sys.stderr))

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        if self.x_train is not None:
            precise_bn(self.model, self.x_train)
        scores = self.model.predict(self.x_val, batch_size=64, verbose=0)
        if self.x_train is not None:     # Keras measured val_loss with the old statistics
            picked = scores[np.arange(len(self.y_val)), self.y_val]
            logs["val_loss"] = float(-np.mean(np.log(np.maximum(picked, 1e-12))))
        logs["val_uar"] = clip_uar(scores, self.y_val, self.clip_val)
        self.log(f"epoch {epoch + 1}: loss {logs.get('loss', 0):.4f} acc {logs.get('accuracy', 0):.3f} "
                 f"val_loss {logs.get('val_loss', 0):.4f} val_uar {logs['val_uar']:.3f}")
