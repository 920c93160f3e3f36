#!/usr/bin/env bash
# Set up (idempotent) and run the whole pipeline on the built-in synthetic scene set:
# synthetic data → train → evaluate → int8 → C (validated against TFLite Micro) → firmware ELF →
# the same ELF in QEMU's B-L475E-IOT01A, fed audio over its serial port, answers beside the host's.
# No dataset and no board needed. Output in demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
OUT=${1:-demo}
step() { echo "+ $*" >&2; "$@"; }

step asc-tool datasets synth --out "$OUT/scenes"
step asc-tool train --data "$OUT/scenes/metadata.csv" --out "$OUT/run" --epochs 12 --seed 0
step asc-tool evaluate --run "$OUT/run"
step asc-tool quantize --run "$OUT/run"
step asc-tool generate-c --run "$OUT/run" --board b-l475e-iot01a --check-ram
step asc-tool validate --run "$OUT/run"
step asc-tool build --run "$OUT/run" --board b-l475e-iot01a
CLIP=$(ls "$OUT"/scenes/vehicle/*.wav | head -1)
step asc-tool emulate --run "$OUT/run" --feed "$CLIP" --max-seconds 5
step asc-tool bench firmware --run "$OUT/run"
echo "plots: $OUT/run/confusion_matrix.png $OUT/run/training_curves.png" >&2
