"""`bench train-memory`: peak RSS of training on 1×, 4× and 16× the shared recordings.

Each size trains in a fresh Python process (peak RSS is per process): the shared list repeated
``factor`` times, one epoch, the feature cache in a temporary folder. Windows are cut in the
input pipeline from per-recording columns, so the peak should stay nearly flat; the figure the
old design would have needed (every window materialised) is printed beside it. Copies of a
recording share its columns (same content, same cache key): what grows with the factor is the
per-window index (start, class, clip: 24 B per window) and the batches, not the features.
"""

from __future__ import annotations

import json
import sys
import tempfile

from ..core.executor import Executor
from ..core.locate import shared_data

FACTORS = (1, 4, 16)
CHILD = "from asc_toolchain.bench.train_memory import child; child()"
# The floor under every row: what `import tensorflow` alone holds (the goal of 500 MB is for
# everything else; TensorFlow's own footprint is printed beside it).
IMPORT_ONLY = ("import json, os, resource; os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3'); "
               "import tensorflow; print(json.dumps({'peak_rss_mb': round("
               "resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))")


def bench_train_memory(factors=FACTORS, max_seconds: float | None = 10.0, **_) -> dict:
    """{factor: peak RSS in MB, windows, materialised-window MB} for each factor, one epoch."""
    meta = shared_data() / "asc" / "metadata.csv"
    rows = []
    with tempfile.TemporaryDirectory(prefix="asc-tool-bench-") as tmp:
        for factor in factors:
            args = json.dumps({"meta": str(meta), "root": str(meta.parent.parent), "factor": factor,
                               "max_seconds": max_seconds, "tmp": tmp})
            out = Executor().run([sys.executable, "-c", CHILD, args], timeout=3600).stdout
            rows.append(json.loads(out.decode().strip().splitlines()[-1]))
    first = rows[0]["peak_rss_mb"]
    floor = json.loads(Executor().run([sys.executable, "-c", IMPORT_ONLY], timeout=600).stdout.decode()
                       .strip().splitlines()[-1])
    return {"data": str(meta), "max_seconds_per_recording": max_seconds, "epochs": 1, "sizes": rows,
            "peak_rss_growth_ratio_16x_vs_1x": round(rows[-1]["peak_rss_mb"] / first, 3),
            "tensorflow_import_only_peak_rss_mb": floor["peak_rss_mb"],
            "goal_peak_rss_mb": 500}


def child() -> None:
    """One measurement (in its own process): train on the list repeated, print a JSON line."""
    import os
    import resource

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    args = json.loads(sys.argv[1])
    windows = _train_repeated(args)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"factor": args["factor"], "windows": windows, "peak_rss_mb": round(peak_kb / 1024, 1),
                      "materialised_windows_mb": round(windows * 30 * 32 * 4 / 2**20, 1)}))


def _train_repeated(args: dict) -> int:
    """Train one epoch on the shared list repeated ``factor`` times; returns how many windows."""
    from pathlib import Path

    from ..asc.pipeline import WindowIndex
    from ..asc.train import feature_cache, train_run
    from ..core.config import OPTIONS
    from ..core.runs import run_destination
    from ..data.datasets import load_items
    from ..data.labelmaps import load_label_map
    from ..data.split import split_by_group

    cfg = {name: o.default for name, o in OPTIONS.items()} | {
        "epochs": 1, "max_seconds": args["max_seconds"], "cache_dir": str(Path(args["tmp"]) / "cache")}
    label_map = load_label_map(None)
    items = load_items(args["meta"], args["root"], label_map) * args["factor"]
    splits = split_by_group(items, 0, 0.2, 0.15, "1", classes=label_map.classes)
    index = WindowIndex.build(items, list(label_map.classes), feature_cache(cfg), desc="columns")
    dest = run_destination(Path(args["tmp"]) / f"run-{args['factor']}")
    train_run(dest, index, items, splits, cfg, {"data": args["meta"], "root": args["root"],
                                                "label_map": label_map, "test_fold": "1"}, [], lambda m: None)
    return len(index)
