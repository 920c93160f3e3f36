"""Training-time augmentation and the validation-UAR callback.

Gain is not offered: features are divided by each window's maximum, so a gain change leaves them
unchanged. Time shift is already in the data (a window every 512 samples). What helps is:
- specaugment: one time mask (≤ 4 columns) and one frequency mask (≤ 4 mels) per window, set to 0
  (the training mean after standardization);
- mixup: a window mixed with another window of the same class (weight 0.6–1.0 on the original).
"""

from __future__ import annotations

import sys

import keras
import numpy as np


class AugmentedBatches(keras.utils.PyDataset):
    """Shuffled batches of (x[..., None], y), augmented afresh each epoch, seeded."""

    def __init__(self, x: np.ndarray, y: np.ndarray, batch_size: int, mode: str, seed: int):
        super().__init__()
        self.x, self.y, self.batch_size, self.mode, self.seed = x, y, batch_size, mode, seed
        self.epoch = 0
        self._by_class = {c: np.flatnonzero(y == c) for c in np.unique(y)}
        self.on_epoch_end()

    def __len__(self) -> int:
        return int(np.ceil(len(self.y) / self.batch_size))

    def on_epoch_end(self) -> None:
        self.rng = np.random.default_rng([self.seed, self.epoch])
        self.order = self.rng.permutation(len(self.y))
        self.epoch += 1

    def __getitem__(self, i: int):
        idx = self.order[i * self.batch_size:(i + 1) * self.batch_size]
        x, y = self.x[idx].copy(), self.y[idx]
        rng = np.random.default_rng([self.seed, self.epoch, i])
        if self.mode in ("mixup", "both"):
            x = self._mix(x, y, rng)
        if self.mode in ("specaugment", "both"):
            _mask(x, rng)
        return x[..., None], y

    def _mix(self, x, y, rng):
        partners = np.array([rng.choice(self._by_class[c]) for c in y])
        lam = rng.uniform(0.6, 1.0, size=(len(y), 1, 1)).astype(np.float32)
        return lam * x + (1.0 - lam) * self.x[partners]


def _mask(x: np.ndarray, rng: np.random.Generator, max_width: int = 4) -> None:
    n, mels, cols = x.shape
    for k in range(n):
        w = rng.integers(0, max_width + 1)
        t0 = rng.integers(0, cols - w + 1)
        x[k, :, t0:t0 + w] = 0.0
        h = rng.integers(0, max_width + 1)
        f0 = rng.integers(0, mels - h + 1)
        x[k, f0:f0 + h, :] = 0.0


class ValidationUAR(keras.callbacks.Callback):
    """Adds val_uar (unweighted average recall) to the logs and prints one line per epoch."""

    def __init__(self, x_val: np.ndarray, y_val: np.ndarray, log=None):
        super().__init__()
        self.x_val, self.y_val = x_val, y_val
        self.log = log or (lambda m: print(m, file=sys.stderr))

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        pred = self.model.predict(self.x_val, batch_size=2048, verbose=0).argmax(axis=1)
        recalls = [np.mean(pred[self.y_val == c] == c) for c in np.unique(self.y_val)]
        logs["val_uar"] = float(np.mean(recalls))
        self.log(f"epoch {epoch + 1}: loss {logs.get('loss', 0):.4f} acc {logs.get('accuracy', 0):.3f} "
                 f"val_loss {logs.get('val_loss', 0):.4f} val_acc {logs.get('val_accuracy', 0):.3f} "
                 f"val_uar {logs['val_uar']:.3f}")
