#!/usr/bin/env bash
# Set up (idempotent) and run the whole pipeline on the built-in synthetic scene set:
# synthetic data → train → evaluate. No dataset and no board needed. Output in demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
OUT=${1:-demo}
step() { echo "+ $*" >&2; "$@"; }

step asc-tool datasets synth --out "$OUT/scenes"
step asc-tool train --data "$OUT/scenes/metadata.csv" --out "$OUT/run" --epochs 12 --seed 0
step asc-tool evaluate --run "$OUT/run"
echo "plots: $OUT/run/confusion_matrix.png $OUT/run/training_curves.png" >&2
