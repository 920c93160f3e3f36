"""RAM and flash budget of the generated network + feature front end against a board file.

Checked before anything is compiled. Estimated RAM = network activations + the int8 input and
output tensors + the feature front end's state (``features_c.ram_bytes``) + one block of audio
samples + the firmware's own buffers + the board file's stack and heap reservations (the ones
`asc-tool build` links). Estimated flash = weights + requantization tables + network code (the
generated calls and every function of the kernel files the network's steps use:
codegen.library.network_code_bytes) + feature tables and code + the firmware's code. The RAM budget is the board's ``ram`` region
(SRAM1 on the B-L475E-IOT01A); the real figures come later from the ELF (`asc-tool build`).
"""

from __future__ import annotations

from ..asc.features import FeatureParams
from ..boards import Board
from ..core.errors import BudgetError

# Firmware outside the generated code: UART lines, JSON writer, counters (rounded up).
FIRMWARE_RAM_BYTES = 1024
# Another backend's network code (ST Edge AI Core links its own runtime library, not measured
# here): the builtin seed network's measured 3.1 kB, rounded up to whole kB.
OTHER_NETWORK_CODE_BYTES = 4 * 1024
# Startup, board layer, serial, classifier loop, libm/libc pieces (rounded up).
FIRMWARE_CODE_BYTES = 16384


def estimate(net_report: dict, params: FeatureParams | None, board: Board) -> dict:
    """RAM and flash estimates (bytes, itemized) and the board's limits; ``params`` None: the
    network alone (no feature front end, `generate-c --model`)."""
    from ..codegen import features_c
    from ..codegen.library import network_code_bytes

    ram = {"activations": int(net_report["activations_bytes"]),
           "input_output": int(net_report.get("io_bytes", 0)),
           "features": features_c.ram_bytes(params) if params else 0,
           "audio_block": 2 * params.hop_length if params else 0,
           "firmware": FIRMWARE_RAM_BYTES,
           "stack": board.need("reserve").stack,
           "heap": board.need("reserve").heap}
    flash = {"weights": int(net_report["weights_bytes"]),
             "quant_params": int(net_report.get("quant_params_bytes", 0)),
             "network_code": (network_code_bytes(layer["kind"] for layer in net_report.get("layers", []))
                              if net_report.get("backend", "builtin") == "builtin" else OTHER_NETWORK_CODE_BYTES),
             "features": features_c.flash_bytes_estimate(params) if params else 0,
             "firmware_code": FIRMWARE_CODE_BYTES}
    return {"board": board.name,
            "ram": {"items": ram, "total_bytes": sum(ram.values()), "limit_bytes": board.ram.size},
            "flash": {"items": flash, "total_bytes": sum(flash.values()),
                      "limit_bytes": board.flash.size}}


def check(net_report: dict, params: FeatureParams | None, board: Board) -> dict:
    """The estimate for ``board``; BudgetError naming the numbers when RAM or flash is over."""
    budget = estimate(net_report, params, board)
    for kind, region in (("RAM", "ram"), ("flash", "flash")):
        need, have = budget[region]["total_bytes"], budget[region]["limit_bytes"]
        if need > have:
            items = budget[region]["items"]
            biggest = max(items, key=items.get)
            raise BudgetError(
                f"model needs {need:,} B of {kind}, {board.name} has {have:,} B "
                f"({region} region), over by {need - have:,} B (largest part: {biggest} "
                f"{items[biggest]:,} B)", _hint(region, biggest))
    return budget


def _hint(region: str, biggest: str) -> str:
    if region == "ram" and biggest == "activations":
        return ("shrink the largest feature map: fewer filters in the first Conv2D "
                "(train --filters 8,16), or a max-pool right after each convolution")
    if region == "flash" or biggest == "weights":
        return "fewer weights: a smaller dense layer (train --dense-units) or fewer filters (--filters)"
    return "reduce the feature window (fewer mel bands or columns) or the stack reservation"
