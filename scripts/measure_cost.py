"""Measure the network instruction-cost constants (asc_toolchain/codegen/cost.py COSTS) on the
emulated Cortex-M4, and check the model against whole networks of every family.

Each case is a one-layer int8 network (random weights, converted like `asc-tool quantize` does),
generated with the builtin backend, built into the runner firmware of `bench firmware --model`
(asc_toolchain/bench/m4runner.py: -O2, the board's CPU flags) and run in QEMU with -icount shift=0 (time
follows executed instructions), so the figures are instructions per inference. Per step kind a
non-negative least-squares fit gives instructions ≈ a·MACs + b·outputs + c. Then whole networks of the model
families are measured and compared with the model's prediction.

    .venv/bin/python scripts/measure_cost.py            # prints the COSTS table and the check

Re-run it whenever the kernels change and paste the printed table into codegen/cost.py.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

# measured figures by case (steps and sizes), so that an interrupted run resumes; delete it after
# a kernel change
CACHE = Path(tempfile.gettempdir()) / "asc-cost-measured.json"


def one_layer(shape, layer):
    import keras

    inp = keras.Input(shape)
    return keras.Model(inp, layer(inp))


def cases():
    """(kind, keras model builder) per measurement."""
    import keras
    from keras import layers as L

    def conv_pool(shape, oc):
        def build():
            inp = keras.Input(shape)
            return keras.Model(inp, L.MaxPooling2D(2)(L.Conv2D(oc, 3, activation="relu")(inp)))
        return build

    def seed_pair(c1, c2):
        def build():
            inp = keras.Input((30, 32, 1))
            x = L.MaxPooling2D(2)(L.Conv2D(c1, 3, activation="relu")(inp))
            return keras.Model(inp, L.MaxPooling2D(2)(L.Conv2D(c2, 3, activation="relu")(x)))
        return build

    out = []
    for oc in (8, 16, 32):
        out.append(("conv/c1k3", conv_pool((30, 32, 1), oc)))
    for c, oc in ((8, 16), (16, 16), (16, 32)):
        out.append(("conv/generic", conv_pool((14, 15, c), oc)))
    for shape, oc, k, s in (((30, 32, 1), 8, 3, 2), ((30, 32, 1), 32, 3, 2), ((15, 16, 16), 16, 1, 1),
                            ((15, 16, 32), 32, 1, 1), ((8, 8, 16), 64, 1, 1), ((15, 16, 16), 16, 3, 1)):
        out.append(("convp", lambda shape=shape, oc=oc, k=k, s=s: one_layer(
            shape, L.Conv2D(oc, k, strides=s, padding="same", activation="relu"))))
    for shape, s in (((15, 16, 8), 1), ((15, 16, 32), 1), ((15, 16, 16), 2), ((8, 8, 64), 1)):
        out.append(("dwconv", lambda shape=shape, s=s: one_layer(
            shape, L.DepthwiseConv2D(3, strides=s, padding="same", activation="relu"))))
    for shape in ((15, 16, 8), (15, 16, 32), (8, 8, 64)):
        out.append(("add", lambda shape=shape: one_layer(
            shape, lambda x: L.Add()([x, L.DepthwiseConv2D(3, padding="same")(x)]))))
    for shape in ((8, 8, 16), (8, 8, 64), (4, 4, 128)):
        out.append(("mean", lambda shape=shape: one_layer(shape, L.GlobalAveragePooling2D())))
    for n, m in ((64, 3), (256, 9), (128, 32), (1296, 9)):
        out.append(("fc", lambda n=n, m=m: one_layer((n,), L.Dense(m, activation="relu"))))
    for n in (3, 10, 32):
        out.append(("softmax", lambda n=n: one_layer((n,), L.Softmax())))
    for c1, c2 in ((8, 8), (16, 16), (16, 32), (32, 16)):
        out.append(("conv/ring", seed_pair(c1, c2)))
    return out


def families():
    """Whole networks of the model families (the check)."""
    from asc_toolchain.asc.model import ModelSpec

    specs = [ModelSpec(filters=(8, 8)), ModelSpec(), ModelSpec(filters=(32, 32), dense_units=16)]
    for name in ("ds_cnn", "res_ds", "inverted"):
        for width, depth in ((8, 2), (16, 4), (32, 3)):
            specs.append(ModelSpec(name=name, width=width, depth=depth))
    return specs


def convert(model) -> bytes:
    from asc_toolchain.asc.quantize import convert_int8

    shape = tuple(model.inputs[0].shape[1:])
    data = np.random.default_rng(0).normal(0, 1, (32, *shape)).astype(np.float32)
    return convert_int8(model, data)


def measure(tflite: bytes, work: Path) -> int:
    """Median instructions per inference of ``tflite`` on the emulated M4 (3 random inputs)."""
    from asc_toolchain.bench import m4runner
    from asc_toolchain.codegen.network import generate_network_c
    from asc_toolchain.codegen.tflite_model import read_tflite
    from asc_toolchain.codegen.validate_model import random_inputs

    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    model = read_tflite(tflite)
    generate_network_c(tflite, work / "c", None, name="net")
    x = random_inputs(tuple(model.tensor(model.inputs[0]).shape[1:]), 3, 5)
    elf = m4runner.build_runner(work / "c", "net", work / "build")
    out_size = int(np.prod(model.tensor(model.outputs[0]).shape))
    run = m4runner.run_runner(elf, x, out_size, timeout_s=300)
    return int(np.median(run["instructions"]))


def main() -> None:
    import keras

    from scipy.optimize import nnls

    from asc_toolchain.asc.model import build_model
    from asc_toolchain.codegen import cost
    from asc_toolchain.codegen.lower import lower
    from asc_toolchain.codegen.tflite_model import read_tflite

    from asc_toolchain.core.errors import AscError

    done = json.loads(CACHE.read_text()) if CACHE.is_file() else {}
    work = Path(tempfile.mkdtemp(prefix="asc-cost-"))
    rows: dict[str, list] = {}
    try:
        for kind, build in cases():
            keras.utils.set_random_seed(0)
            tflite = convert(build())
            try:
                net = lower(read_tflite(tflite))
            except AscError as exc:
                print(f"skip a {kind} case: {exc}", file=sys.stderr)
                continue
            keys = [cost.step_key(s) for s in net.steps]
            key = str(keys) + str([cost.step_features(s) for s in net.steps])
            n = done[key] if key in done else measure(tflite, work / "case")
            done[key] = n
            CACHE.write_text(json.dumps(done))
            feats = [cost.step_features(s) for s in net.steps]
            rows.setdefault(kind, []).append((keys, feats, n))
            print(f"{kind:10s} steps {keys} macs/outputs {feats} -> {n:,} instructions", file=sys.stderr)
        table = {}
        # one-step cases first; then cases whose other steps are known (the ring consumer)
        for single in (True, False):
            for kind, pts in rows.items():
                use = []
                for keys, feats, n in pts:
                    rest = [(k, f) for k, f in zip(keys, feats) if k != kind]
                    if (len(keys) == 1) != single or any(k not in table for k, _ in rest):
                        continue
                    known = sum(table[k][0] * f[0] + table[k][1] * f[1] + table[k][2] for k, f in rest)
                    mine = [f for k, f in zip(keys, feats) if k == kind]
                    if len(mine) == 1:
                        use.append((*mine[0], n - known))
                if len(use) >= 3 and kind not in table:
                    a = np.array([[m, o, 1.0] for m, o, _ in use], float)
                    y = np.array([v for *_, v in use], float)
                    coef = nnls(a, y)[0]          # no negative cost: sane beyond the sizes measured
                    table[kind] = tuple(round(float(v), 3) for v in coef)
        print("COSTS = " + json.dumps(table, indent=4))
        cost.COSTS.update(table)
        for spec in families():
            keras.utils.set_random_seed(0)
            tflite = convert(build_model(spec))
            net = lower(read_tflite(tflite))
            got, est = measure(tflite, work / "net"), cost.network_instructions(net)
            print(f"check {spec.knobs()}: measured {got:,}, model {est:,} ({est / got - 1:+.1%})")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
