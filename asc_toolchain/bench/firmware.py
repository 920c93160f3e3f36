"""`asc-tool bench firmware`: ELF sections, RAM/flash against the board, and instruction counts
of the firmware running in the emulated board (QEMU -icount: SysTick follows instructions).

Instruction counts come from the firmware's own result lines (cycles on its counter) converted
with its boot-line calibration loop; figures are medians over the windows fed. The audio is fed
at the sample rate the firmware's boot line names.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..boards import Board, get_board
from ..deploy.build import ELF_NAME, memory_report
from ..core.errors import ConfigError
from ..deploy.serial.hostfeed import to_int16

GOALS = {"instructions_per_inference": 600_000, "feature_instructions_per_1024_ms": 1_000_000,
         "ram_bytes": 40 * 1024, "flash_bytes": 48 * 1024}


def _elf_for(run: str | None, elf: str | None, board: Board) -> Path:
    if elf:
        return Path(elf)
    if not run:
        raise ConfigError("bench firmware needs --run RUN (or an ELF)", "pass the run you built with `asc-tool build`")
    path = Path(run) / "build" / ELF_NAME
    if not path.is_file():
        from ..deploy.build import build

        build(run, board)
    return path


def _bench_pcm(audio: str | None, seconds: float, sample_rate: int) -> tuple[str, np.ndarray]:
    if audio:
        from ..data.audio import load_audio

        return str(audio), to_int16(load_audio(audio, sample_rate, seconds))
    rng = np.random.default_rng(0)                      # seeded pink-ish noise: no file needed
    noise = np.cumsum(rng.standard_normal(int(seconds * sample_rate))) * 0.002
    return "seeded noise", to_int16(np.clip(noise - noise.mean(), -1, 1) * 0.5)


def bench_firmware(run: str | None = None, elf: str | None = None, audio: str | None = None,
                   seconds: float = 4.2, board: Board | str | None = None, **_) -> dict:
    """Sections, RAM/flash and instructions per inference / per 1.024 s of features, on ``board``
    (None: the default board)."""
    from ..deploy.emulate import emulate

    board = get_board(board)
    path = _elf_for(run, elf, board)
    memory = memory_report(path, board)
    report = emulate(path, lambda boot: [_bench_pcm(audio, seconds, boot["sample_rate"])], board,
                     timeout_s=300)
    figures = {
        "elf": str(path), "audio": report["clips"][0]["name"], "windows": report["windows"],
        **{k: memory[k] for k in ("sections", "ram_bytes", "ram_size_bytes", "flash_bytes",
                                  "flash_size_bytes", "sram2_bytes")},
        "instructions_per_inference": report["instructions_per_inference"],
        "feature_instructions_per_1024_ms": report["feature_instructions_per_1024_ms"],
        "stack_high_water_bytes": report["stack_high_water_bytes"],
        "counter": report["boot"].get("counter"),
        "sysclk_hz": report["boot"].get("sysclk_hz"),
    }
    figures["goals"] = {k: {"goal": v, "value": figures[k],
                            "met": figures[k] is not None and figures[k] <= v} for k, v in GOALS.items()}
    return figures
