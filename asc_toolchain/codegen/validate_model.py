"""`validate --model`: the C generated from any int8 .tflite against TFLite Micro's reference
kernels on seeded random int8 inputs (the whole range, both extremes included) plus any inputs
the user gives; reports the bit-exact count and the largest difference. A float32 input (QUANTIZE
first) gets float inputs over its quantized range, halfway points and values beyond it; a float32
output (DEQUANTIZE last) is compared by its bit patterns."""

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


def random_float_inputs(shape: tuple[int, ...], samples: int, seed: int, scale: float,
                        zero_point: int) -> np.ndarray:
    """``samples`` float32 tensors for a float input quantized with ``scale``/``zero_point``:
    the two ends of the quantized range, then seeded values spanning it, a quarter of them
    exactly halfway between two quantization steps (the rounding) and an eighth beyond the
    range by up to half its width (the clamp)."""
    rng = np.random.default_rng(seed)
    lo, hi = scale * (-128 - zero_point), scale * (127 - zero_point)
    x = rng.uniform(lo, hi, (samples, *shape))
    kind = rng.random((samples, *shape))
    steps = rng.integers(-128, 127, (samples, *shape)) - zero_point + 0.5
    x = np.where(kind < 0.25, steps * scale, x)
    wide = rng.uniform(lo - (hi - lo) / 2, hi + (hi - lo) / 2, (samples, *shape))
    x = np.where(kind > 0.875, wide, x).astype(np.float32)
    x[:1] = np.float32(lo)
    x[1:2] = np.float32(hi)
    return x


def tflm_outputs_typed(tflite: bytes, x: np.ndarray, out_dtype) -> np.ndarray:
    """TFLite Micro's reference interpreter on inputs of any dtype; (n, outputs)."""
    from ..asc.quantize import tflm_runtime

    interp = tflm_runtime().Interpreter.from_bytes(bytes(tflite))
    shape = tuple(int(s) for s in interp.get_input_details(0)["shape"])
    outs = []
    for v in x.reshape((-1, *shape[1:])):
        interp.set_input(v.reshape(shape), 0)
        interp.invoke()
        outs.append(np.array(interp.get_output(0), dtype=out_dtype).reshape(-1))
    return np.stack(outs) if outs else np.zeros((0, 0), out_dtype)


def c_outputs_typed(exe: Path, x: np.ndarray, n_out: int, out_dtype) -> np.ndarray:
    from . import hostbuild

    raw = hostbuild.run_program(exe, ["net"], np.ascontiguousarray(x).tobytes())
    return np.frombuffer(raw, out_dtype).reshape(-1, n_out).copy()


def _user_inputs(path, shape, dtype=np.int8) -> np.ndarray:
    try:
        arr = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot read inputs ({exc})",
                        "give a .npy file of int8 input tensors (numpy.save)") from None
    n = int(np.prod(shape))
    if arr.dtype != dtype or arr.size % n:
        raise DataError(f"{path}: {arr.dtype} array of {arr.size} elements",
                        f"give {np.dtype(dtype).name} inputs, a multiple of {n} elements "
                        f"({'x'.join(map(str, shape))} each)")
    return arr.reshape(-1, *shape)


TARGETS = ("host", "m4", "both")


def validate_model(model_path, c_dir, samples: int = 1000, seed: int = 0, inputs=None,
                   sanitize: bool = False, on: str = "host", board=None) -> dict:
    """Build the generated C on the host (``on`` "host"), for the board's Cortex-M4 run in the
    emulated board ("m4", the runner firmware of bench/m4runner.py) or both, and compare the
    outputs with TFLite Micro's; the report dict. ``network`` holds the first target's figures,
    ``targets`` every target's."""
    from ..asc.quantize import tflm_outputs
    from .tflite_model import read_tflite

    if on not in TARGETS:
        raise ConfigError(f"unknown validation target {on!r}", f"use one of {', '.join(TARGETS)}")
    if sanitize and on == "m4":
        raise ConfigError("--sanitize applies to the host build", "drop --sanitize or use --on both")
    model_path = Path(model_path)
    if not model_path.is_file():
        raise ConfigError(f"{model_path}: no such model file", "pass the .tflite given to generate-c")
    tflite = model_path.read_bytes()
    model = read_tflite(tflite)
    name = find_network(Path(c_dir), model_hash(tflite))
    shape = tuple(model.tensor(model.inputs[0]).shape[1:])
    if _is_float(model, model.inputs[0]) or _is_float(model, model.outputs[0]):
        return _validate_float(model, tflite, model_path, c_dir, name, shape, samples, seed, inputs,
                               sanitize, on, board)
    x = random_inputs(shape, samples, seed)
    if inputs:
        x = np.concatenate([x, _user_inputs(inputs, shape)])
    ref = tflm_outputs(tflite, x)
    targets = {}
    if on in ("host", "both"):
        targets["host"] = _compare(_host_outputs(Path(c_dir), name, x, ref.shape[1], sanitize), ref)
    if on in ("m4", "both"):
        got, extra = _m4_outputs(Path(c_dir), name, x, ref.shape[1], board)
        targets["m4"] = {**_compare(got, ref), **extra}
    return {"c_dir": str(c_dir), "model": str(model_path), "name": name, "sanitizers": sanitize,
            "seed": seed, "unit": "inputs", "files": generated_files(name), "on": on,
            "network": next(iter(targets.values())), "targets": targets}


