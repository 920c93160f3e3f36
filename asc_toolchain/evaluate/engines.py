"""Evaluation with a choice of engine: who computes the predictions.

Engines register themselves with @register_engine(name); each takes (run, items) and returns
Predictions per window. `keras` (the float model) lives here; the int8 engines (tflite, tflm, c)
and the emulated board (qemu) register from their own modules.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..data.datasets import Item
from ..core.errors import ConfigError
from .metrics import full_report
from ..core.runs import Run

ENGINES: dict[str, Callable] = {}
# Modules that register further engines when imported (lazily, so `keras` needs nothing else).
ENGINE_MODULES = {
    "tflite": "asc_toolchain.codegen.validate",
    "tflm": "asc_toolchain.codegen.validate",
    "c": "asc_toolchain.codegen.validate",
    "qemu": "asc_toolchain.deploy.emulate",
}


@dataclass
class Predictions:
    y_true: np.ndarray
    y_pred: np.ndarray
    clip: np.ndarray
    scores: np.ndarray | None = None


def register_engine(name: str):
    def deco(func):
        ENGINES[name] = func
        return func
    return deco


def engine_names() -> list[str]:
    return sorted(set(ENGINES) | set(ENGINE_MODULES))


def get_engine(name: str) -> Callable:
    if name not in ENGINES and name in ENGINE_MODULES:
        importlib.import_module(ENGINE_MODULES[name])
    if name not in ENGINES:
        raise ConfigError(f"unknown engine {name!r}", f"use one of {', '.join(engine_names())}")
    return ENGINES[name]


def evaluate(run: Run, items: list[Item], engine: str = "keras") -> dict:
    """Predict with ``engine`` and report per window and per clip."""
    preds = get_engine(engine)(run, items)
    report = full_report(preds.y_true, preds.y_pred, preds.clip, run.class_names, preds.scores)
    report["engine"] = engine
    report["n_clips"] = int(len(np.unique(preds.clip)))
    return report


@register_engine("keras")
def keras_engine(run: Run, items: list[Item]) -> Predictions:
    from ..asc.windows import window_features

    ws = window_features(items, run.class_names, run.feature_params, run.scaler(),
                         max_seconds=run.manifest.get("training", {}).get("max_seconds"),
                         desc="keras")
    model = run.load_keras()
    scores = model.predict(ws.x[..., None], batch_size=1024, verbose=0)
    return Predictions(ws.y, scores.argmax(axis=1), ws.clip, scores)
