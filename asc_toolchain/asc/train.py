"""Training the stm32-asc model: data → leak-free split → features → scaler → CNN → run dir."""

from __future__ import annotations

import datetime as _dt
import logging
import sys
from pathlib import Path

import numpy as np

from .. import __version__
from ..data.datasets import data_hash, load_items
from .features import FeatureParams
from ..data.labelmaps import load_label_map
from ..evaluate.metrics import full_report
from ..core.errors import DataError
from .cache import FeatureCache, default_cache_dir
from .model import ModelSpec, build_model
from .pipeline import WindowBatches, WindowIndex, fit_scaler, predict_scores
from ..core.runs import run_bytes, run_destination, write_outputs, write_run
from ..data.split import split_by_group

SPLITS = ("train", "val", "test")
RECIPE_KEYS = ("freq_mixstyle", "eq_db", "time_roll", "reverb", "window_stride", "distill", "teacher",
               "distill_alpha", "distill_temperature")
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
    check_options(cfg)
    label_map = load_label_map(cfg["label_map"])
    skipped: list = []
    items = load_items(data, root, label_map, skip_bad, skipped)
    splits = split_by_group(items, cfg["seed"], cfg["test_fraction"], cfg["val_fraction"], test_fold,
                            classes=label_map.classes, where=data)
    log(f"{len(items)} recordings in {len(set(i.group for i in items))} groups; "
        + ", ".join(f"{s} {splits.count(s)}" for s in SPLITS))
    index = WindowIndex.build(items, list(label_map.classes), feature_cache(cfg), skip_bad, skipped)
    context = {"data": data, "root": root, "label_map": label_map, "test_fold": test_fold}
    result = train_run(dest, index, items, splits, cfg, context, skipped, log)
    return Path(out), {"test": result["test"], "val": result["val"], "skipped": skipped}


def check_options(cfg: dict) -> None:
    """ConfigError for feature, model and distillation options that cannot work, before any work."""
    from .distill import check_options as check_distill, teacher_cfg

    model_spec(cfg, 1).check_input()
    check_distill(cfg, feature_params(cfg))
    if cfg.get("distill"):
        model_spec(teacher_cfg(cfg), 1).check_input()


def feature_params(cfg: dict) -> FeatureParams:
    """The log-mel parameters of ``cfg`` (--n-mels, --columns, --n-fft; the hop is n_fft / 2),
    checked against what the C front end supports before any work (ConfigError: one line)."""
    from ..codegen.features_c import check_params

    from ..core.config import OPTIONS

    value = {name: int(cfg.get(name) or OPTIONS[name].default) for name in ("n_fft", "n_mels", "columns")}
    params = FeatureParams(n_fft=value["n_fft"], hop_length=value["n_fft"] // 2, n_mels=value["n_mels"],
                           n_columns=value["columns"])
    check_params(params)
    return params


def feature_cache(cfg: dict) -> FeatureCache:
    """The feature cache of ``cfg`` (--cache-dir; 'none' keeps columns in this process only)."""
    folder = cfg.get("cache_dir")
    if folder is None:
        folder = default_cache_dir()
    elif str(folder).lower() == "none":
        folder = None
    return FeatureCache(feature_params(cfg), cfg["max_seconds"], folder, cfg.get("extract_workers"))


def train_run(dest, index: WindowIndex, items: list, splits: list, cfg: dict, context: dict,
              skipped: list, log) -> dict:
    """Fit on the 'train' items of ``index`` (``splits`` gives each item's split), keep the
    best epoch on 'val', score 'val' and 'test', and write the run directory ``dest``.
    Returns the reports and the test windows' scores (with their index) for pooling."""
    classes = list(context["label_map"].classes)
    sets = thinned({name: index.subset([s == name for s in splits]) for name in SPLITS}, cfg)
    for name, ws in sets.items():
        if len(ws) == 0:
            raise DataError(f"no recording of the {name} split yielded a window",
                            "check the data list or drop --skip-bad to see why")
    scaler = fit_scaler(sets["train"])
    log("windows: " + ", ".join(f"{k} {len(v)}" for k, v in sets.items()))
    teacher, teacher_test = _teacher(sets, scaler, classes, cfg, log)
    spec = model_spec(cfg, len(classes))
    model, history = fit_model(spec, sets["train"], sets["val"], scaler, cfg, log, teacher=teacher)
    scores = {k: predict_scores(model, sets[k], scaler) for k in ("val", "test")}
    reports = {k: _report(sets[k], scores[k], classes) for k in ("val", "test")}
    manifest = _manifest(context, cfg, classes, spec, model)
    with write_run(dest, needed=run_bytes(model.count_params())) as tmp:
        scaler.save(tmp / "scaler.npz")
        write_outputs(tmp, model, list(zip(items, splits)), reports, history, manifest, skipped,
                      "test split (keras, float)")
    return {"test": reports["test"], "val": reports["val"], "scores": scores["test"], "index": sets["test"],
            "teacher_test": teacher_test}