def _compare(got: np.ndarray, ref: np.ndarray) -> dict:
    exact = int(np.all(got == ref, axis=1).sum())
    return {"bit_exact": exact, "total": int(len(ref)),
            "bit_exact_pct": round(100.0 * exact / max(1, len(ref)), 3),
            "max_abs_diff": int(np.abs(got.astype(int) - ref).max(initial=0))}


def _host_outputs(c_dir: Path, name: str, x: np.ndarray, n_out: int, sanitize: bool) -> np.ndarray:
    from .validate import build_harness, c_network_outputs

    exe = build_harness(c_dir, sanitize=sanitize, name=name)
    return c_network_outputs(exe, x, n_out)


def _m4_outputs(c_dir: Path, name: str, x: np.ndarray, n_out: int, board, out_dtype=np.int8):
    """Outputs (``out_dtype``) of the runner firmware built with the C of ``c_dir`` for the board's
    M4 (-O2, the DSP paths) and run in the emulated board; and its board, ELF sizes and
    instructions."""
    import tempfile

    from ..bench import m4runner
    from ..boards import get_board
    from ..deploy.build import memory_report

    board = get_board(board)
    m4runner.check_m4_board(board)
    with tempfile.TemporaryDirectory(prefix="asc-validate-m4-") as tmp:
        elf = m4runner.build_runner(c_dir, name, Path(tmp), board)
        memory = memory_report(elf, board)
        run = m4runner.run_runner(elf, x, n_out, board, timeout_s=3600 + 2 * len(x),
                                  out_dtype=out_dtype)
    got = run["outputs"]
    if got.shape != (len(x), n_out):
        raise RunError(f"the emulated board returned {len(got)} of {len(x)} outputs",
                       "run validate again; report it if it stays")
    return got.astype(out_dtype), {
        "board": board.name, "emulator": f"QEMU {board.need('qemu').machine}, -icount shift=0",
        "elf_flash_bytes": memory["flash_bytes"], "elf_ram_bytes": memory["ram_bytes"],
        "instructions_per_inference_median": int(np.median(run["instructions"])) if run["instructions"] else None}


def _is_float(model, idx: int) -> bool:
    return model.tensor(idx).dtype is np.float32


def _validate_float(model, tflite: bytes, model_path: Path, c_dir, name: str, shape, samples: int,
                    seed: int, inputs, sanitize: bool, on: str = "host", board=None) -> dict:
    """validate_model for a network with a float32 input or output (QUANTIZE/DEQUANTIZE at the
    edges): float inputs over the input's quantized range and beyond; outputs compared by their
    bit patterns (float32) or values (int8), on the host and/or the emulated board's M4."""
    from .lower_edges import edge_quantization
    from .validate import build_harness

    in_float, out_float = _is_float(model, model.inputs[0]), _is_float(model, model.outputs[0])
    if in_float:
        q = edge_quantization(model, model.inputs[0])
        x = random_float_inputs(shape, samples, seed, float(q.scales[0]), int(q.zero_points[0]))
    else:
        x = random_inputs(shape, samples, seed)
    if inputs:
        x = np.concatenate([x, _user_inputs(inputs, shape, x.dtype.type)])
    out_dtype = np.float32 if out_float else np.int8
    ref = tflm_outputs_typed(tflite, x, out_dtype)
    targets = {}
    if on in ("host", "both"):
        exe = build_harness(Path(c_dir), sanitize=sanitize, name=name)
        targets["host"] = _compare_typed(c_outputs_typed(exe, x, ref.shape[1], out_dtype), ref)
    if on in ("m4", "both"):
        got, extra = _m4_outputs(Path(c_dir), name, x, ref.shape[1], board, out_dtype)
        targets["m4"] = {**_compare_typed(got, ref), **extra}
    return {"c_dir": str(c_dir), "model": str(model_path), "name": name, "sanitizers": sanitize,
            "seed": seed, "unit": "inputs", "files": generated_files(name), "on": on,
            "input_type": "float32" if in_float else "int8",
            "output_type": "float32" if out_float else "int8",
            "network": next(iter(targets.values())), "targets": targets}


def _compare_typed(got: np.ndarray, ref: np.ndarray) -> dict:
    """_compare for int8 or float32 outputs (float32 by bit pattern)."""
    if ref.dtype != np.float32:
        return _compare(got, ref)
    exact = int(np.all(got.view(np.uint32) == ref.view(np.uint32), axis=1).sum())
    diff = np.abs(got.astype(np.float64) - ref.astype(np.float64)).max(initial=0.0)
    return {"bit_exact": exact, "total": int(len(ref)),
            "bit_exact_pct": round(100.0 * exact / max(1, len(ref)), 3), "max_abs_diff": float(diff)}
