"""The lowered network the C is rendered from: steps (one kernel call each) and the whole graph.

Shared by the lowering (lower.py), the kernel choice (kernels.py) and the renderer (network.py);
it imports none of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .tflite_model import Tensor


@dataclass
class Step:
    """One kernel call: ``kind`` a key of library.KERNEL_FAMILIES, reading ``src`` and writing ``dst``
    (tensor indices), with its C configuration in ``cfg``."""

    kind: str
    name: str
    src: int
    dst: int
    cfg: dict
    multiplier: list[int] = field(default_factory=list)
    shift: list[int] = field(default_factory=list)
    weights: np.ndarray | None = None   # int8, laid out as the kernel reads it
    bias: np.ndarray | None = None      # int32 with the input zero point folded in
    weights_offset: int = 0
    bias_offset: int = 0
    macc: int = 0
    inputs: list[int] = field(default_factory=list)   # every tensor read (multi-input ops)


@dataclass
class Network:
    """The lowered graph: steps, the weights blob, the arena plan and the I/O quantization."""

    steps: list[Step]
    weights_blob: bytes
    offsets: dict[int, int]          # tensor index -> arena offset (intermediates only)
    arena_bytes: int
    input: Tensor
    output: Tensor
    macc: int

    @property
    def macc_executed(self) -> int:
        return sum(s.cfg.get("macc_executed", s.macc) for s in self.steps)
