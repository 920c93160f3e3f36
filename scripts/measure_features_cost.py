"""Measure the feature front end's instruction cost (asc_toolchain/codegen/cost.py
FEATURE_COSTS) on the emulated Cortex-M4 for several --n-fft / --n-mels / --columns.

Per configuration a small seed CNN is trained for one epoch on the built-in synthetic scenes
(the network does not matter here), quantized, generated, built into the real firmware and run
in QEMU by `asc-tool bench firmware`, which reports the front end's instructions per 1.024 s
(every hop's push plus each window's int8 conversion). Then per code path (the Cortex-M4
assembly laid out for n_fft 1024, the C elsewhere) a least-squares fit gives

    per 1.024 s ≈ frames · (a · n_fft·log2(n_fft) + b · n_mels + c)

with frames = 1.024 s · rate / hop (a window's int8 conversion, n_mels·n_columns elements once
per n_columns frames, is n_mels per frame too), and the fit is checked against each measurement.

    .venv/bin/python scripts/measure_features_cost.py       # prints FEATURE_COSTS and the check
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
TOOL = [str(ROOT / ".venv" / "bin" / "asc-tool")]
CACHE = Path(tempfile.gettempdir()) / "asc-features-cost.json"
CONFIGS = [  # (n_fft, n_mels, columns)
    (1024, 30, 32), (1024, 60, 32), (1024, 30, 64), (1024, 60, 16),
    (512, 30, 32), (512, 60, 32), (512, 30, 64), (2048, 30, 32), (256, 30, 32), (4096, 40, 16),
]


def measure(work: Path, n_fft: int, n_mels: int, columns: int) -> int:
    data = work / "scenes" / "metadata.csv"
    if not data.exists():
        subprocess.run(TOOL + ["datasets", "synth", "--out", str(work / "scenes")], check=True)
    run = work / f"run_{n_fft}_{n_mels}_{columns}"
    steps = [["train", "--data", str(data), "--out", str(run), "--epochs", "1", "--n-fft", str(n_fft),
              "--n-mels", str(n_mels), "--columns", str(columns), "--cache-dir", "none"],
             ["quantize", "--run", str(run)], ["generate-c", "--run", str(run)], ["build", "--run", str(run)]]
    for step in steps:
        subprocess.run(TOOL + step, check=True, stdout=subprocess.DEVNULL)
    out = subprocess.run(TOOL + ["bench", "firmware", "--run", str(run), "--json"], check=True,
                         capture_output=True, text=True).stdout
    return int(json.loads(out)["feature_instructions_per_1024_ms"])


def terms(n_fft: int, n_mels: int, columns: int, rate: int = 16000) -> np.ndarray:
    frames = 1.024 * rate / (n_fft // 2)
    return np.array([frames * n_fft * np.log2(n_fft), frames * n_mels, frames])


def main() -> None:
    measured = json.loads(CACHE.read_text()) if CACHE.exists() else {}
    with tempfile.TemporaryDirectory() as tmp:
        for cfg in CONFIGS:
            key = "_".join(map(str, cfg))
            if key not in measured:
                measured[key] = measure(Path(tmp), *cfg)
                CACHE.write_text(json.dumps(measured))
                print(f"{key}: {measured[key]:,}", file=sys.stderr, flush=True)
    costs = {}
    for path, pick in (("asm", lambda c: c[0] == 1024), ("c", lambda c: c[0] != 1024)):
        rows = [c for c in CONFIGS if pick(c)]
        a = np.array([terms(*c) for c in rows])
        y = np.array([measured["_".join(map(str, c))] for c in rows], float)
        if path == "asm":          # one FFT size: its n log n term folds into the constant
            a = a[:, 1:]
        coef, *_ = np.linalg.lstsq(a, y, rcond=None)
        if path == "asm":
            coef = np.concatenate([[0.0], coef])
        costs[path] = tuple(round(float(v), 3) for v in coef)
        for c, value in zip(rows, y):
            pred = float(terms(*c) @ np.array(costs[path]))
            print(f"{path:3s} n_fft {c[0]:5d} mels {c[1]:3d} columns {c[2]:3d}: measured {value:12,.0f} "
                  f"model {pred:12,.0f} ({pred / value - 1:+.1%})")
    print("FEATURE_COSTS = " + json.dumps(costs))


if __name__ == "__main__":
    os.environ.setdefault("CI", "")
    main()