def thinned(sets: dict, cfg: dict) -> dict:
    """``sets`` with its 'train' and 'val' windows strided by --window-stride; 'test' keeps every window."""
    step = int(cfg.get("window_stride") or 1)
    return sets | {name: sets[name].strided(step) for name in ("train", "val")}


def _teacher(sets: dict, scaler, classes: list, cfg: dict, log):
    """(model, gain, bias) of the distillation teacher (None without one) and, for a teacher
    trained here (--distill), its report on the test split."""
    from .distill import load_teacher, teacher_cfg

    if cfg.get("teacher"):
        return load_teacher(cfg["teacher"], classes, feature_params(cfg), scaler), None
    if not cfg.get("distill"):
        return None, None
    tcfg = teacher_cfg(cfg)
    spec = model_spec(tcfg, len(classes))
    log(f"teacher {cfg['distill']}: training")
    model, _ = fit_model(spec, sets["train"], sets["val"], scaler, tcfg, log)
    report = _report(sets["test"], predict_scores(model, sets["test"], scaler), classes)
    log(f"teacher {cfg['distill']}: {model.count_params():,} parameters, test window UAR "
        f"{report['window']['uar']:.1%}, clip UAR {report['clip_mean']['uar']:.1%}")
    return (model, None, None), report


def model_spec(cfg: dict, n_classes: int) -> ModelSpec:
    """The ModelSpec of the options: --model, --width, --depth (--filters, --dense-units for seed_cnn)."""
    params = feature_params(cfg)
    return ModelSpec(filters=parse_filters(cfg["filters"]), dense_units=cfg["dense_units"], n_classes=n_classes,
                     name=cfg.get("model") or "seed_cnn", width=cfg.get("width"), depth=cfg.get("depth"),
                     n_mels=params.n_mels, n_columns=params.n_columns)


def fit_model(spec: ModelSpec, train: WindowIndex, val: WindowIndex, scaler, cfg: dict, log, extra_callbacks=(),
              teacher=None):
    """Compile and fit with early stopping on validation UAR; the best epoch's weights are kept.
    Windows are cut batch by batch from the columns (pipeline), never all held at once. With
    ``teacher`` = (model, gain, bias) the loss also follows the teacher's scores (asc/distill.py);
    the student alone is returned."""
    import keras
    import tensorflow as tf

    from .augment import AugmentedBatches, Recipe, ValidationUAR

    keras.utils.set_random_seed(cfg["seed"])
    tf.config.experimental.enable_op_determinism()
    if not logging.getLogger().isEnabledFor(logging.INFO):
        tf.get_logger().setLevel(logging.ERROR)     # retracing notices when one process trains several models
    model = build_model(spec)
    trained = model
    if teacher is not None:
        from .distill import Distiller

        trained = Distiller(model, *teacher[:1], cfg["distill_alpha"], cfg["distill_temperature"], *teacher[1:])
    trained.compile(optimizer=_optimizer(cfg), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    batches = AugmentedBatches(train, scaler, cfg["batch_size"], Recipe.from_cfg(cfg), cfg["seed"])
    val_batches = WindowBatches(val, scaler, 2048)
    callbacks = [ValidationUAR(val_batches, val.y, log),
                 keras.callbacks.EarlyStopping(monitor="val_uar", mode="max", patience=cfg["patience"],
                                               restore_best_weights=True), *extra_callbacks]
    weights = _class_weights(train.y, spec.n_classes) if cfg["class_weights"] else None
    fit = trained.fit(batches, epochs=cfg["epochs"], validation_data=val_batches,
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


def _report(index: WindowIndex, scores: np.ndarray, classes) -> dict:
    report = full_report(index.y, scores.argmax(axis=1), index.clip, classes, scores)
    report["n_clips"] = len(index.items)
    return report


def _manifest(context: dict, cfg: dict, classes, spec: ModelSpec, model) -> dict:
    data, root, label_map = context["data"], context["root"], context["label_map"]
    params = feature_params(cfg)
    return {
        "target": "stm32-asc",
        "tool_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "seed": cfg["seed"],
        "data": {"source": str(Path(data).resolve()), "root": str(Path(root).resolve()) if root else None,
                 "sha256": data_hash(data)},
        "features": params.to_dict() | {"window_samples": params.window_samples, "silence_rule": SILENCE_RULE},
        "class_names": classes,
        "label_map": label_map.to_dict(),
        "model": spec.knobs() | {"parameters": int(model.count_params())},
        "training": {k: cfg[k] for k in ("epochs", "batch_size", "optimizer", "learning_rate", "patience",
                                         "max_seconds", "class_weights", "augment", "test_fraction",
                                         "val_fraction")}
                    | {k: cfg.get(k) for k in RECIPE_KEYS} | {"test_fold": context["test_fold"]},
    }
