"""Evaluation with a choice of engine: who computes the predictions.

One table (ENGINES) names every engine, what it runs, and the function that runs it for each
target. `evaluate --engine` is a click.Choice of this table, and `check_engine` rejects an engine
a run's target has no entry for before any audio is read. stm32-asc functions take (run, items)
and return Predictions per window; jetson-ser functions take (run, windows) and return scores.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import numpy as np

from ..core.errors import ConfigError
from .metrics import Predictions, full_report

if TYPE_CHECKING:
    from ..core.runs import Run
    from ..data.datasets import Item


@dataclass(frozen=True)
class Engine:
    name: str
    summary: str
    entries: dict[str, str]         # target → "module:function"


ENGINES = {e.name: e for e in [
    Engine("keras", "the float Keras model",
           {"stm32-asc": "asc_toolchain.evaluate.engines:keras_engine",
            "jetson-ser": "asc_toolchain.ser.evaluate:keras_scores"}),
    Engine("tflite", "the int8 model on the stock TFLite interpreter",
           {"stm32-asc": "asc_toolchain.codegen.validate:tflite_engine"}),
    Engine("tflm", "the int8 model on TFLite Micro's reference kernels",
           {"stm32-asc": "asc_toolchain.codegen.validate:tflm_engine"}),
    Engine("c", "the generated C (RUN/c) compiled for this machine, from raw audio",
           {"stm32-asc": "asc_toolchain.codegen.validate:c_engine"}),
    Engine("qemu", "the built firmware (RUN/build) in the emulated board, fed over its USART",
           {"stm32-asc": "asc_toolchain.deploy.emulate:qemu_engine"}),
    Engine("onnx", "the exported ONNX model on ONNX Runtime",
           {"jetson-ser": "asc_toolchain.ser.evaluate:onnx_scores"}),
]}


def engine_help() -> str:
    """One line per engine and the targets it scores (the CLI's --engine help)."""
    return "; ".join(f"{e.name}: {e.summary} ({', '.join(e.entries)})" for e in ENGINES.values())


def check_engine(name: str, target: str) -> str:
    """The entry of ``name`` for ``target``; ConfigError (before any work) when there is none."""
    engine = ENGINES.get(name)
    if engine is None:
        raise ConfigError(f"unknown engine {name!r}", f"use one of {', '.join(ENGINES)}")
    if target not in engine.entries:
        fits = [e.name for e in ENGINES.values() if target in e.entries]
        raise ConfigError(f"engine {name!r} does not score {target} runs", f"use one of {', '.join(fits)}")
    return engine.entries[target]


def get_engine(name: str, target: str = "stm32-asc") -> Callable:
    """The function that runs engine ``name`` for ``target`` runs."""
    module, func = check_engine(name, target).split(":")
    return getattr(importlib.import_module(module), func)


def evaluate(run: Run, items: list[Item], engine: str = "keras") -> dict:
    """Predict with ``engine`` and report per window and per clip."""
    preds = get_engine(engine, run.target)(run, items)
    report = full_report(preds.y_true, preds.y_pred, preds.clip, run.class_names, preds.scores)
    report["engine"] = engine
    report["n_clips"] = int(len(np.unique(preds.clip)))
    return report


def keras_engine(run: Run, items: list[Item]) -> Predictions:
    """The float Keras model on the Python features, a batch of windows at a time."""
    from ..asc.pipeline import predict_scores, stream_index

    index = stream_index(items, run.class_names, run.feature_params,
                         run.manifest.get("training", {}).get("max_seconds"), desc="keras")
    model = run.load_keras()
    scores = predict_scores(model, index, run.scaler())
    return Predictions(index.y, scores.argmax(axis=1), index.clip, scores)
