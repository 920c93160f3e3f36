"""`validate --model`: the C generated from any int8 .tflite against TFLite Micro's reference
kernels on seeded random int8 inputs (the whole range, both extremes included) plus any inputs
the user gives; reports the bit-exact count and the largest difference."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..core.errors import ConfigError, DataError, RunError
from .network import generated_files, model_hash, network_files


def find_network(c_dir: Path, digest: str) -> str:
    """The network name of the generated folder ``c_dir`` made from the model with ``digest``;
    RunError when there is none, or it was generated from another model."""
    c_dir = Path(c_dir)
    names = sorted(p.name[:-len("_data.c")] for p in c_dir.glob("*_data.c"))
    for name in names:
        head = (c_dir / f"{name}.c").read_text("utf-8", "replace")[:400] if (c_dir / f"{name}.c").is_file() else ""
        if digest in head:
            missing = [f for f in network_files(name) if not (c_dir / f).is_file()]
            if missing:
                raise RunError(f"{c_dir}: missing generated C ({', '.join(missing)})",
                               "run `asc-tool generate-c --model FILE --out DIR` again")
            return name
    what = f"networks {', '.join(names)} come from another model" if names else "no generated network"
    raise RunError(f"{c_dir}: {what} (model sha256 {digest[:12]}…)",
                   f"run `asc-tool generate-c --model FILE --out {c_dir}` first")


def random_inputs(shape: tuple[int, ...], samples: int, seed: int) -> np.ndarray:
    """``samples`` int8 tensors: all -128, all 127, then seeded uniform over [-128, 127]."""
    rng = np.random.default_rng(seed)
    x = rng.integers(-128, 128, (samples, *shape)).astype(np.int8)
    x[:1] = -128
    x[1:2] = 127
    return x


def _user_inputs(path, shape) -> np.ndarray:
    try:
        arr = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot read inputs ({exc})",
                        "give a .npy file of int8 input tensors (numpy.save)") from None
    n = int(np.prod(shape))
    if arr.dtype != np.int8 or arr.size % n:
        raise DataError(f"{path}: {arr.dtype} array of {arr.size} elements",
                        f"give int8 inputs, a multiple of {n} elements ({'x'.join(map(str, shape))} each)")
    return arr.reshape(-1, *shape)


def validate_model(model_path, c_dir, samples: int = 1000, seed: int = 0, inputs=None,
                   sanitize: bool = False) -> dict:
    """Build the generated C on the host and compare it with TFLite Micro; the report dict."""
    from ..asc.quantize import tflm_outputs
    from .tflite_model import read_tflite
    from .validate import build_harness, c_network_outputs

    model_path = Path(model_path)
    if not model_path.is_file():
        raise ConfigError(f"{model_path}: no such model file", "pass the .tflite given to generate-c")
    tflite = model_path.read_bytes()
    model = read_tflite(tflite)
    name = find_network(Path(c_dir), model_hash(tflite))
    shape = tuple(model.tensor(model.inputs[0]).shape[1:])
    x = random_inputs(shape, samples, seed)
    if inputs:
        x = np.concatenate([x, _user_inputs(inputs, shape)])
    ref = tflm_outputs(tflite, x)
    exe = build_harness(Path(c_dir), sanitize=sanitize, name=name)
    got = c_network_outputs(exe, x, ref.shape[1])
    exact = int(np.all(got == ref, axis=1).sum())
    return {"c_dir": str(c_dir), "model": str(model_path), "name": name, "sanitizers": sanitize,
            "seed": seed, "unit": "inputs", "files": generated_files(name),
            "network": {"bit_exact": exact, "total": int(len(x)),
                        "bit_exact_pct": round(100.0 * exact / max(1, len(x)), 3),
                        "max_abs_diff": int(np.abs(got.astype(int) - ref).max(initial=0))}}
