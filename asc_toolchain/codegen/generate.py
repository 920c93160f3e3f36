"""`generate-c`: a quantized run -> the network C (builtin or ST's) + the feature front end C.

Files are rendered into a temporary folder beside the output and moved in one by one, so an
interrupted generation never leaves a half-written file. With a board (or --check-ram) the RAM
and flash estimate is added; --check-ram turns an over-budget estimate into a BudgetError.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from ..core.errors import ConfigError
from ..asc.quantize import MODEL_FILE, io_quantization
from .network import generate_network_c, model_hash, remove_retired

BACKENDS = ("builtin", "stedgeai")


def generate_c(run, out_dir: str | Path | None = None, backend: str = "builtin",
               board=None, check_ram: bool = False, *,
               stedgeai_dir: str | None = None, stedgeai_args=(), executor=None) -> dict:
    """Write the C for ``run`` into ``out_dir`` (default RUN/c); return the report dict.

    With ``board`` (a Board, a name or a board file) the report gets the RAM/flash estimate for
    it; ``check_ram`` (against ``board``, or the default board) makes an over-budget estimate a
    BudgetError before any file is written."""
    if backend not in BACKENDS:
        raise ConfigError(f"unknown backend {backend!r}", f"use one of {', '.join(BACKENDS)}")
    model_path = run.file(MODEL_FILE)
    tflite = model_path.read_bytes()
    out = Path(out_dir) if out_dir else run.path / "c"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        report = _generate_into(tmp, run, model_path, tflite, backend,
                                stedgeai_dir=stedgeai_dir, stedgeai_args=stedgeai_args,
                                executor=executor)
        if board or check_ram:
            report["budget"] = _budget(report, run, board, check_ram)
        report["files"] = _move_in(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    report.update(out_dir=str(out), model=str(model_path))
    return report


def _generate_into(tmp: Path, run, model_path: Path, tflite: bytes, backend: str, **st) -> dict:
    from . import features_c

    names = run.class_names
    if backend == "builtin":
        report = generate_network_c(tflite, tmp, names, source=f"{run.path.name}/{MODEL_FILE}")
    else:
        from . import stedgeai

        report = stedgeai.generate(model_path, tmp, stedgeai_dir=st["stedgeai_dir"],
                                   extra_args=st["stedgeai_args"], executor=st["executor"])
        report["model_sha256"] = model_hash(tflite)
    q = io_quantization(tflite)
    features_c.generate_features_c(run.feature_params, run.scaler(), q["input_scale"],
                                   q["input_zero_point"], tmp, model_hash(tflite),
                                   source=f"{run.path.name}/{MODEL_FILE}")
    report.pop("files", None)
    report["quantization"] = q
    return report


def _budget(report: dict, run, board, check_ram: bool) -> dict:
    from ..boards import get_board
    from ..deploy import budget

    check = budget.check if check_ram else budget.estimate
    return check(report, run.feature_params, get_board(board))


def _move_in(tmp: Path, out: Path) -> list[str]:
    """Move every file of ``tmp`` into ``out`` (atomic per file); return the sorted paths."""
    moved = []
    for src in sorted(p for p in tmp.rglob("*") if p.is_file()):
        dst = out / src.relative_to(tmp)
        dst.parent.mkdir(parents=True, exist_ok=True)
        os.replace(src, dst)
        moved.append(str(dst))
    remove_retired(out)
    return moved


def generate_model_c(model_path: str | Path, out_dir: str | Path, name: str = "network",
                     board=None, check_ram: bool = False) -> dict:
    """Write the network C of any supported int8 .tflite into ``out_dir`` (no run needed) with
    the X-CUBE-AI legacy API named after ``name``; return the report dict (figures, the
    arena beside TFLite Micro's, the budget with a board or ``check_ram``). The model is read
    and lowered before anything is written: an unsupported op leaves no file behind."""
    from .lower import lower
    from .render import check_identifier
    from .tflite_model import read_tflite
    from .tflm_arena import tflm_arena

    check_identifier(name, "network name")
    model_path = Path(model_path)
    if not model_path.is_file():
        raise ConfigError(f"{model_path}: no such model file", "pass an int8 .tflite with --model")
    tflite = model_path.read_bytes()
    lower(read_tflite(tflite))
    out = Path(out_dir)
    report = _staged(out, lambda tmp: generate_network_c(tflite, tmp, None, name=name,
                                                         source=model_path.name), board, check_ram)
    report.update(out_dir=str(out), model=str(model_path), name=name)
    report["tflm_arena"] = tflm_arena(tflite)
    if report["tflm_arena"].get("total_bytes"):
        report["arena_vs_tflm"] = round(report["activations_bytes"]
                                        / report["tflm_arena"]["total_bytes"], 3)
    return report


def _staged(out: Path, write, board, check_ram: bool) -> dict:
    """Run ``write(tmp)`` in a temporary folder beside ``out``, check the budget, move in."""
    from ..boards import get_board
    from ..deploy import budget

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        report = write(tmp)
        if board or check_ram:
            check = budget.check if check_ram else budget.estimate
            report["budget"] = check(report, None, get_board(board))
        report["files"] = _move_in(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return report
