"""Benchmarks: figures printed beside their anchors (SPEC §9), never pass/fail timing tests.

One table (BENCHES) names each benchmark and the function that runs it; every function takes
keyword options and returns a JSON-able dict whose keys carry their unit.
"""

from __future__ import annotations

import importlib

from ..core.errors import ConfigError

# name → "module:function"; each function takes keyword options and returns a JSON-able dict.
BENCHES = {
    "features": "asc_toolchain.bench.features:bench_features",
    "codegen": "asc_toolchain.bench.codegen:bench_codegen",
    "firmware": "asc_toolchain.bench.firmware:bench_firmware",
    "ser-features": "asc_toolchain.bench.ser:bench_ser_features",
    "ser-infer": "asc_toolchain.bench.ser:bench_ser_infer",
    "train-memory": "asc_toolchain.bench.train_memory:bench_train_memory",
    "search": "asc_toolchain.bench.search:bench_search",
}


def run_bench(name: str, **options) -> dict:
    if name not in BENCHES:
        raise ConfigError(f"unknown benchmark {name!r}", f"use one of {', '.join(sorted(BENCHES))}")
    module, func = BENCHES[name].split(":")
    return {"benchmark": name, **getattr(importlib.import_module(module), func)(**options)}
