"""What `asc-tool search` (asc/search.py) searches and how it prices a candidate before training:
the space, the budget (board RAM/flash tightened by the options, the real-time load), and
``estimate``: the untrained model converted to int8, lowered by the generator, checked with
deploy.budget and codegen.cost."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import sys
import tempfile

import numpy as np

from ..core.errors import ConfigError
from .features import SEED_PARAMS, FeatureParams
from .model import ModelSpec

WIDTHS = (8, 12, 16, 24, 32, 48)
DEPTHS = (1, 2, 3, 4, 5, 6)
LR_RANGE = (3e-4, 3e-3)
UNPRICED = 2 ** 31                 # RAM / instructions of a candidate the generator cannot lower
SCORE_LEVEL = "clip_mean"          # clip UAR by mean probability per clip
COLUMNS = ("trial", "status", "family", "width", "depth", "learning_rate", "feasible", "reason",
           "inner_clip_uar", "inner_clip_uar_sd", "inner_window_uar", "val_uar", "epochs_trained", "ram_bytes",
           "flash_bytes", "weights_bytes", "activations_bytes", "macc", "instructions", "load",
           "node_id", "seconds")


@dataclasses.dataclass(frozen=True)
class Budget:
    """The limits every candidate must meet (bytes, fraction of real time) on ``board``."""

    board: object
    ram_bytes: int
    flash_bytes: int
    max_load: float
    features: FeatureParams = SEED_PARAMS

    @property
    def clock_hz(self) -> int:
        return self.board.need("cpu").max_clock_hz

    def network_instructions_max(self) -> int:
        """Most network instructions per window that keep features + network within max_load."""
        from ..codegen import cost

        return cost.instructions_budget(self.max_load, self.clock_hz, *cost.feature_window(self.features))

    def load(self, network_instructions: int) -> float:
        from ..codegen import cost

        return cost.load(network_instructions, self.clock_hz, *cost.feature_window(self.features))

    def to_dict(self) -> dict:
        from ..codegen import cost

        instructions, seconds = cost.feature_window(self.features)
        return {"board": self.board.name, "ram_bytes": self.ram_bytes, "flash_bytes": self.flash_bytes,
                "max_load": self.max_load, "clock_hz": self.clock_hz,
                "network_instructions_max": self.network_instructions_max(),
                "feature_instructions_per_window": instructions, "window_hop_s": seconds,
                "features": self.features.to_dict()}


def make_budget(board, max_ram=None, max_flash=None, max_load: float = 0.25,
                features: FeatureParams = SEED_PARAMS) -> Budget:
    """The board's RAM/flash, tightened by the options, for the log-mel ``features`` the
    candidates are trained on; ConfigError for values that make no sense."""
    from ..boards import get_board

    board = get_board(board)
    for name, value in (("--max-ram", max_ram), ("--max-flash", max_flash)):
        if value is not None and value <= 0:
            raise ConfigError(f"{name} {value}: must be a positive number of bytes", "e.g. --max-ram 65536")
    if not (isinstance(max_load, (int, float)) and 0 < max_load <= 1):
        raise ConfigError(f"--max-load {max_load}: must be a fraction of real time in (0, 1]",
                          "e.g. --max-load 0.25 (features + network use a quarter of each second)")
    ram = min(board.ram.size, max_ram) if max_ram else board.ram.size
    flash = min(board.flash.size, max_flash) if max_flash else board.flash.size
    budget = Budget(board, int(ram), int(flash), float(max_load), features)
    if budget.network_instructions_max() <= 0:
        raise ConfigError(f"--max-load {max_load}: the feature front end alone needs "
                          f"{budget.load(0):.1%} of real time on {board.name}",
                          "allow a larger --max-load")
    return budget


def candidate_cfg(cfg: dict, config: dict) -> dict:
    """The training options of one candidate: ``cfg`` with the searched values put in."""
    out = dict(cfg)
    family, width = config["family"], int(config["width"])
    out["model"] = family
    out["learning_rate"] = float(config["learning_rate"]) if config.get("learning_rate") else cfg["learning_rate"]
    if family == "seed_cnn":
        out["filters"], out["width"], out["depth"] = f"{width},{width}", None, None
    else:
        out["width"], out["depth"] = width, int(config["depth"])
    return out


CALIBRATION_GAINS = (1.0, 1e3, 1e6)     # input scales tried when pricing an untrained candidate


def estimate(spec: ModelSpec, budget: Budget, seed: int = 0) -> dict:
    """RAM, flash, instructions and load of ``spec`` built untrained and converted to int8, and
    whether it fits ``budget`` (``reason`` says why not)."""
    from ..codegen import cost
    from ..codegen.lower import lower
    from ..codegen.network import network_report
    from ..codegen.tflite_model import read_tflite
    from ..core.errors import AscError
    from ..deploy import budget as budget_mod
    from .model import build_model
    from .quantize import convert_int8

    import keras

    try:
        spec.check_input()
    except AscError as exc:
        return {"feasible": False, "reason": exc.message}
    keras.utils.set_random_seed(seed)
    model = build_model(spec)
    shape = (16, spec.n_mels, spec.n_columns, 1)
    calibration = np.random.default_rng(seed).normal(0, 1, shape).astype(np.float32)
    # An untrained deep net can shrink its input to logits too small for an int8 softmax; what
    # is priced (shapes, ops, sizes) does not depend on the values, so calibrate louder then.
    for gain in CALIBRATION_GAINS:
        with _quiet():
            tflite = convert_int8(model, calibration * np.float32(gain))
        try:
            net = lower(read_tflite(tflite))
            break
        except AscError as exc:
            failure = exc.message
    else:
        return {"feasible": False, "reason": f"not generated: {failure}"}
    report = network_report(net)
    b = budget_mod.estimate(report, budget.features, budget.board)
    instr = cost.network_instructions(net)
    row = {"ram_bytes": b["ram"]["total_bytes"], "flash_bytes": b["flash"]["total_bytes"],
           "weights_bytes": report["weights_bytes"], "activations_bytes": report["activations_bytes"],
           "macc": report["macc_executed"], "instructions": instr,
           "load": round(budget.load(instr), 5)}
    reasons = []
    if row["ram_bytes"] > budget.ram_bytes:
        reasons.append(f"RAM {row['ram_bytes']:,} B > {budget.ram_bytes:,} B")
    if row["flash_bytes"] > budget.flash_bytes:
        reasons.append(f"flash {row['flash_bytes']:,} B > {budget.flash_bytes:,} B")
    if row["load"] > budget.max_load:
        reasons.append(f"load {row['load']:.1%} > {budget.max_load:.0%} of real time")
    return row | {"feasible": not reasons, "reason": "; ".join(reasons)}


@contextlib.contextmanager
def _quiet():
    """The converter's progress text (Python and C++, descriptors 1 and 2) kept off the terminal;
    shown if the conversion fails."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with tempfile.TemporaryFile() as sink, contextlib.redirect_stdout(io.StringIO()) as text, \
            contextlib.redirect_stderr(text):
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        failed = True
        try:
            yield
            failed = False
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            if failed:
                sink.seek(0)
                os.write(2, sink.read() + text.getvalue().encode())
