"""Training the stm32-asc model: data → leak-free split → features → scaler → CNN → run dir."""

from __future__ import annotations

import datetime as _dt
import sys
from pathlib import Path

import numpy as np

from .. import __version__
from ..data.datasets import data_hash, load_items
from .features import SEED_PARAMS, Scaler
from ..data.labelmaps import load_label_map
from ..evaluate.metrics import full_report
from .model import ModelSpec, build_seed_cnn
from .windows import WindowSet, window_features
from ..core.runs import run_bytes, run_destination, write_outputs, write_run
from ..data.split import split_by_group

SILENCE_RULE = ("a window whose maximum mel power is 0 is all -80 dB; an element whose mel power is 0 "
                "is -80 dB")


def parse_filters(text: str) -> tuple[int, ...]:
    from ..core.errors import ConfigError

    try:
        filters = tuple(int(v) for v in str(text).split(","))
    except ValueError:
        filters = ()
    if len(filters) != 2 or min(filters) < 1:
        raise ConfigError(f"--filters {text!r}: expected two positive counts like 16,16",
                          "the seed model has two Conv2D layers")
    return filters


def train_asc(data, out, cfg: dict, root=None, skip_bad: bool = False, test_fold=None,
              log=lambda msg: print(msg, file=sys.stderr)) -> tuple[Path, dict]:
    """Train on ``data`` and write the run directory ``out`` (checked before any work, written
    atomically at the end: core.outdir); returns (path, test metrics)."""
    dest = run_destination(out)
    label_map = load_label_map(cfg["label_map"])
    skipped: list = []
    items = load_items(data, root, label_map, skip_bad, skipped)
    splits = split_by_group(items, cfg["seed"], cfg["test_fraction"], cfg["val_fraction"], test_fold,
                            classes=label_map.classes, where=data)
    log(f"{len(items)} recordings in {len(set(i.group for i in items))} groups; "
        + ", ".join(f"{s} {splits.count(s)}" for s in ("train", "val", "test")))
    classes = list(label_map.classes)
    sets = {name: window_features([it for it, s in zip(items, splits) if s == name], classes, SEED_PARAMS,
                                  None, cfg["max_seconds"], skip_bad, skipped, desc=name)
            for name in ("train", "val", "test")}
    scaler = Scaler.fit(sets["train"].x)
    for ws in sets.values():
        ws.x = scaler.transform(ws.x)
    log("windows: " + ", ".join(f"{k} {len(v)}" for k, v in sets.items()))
    spec = ModelSpec(filters=parse_filters(cfg["filters"]), dense_units=cfg["dense_units"],
                     n_classes=len(classes))
    model, history = fit_model(spec, sets["train"], sets["val"], cfg, log)
    reports = {k: _report(model, sets[k], classes) for k in ("val", "test")}
    manifest = _manifest(data, root, cfg, classes, label_map, spec, model, test_fold)
    with write_run(dest, needed=run_bytes(model.count_params())) as tmp:
        scaler.save(tmp / "scaler.npz")
        write_outputs(tmp, model, list(zip(items, splits)), reports, history, manifest, skipped,
                      "test split (keras, float)")
    return Path(out), {"test": reports["test"], "val": reports["val"], "skipped": skipped}


def fit_model(spec: ModelSpec, train: WindowSet, val: WindowSet, cfg: dict, log):
    """Compile and fit with early stopping on validation UAR; the best epoch's weights are kept."""
    import keras
    import tensorflow as tf

    from .augment import AugmentedBatches, ValidationUAR

    keras.utils.set_random_seed(cfg["seed"])
    tf.config.experimental.enable_op_determinism()
    model = build_seed_cnn(spec)
    model.compile(optimizer=_optimizer(cfg), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    batches = AugmentedBatches(train.x, train.y, cfg["batch_size"], cfg["augment"], cfg["seed"])
    callbacks = [ValidationUAR(val.x[..., None], val.y, log),
                 keras.callbacks.EarlyStopping(monitor="val_uar", mode="max", patience=cfg["patience"],
                                               restore_best_weights=True)]
    weights = _class_weights(train.y, spec.n_classes) if cfg["class_weights"] else None
    fit = model.fit(batches, epochs=cfg["epochs"], validation_data=(val.x[..., None], val.y),
                    class_weight=weights, callbacks=callbacks, verbose=0)
    history = {k: [float(v) for v in vals] for k, vals in fit.history.items()}
    return model, history


def _optimizer(cfg: dict):
    import keras

    if cfg["optimizer"] == "sgd":
        return keras.optimizers.SGD(learning_rate=cfg["learning_rate"] or 0.01, momentum=0.9, nesterov=True)
    return keras.optimizers.Adam(learning_rate=cfg["learning_rate"] or 0.001)


def _class_weights(y: np.ndarray, n_classes: int) -> dict:
    counts = np.bincount(y, minlength=n_classes).astype(float)
    present = counts > 0
    w = np.where(present, len(y) / (present.sum() * np.maximum(counts, 1)), 0.0)
    return {i: float(v) for i, v in enumerate(w)}


def _report(model, ws: WindowSet, classes) -> dict:
    scores = model.predict(ws.x[..., None], batch_size=1024, verbose=0)
    report = full_report(ws.y, scores.argmax(axis=1), ws.clip, classes, scores)
    report["n_clips"] = len(ws.items)
    return report


def _manifest(data, root, cfg, classes, label_map, spec, model, test_fold) -> dict:
    return {
        "target": "stm32-asc",
        "tool_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "seed": cfg["seed"],
        "data": {"source": str(Path(data).resolve()), "root": str(Path(root).resolve()) if root else None,
                 "sha256": data_hash(data)},
        "features": SEED_PARAMS.to_dict() | {"window_samples": SEED_PARAMS.window_samples,
                                             "silence_rule": SILENCE_RULE},
        "class_names": classes,
        "label_map": label_map.to_dict(),
        "model": {"name": "seed_cnn", "filters": list(spec.filters), "dense_units": spec.dense_units,
                  "parameters": int(model.count_params())},
        "training": {k: cfg[k] for k in ("epochs", "batch_size", "optimizer", "learning_rate", "patience",
                                         "max_seconds", "class_weights", "augment", "test_fraction",
                                         "val_fraction")} | {"test_fold": test_fold},
    }
