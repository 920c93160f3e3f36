"""`asc-tool bench firmware`: ELF sections, RAM/flash against the board, and instruction counts
of the firmware running in the emulated board (QEMU -icount: SysTick follows instructions).

``--run``: instruction counts come from the firmware's own result lines (cycles on its counter)
converted with its boot-line calibration loop; figures are medians over the windows fed. The
audio is fed at the sample rate the firmware's boot line names.

``--model FILE.tflite`` (``profile_model``): the network alone in a runner firmware
(bench/m4runner.py), built for the board's M4 and run in the emulated board. Instructions per
inference by SysTick (median over a few seeded inputs, resolution stated in the report) and, from
one traced inference (QEMU's execution log), the exact instructions of every layer with their
class mix and the ESTIMATED Cortex-M4 cycles of the timing model in bench/m4timing.py (its
docstring states the model and its assumptions); the same per function of the ELF (the costliest
FUNCTIONS_SHOWN), flash-cache waits included, which is where a kernel's time goes. Figures are printed beside the goals of the
MLPerf Tiny models and X-CUBE-AI's published cycles (read from
../shared/models/mlperf-tiny/README.md when present, else PUBLISHED below).
"""

from __future__ import annotations

import bisect
from pathlib import Path

import numpy as np

from ..boards import Board, get_board
from ..deploy.build import ELF_NAME, memory_report
from ..core.errors import ConfigError, RunError
from ..deploy.serial.hostfeed import to_int16

# Goals of the whole firmware: features + network within a quarter of real time at the board's
# clock (the search's default --max-load), the front end within 1 M instructions per 1.024 s, and
# at most 40 KiB of SRAM1's 96 KiB. Any model can be held to them, whatever its window.
GOALS = {"load": 0.25, "feature_instructions_per_1024_ms": 1_000_000, "ram_bytes": 40 * 1024}
# What the seed's firmware (30 mels x 32 columns, 7,703 parameters) measured, for comparison:
# `asc-tool train … --columns 32`, quantize, build, `asc-tool bench firmware --run RUN`.
SEED_ANCHORS = {"instructions_per_inference": 578_086, "flash_bytes": 43_408, "ram_bytes": 23_512}


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
                   seconds: float = 4.2, board: Board | str | None = None, model: str | None = None,
                   plot: str | None = None, **_) -> dict:
    """Sections, RAM/flash and instructions per inference / per 1.024 s of features, on ``board``
    (None: the default board); with ``model``, the per-layer profile of that network alone."""
    from ..deploy.emulate import emulate

    if model:
        if run or elf:
            raise ConfigError("bench firmware takes --run or --model, not both",
                              "--model profiles the network alone; --run the whole firmware")
        return profile_model(model, board, plot=plot)
    if plot:
        raise ConfigError("--plot goes with --model", "bench firmware --model FILE.tflite --plot PNG")
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
    figures["load"] = _load(report["boot"], figures)
    figures["goals"] = {k: {"goal": v, "value": figures[k],
                            "met": figures[k] is not None and figures[k] <= v} for k, v in GOALS.items()}
    figures["anchors"] = {"seed_firmware": SEED_ANCHORS}
    return figures


def _load(boot: dict, figures: dict) -> float | None:
    """Fraction of real time at the firmware's clock: the front end's instructions per second of
    audio plus one inference per window of ``columns`` new columns (both from the boot line)."""
    network, features = figures["instructions_per_inference"], figures["feature_instructions_per_1024_ms"]
    if None in (network, features) or not all(boot.get(k) for k in ("columns", "hop", "sample_rate", "sysclk_hz")):
        return None
    window_s = boot["columns"] * boot["hop"] / boot["sample_rate"]
    return round((features / 1.024 + network / window_s) / boot["sysclk_hz"], 4)


# --- bench firmware --model: the network alone, profiled per layer ---------------------------

# Goals of the three MLPerf Tiny reference models: instructions per inference in the emulated board.
MODEL_GOALS = {"KWS": 3_600_000, "ResNet-8": 13_900_000, "AD": 440_000}
# The reference models by file name and by sha256 (first and last hex digits).
MLPERF_MODELS = {"kws_ref_model": ("KWS", "aeea4368", "0bd0ae"),
                 "pretrainedResnet_quant": ("ResNet-8", "3c002613", "205415"),
                 "ad01_int8": ("AD", "87cf2419", "c9ba24")}
# X-CUBE-AI 10.2 on the NUCLEO-L4R5ZI (Cortex-M4F at 120 MHz), MLPerf Tiny inference results v1.3
# (STMicroelectronics' submission), cycles = latency in ms x 120,000. Used when the shared
# README with the full table is not there.
PUBLISHED = {"source": "MLPerf Tiny v1.3 results, X-CUBE-AI 10.2, NUCLEO-L4R5ZI (Cortex-M4F, 120 MHz)",
             "cycles": {"KWS": 5_210_000, "ResNet-8": 19_880_000, "AD": 570_000}}
SHARED_README = Path(__file__).resolve().parents[3] / "shared" / "models" / "mlperf-tiny" / "README.md"
PROFILE_SAMPLES = 3
FUNCTIONS_SHOWN = 15       # the costliest functions of the traced inference, in the report


def _mlperf_name(model_path: Path, digest: str) -> str | None:
    for stem, (label, head, tail) in MLPERF_MODELS.items():
        if model_path.stem == stem or (digest.startswith(head) and digest.endswith(tail)):
            return label
    return None


def _figure(cell: str) -> float | None:
    """'43.42 ms = 5.21 M' → 5.21e6; '7,696,415' → 7696415."""
    import re

    m = re.search(r"=\s*([\d.]+)\s*M\b", cell)
    if m:
        return float(m.group(1)) * 1e6
    m = re.fullmatch(r"\s*([\d,]+)\s*", cell)
    return float(m.group(1).replace(",", "")) if m else None


def published_anchors(label: str, readme: Path = SHARED_README) -> dict:
    """X-CUBE-AI cycles (every version in the README's table) and TFLite Micro + CMSIS-NN
    instructions in the emulated board for the MLPerf Tiny model ``label``."""
    found: dict = {}
    if readme.is_file():
        header: list[str] = []
        for line in readme.read_text("utf-8", "replace").splitlines():
            if not line.startswith("|"):
                header = []
                continue
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if not header:
                header = cells
                continue
            if cells[0] != label:
                continue
            for col, cell in zip(header[1:], cells[1:]):
                value = _figure(cell)
                if value is None:
                    continue
                if "X-CUBE-AI" in col:
                    found.setdefault("xcubeai_cycles", {})[col] = int(value)
                elif "instructions" in col:
                    found["tflm_cmsis_nn_instructions"] = int(value)
        if found:
            found["source"] = str(readme)
    if "xcubeai_cycles" not in found:
        found["xcubeai_cycles"] = {"X-CUBE-AI 10.2 (v1.3)": PUBLISHED["cycles"][label]}
        found["source"] = PUBLISHED["source"]
    return found


def _edge_inputs(x: np.ndarray, tensor, io: dict) -> np.ndarray:
    """The int8 inputs ``x`` in the network's input type: dequantized for a float32 edge."""
    if np.dtype(tensor.dtype) != np.float32:
        return x
    scale = io.get("scale", float(tensor.scales[0]) if len(tensor.scales) else 1.0)
    zero_point = io.get("zero_point", int(tensor.zero_points[0]) if len(tensor.zero_points) else 0)
    return ((x.astype(np.float32) - zero_point) * scale).astype(np.float32)


def _symbols(elf: Path) -> dict[str, tuple[int, int]]:
    from elftools.elf.elffile import ELFFile
    from elftools.elf.sections import SymbolTableSection

    out = {}
    with open(elf, "rb") as f:
        for section in ELFFile(f).iter_sections():
            if isinstance(section, SymbolTableSection):
                for sym in section.iter_symbols():
                    if sym["st_info"]["type"] == "STT_FUNC":
                        out[sym.name] = (sym["st_value"] & ~1, sym["st_size"])
    return out


def _trace(elf: Path, x: np.ndarray, board: Board, run_dir: Path) -> dict:
    """Per-layer instructions and estimated cycles of one traced inference of ``elf``."""
    from . import m4runner, m4timing

    syms = _symbols(elf)
    need = ("asc_runner_window_begin", "asc_runner_window_end", "asc_profile_begin", "asc_profile_end")
    if any(n not in syms for n in need):
        raise RunError(f"{elf}: the runner lacks its profiling symbols", "build it again")
    skip = [(a, a + max(s, 2)) for n, (a, s) in syms.items()
            if n in need or n in ("ticks", "asc_runner_systick")]
    clock = board.need("cpu").max_clock_hz
    counter = m4timing.TraceCounter((syms[need[0]][0], syms[need[1]][0]),
                                    (syms[need[2]][0], syms[need[3]][0]), skip,
                                    m4timing.wait_states(clock))
    m4runner.write_inputs(run_dir, x[-1:])          # a seeded random input (x[0], x[1]: extremes)
    argv = m4runner.qemu_argv(elf, board, trace_log=Path("LOG"))
    code, stdout, stderr = m4timing.trace_run(argv, run_dir, counter, argv.index("LOG"))
    if code != 0:
        raise RunError(f"QEMU stopped with exit code {code} while tracing: "
                       f"{(stderr.strip().splitlines() or ['no message'])[-1][:200]}",
                       "check `asc-tool doctor` (QEMU ≥ 9.1 with the board's machine)")
    result = counter.result()
    starts = sorted((a, n) for n, (a, _) in syms.items())
    addresses = [a for a, _ in starts]

    def name_of(pc: int) -> str:
        i = bisect.bisect_right(addresses, pc) - 1
        return starts[i][1] if i >= 0 else "?"

    result["functions"] = counter.total.by_function(counter.blocks, counter.ws, name_of)
    if result["windows"] != 1:
        raise RunError(f"the trace holds {result['windows']} inferences, not 1", "run the profile again")
    result["clock_hz"] = clock
    result["flash_wait_states"] = m4timing.wait_states(clock)
    return result


def profile_model(model: str | Path, board: Board | str | None = None, samples: int = PROFILE_SAMPLES,
                  plot: str | Path | None = None, work_dir: str | Path | None = None) -> dict:
    """`bench firmware --model`: build the runner firmware with the network of ``model`` alone
    for ``board``, run it in the emulated board; the profile dict (see the module docstring)."""
    import tempfile

    from . import m4runner, m4timing
    from ..codegen.lower import lower
    from ..codegen.network import _describe, generate_network_c, model_hash
    from ..codegen.tflite_model import read_tflite
    from ..codegen.validate_model import random_inputs

    model = Path(model)
    if not model.is_file():
        raise ConfigError(f"{model}: no such model file", "pass an int8 .tflite with --model")
    board = get_board(board)
    m4runner.check_m4_board(board)
    tflite = model.read_bytes()
    tf_model = read_tflite(tflite)
    net = lower(tf_model)
    digest = model_hash(tflite)
    hooked = [i for i, s in enumerate(net.steps) if not (s.kind == "conv" and s.cfg.get("ring_in"))]
    with tempfile.TemporaryDirectory(prefix="asc-profile-", dir=work_dir) as tmp:
        tmp = Path(tmp)
        c_dir = tmp / "c"
        gen = generate_network_c(tflite, c_dir, None, name="network", source=model.name)
        plain = m4runner.build_runner(c_dir, "network", tmp / "plain", board, layers=len(net.steps))
        prof = m4runner.build_runner(c_dir, "network", tmp / "profile", board, profile=True,
                                     layers=len(net.steps))
        memory = memory_report(plain, board)
        x = _edge_inputs(random_inputs(tuple(net.input.shape[1:]), max(1, samples), 0), net.input,
                         gen.get("input", {}))
        out_size = int(np.prod(net.output.shape))
        timed = m4runner.run_runner(plain, x, out_size, board, run_dir=tmp / "plain",
                                    out_dtype=np.dtype(net.output.dtype))
        trace = _trace(prof, x, board, tmp / "profile")
    if trace["total"]["instructions"] < 0.5 * min(timed["instructions"]):
        raise RunError(f"the execution trace holds {trace['total']['instructions']:,} instructions where "
                       f"SysTick counted {min(timed['instructions']):,}: this QEMU logs no disassembly",
                       "use a QEMU built with its disassembler (Debian's qemu-system-arm ≥ 9.1)")
    if len(trace["layers"]) != len(hooked):
        raise RunError(f"the trace shows {len(trace['layers'])} layers, the network has {len(hooked)}",
                       "generate the network again")
    by_step = dict(zip(hooked, trace["layers"]))
    layers = []
    for i, s in enumerate(net.steps):
        t = by_step.get(i)
        macs = int(s.macc)
        row = {"index": i, "name": s.name, "op": s.kind, "summary": _describe(s),
               "output_shape": [int(d) for d in tf_model.tensor(s.dst).shape],
               "macs": macs, "instructions": t["instructions"] if t else None,
               "estimated_cycles": t["estimated_cycles"] if t else None}
        if t:
            fused = net.steps[i + 1:i + 2] if i + 1 not in by_step else []     # its ring partner
            if fused:
                row["includes"] = [f.name for f in fused]
                macs += sum(int(f.macc) for f in fused)
            row["instructions_per_mac"] = round(t["instructions"] / macs, 3) if macs else None
            row["estimated_cycles_per_mac"] = round(t["estimated_cycles"] / macs, 3) if macs else None
            row["estimated_flash_wait_cycles"] = t["estimated_flash_wait_cycles"]
            row["instruction_classes"] = t["instruction_classes"]
        else:
            row["note"] = f"runs inside {net.steps[i - 1].name} (row by row): counted there"
        layers.append(row)
    total = trace["total"]
    systick = timed["instructions"]
    figures = {
        "model": str(model), "model_sha256": digest, "board": board.name,
        "emulator": f"QEMU {board.need('qemu').machine}, -icount shift=0",
        "instructions_per_inference": total["instructions"],
        "instructions_per_inference_systick": int(np.median(systick)),
        "systick_resolution_instructions": timed["instruction_resolution"],
        "inferences_timed": len(systick),
        "traced_input": "the last of the seeded inputs (seed 0)",
        "estimated_cycles_per_inference": total["estimated_cycles"],
        "estimated_cycles_core": total["estimated_cycles_core"],
        "estimated_flash_wait_cycles": total["estimated_flash_wait_cycles"],
        "estimated_ms_at_clock": round(1000.0 * total["estimated_cycles"] / trace["clock_hz"], 3),
        "clock_hz": trace["clock_hz"], "flash_wait_states": trace["flash_wait_states"],
        "cycles_are": "an estimate: the timing model of asc_toolchain/bench/m4timing.py applied to "
                      "the executed instructions (Cortex-M4 TRM cycle counts, flash wait states assumed)",
        "timing_model": m4timing.model_summary(trace["flash_wait_states"]),
        "instruction_classes": total["instruction_classes"],
        "taken_branches": total["taken_branches"],
        "macs": int(net.macc),
        "instructions_per_mac": round(total["instructions"] / net.macc, 3) if net.macc else None,
        "layers_instructions_sum": sum(r["instructions"] or 0 for r in layers),
        "weights_bytes": gen["weights_bytes"], "arena_bytes": gen["activations_bytes"],
        "elf_flash_bytes": memory["flash_bytes"], "elf_ram_bytes": memory["ram_bytes"],
        "flash_size_bytes": memory["flash_size_bytes"], "ram_size_bytes": memory["ram_size_bytes"],
        "fits": memory["flash_bytes"] <= memory["flash_size_bytes"]
                and memory["ram_bytes"] <= memory["ram_size_bytes"],
        "layers": layers,
        "functions": trace["functions"][:FUNCTIONS_SHOWN],
    }
    label = _mlperf_name(model, digest)
    if label:
        anchors = published_anchors(label)
        xc = anchors["xcubeai_cycles"]
        latest = list(xc.values())[-1]
        goal = MODEL_GOALS[label]
        figures["mlperf_model"] = label
        figures["anchors"] = anchors
        figures["goals"] = {
            "instructions_per_inference": {"goal": goal, "value": total["instructions"],
                                           "met": total["instructions"] <= goal},
            "instructions_vs_0.7x_xcubeai_cycles": {"goal": int(0.7 * latest), "value": total["instructions"],
                                                    "met": total["instructions"] <= 0.7 * latest},
            "estimated_cycles_below_xcubeai": {"goal": latest, "value": total["estimated_cycles"],
                                               "met": total["estimated_cycles"] < latest},
        }
    if plot:
        from ..core.plots import plot_layer_profile

        shown = [r for r in layers if r["instructions"] is not None]
        figures["plot"] = str(plot_layer_profile(
            shown, Path(plot), f"{model.name} on {board.name} (emulated)\n{total['instructions']:,} "
                               f"instructions, ~{total['estimated_cycles']:,} cycles (estimate)"))
    return figures


def print_profile(r: dict, echo) -> None:
    """The profile as a table for people (the --json form carries every figure)."""
    echo(f"{r['model']} on {r['board']} ({r['emulator']})")
    echo(f"  instructions per inference {r['instructions_per_inference']:,} (traced; SysTick "
         f"{r['instructions_per_inference_systick']:,} ±{r['systick_resolution_instructions']}), "
         f"{r['instructions_per_mac']} per MAC")
    echo(f"  estimated Cortex-M4 cycles {r['estimated_cycles_per_inference']:,} (estimate: "
         f"{r['flash_wait_states']} flash wait states at {r['clock_hz'] / 1e6:g} MHz, "
         f"~{r['estimated_ms_at_clock']} ms)")
    echo(f"  weights {r['weights_bytes']:,} B, arena {r['arena_bytes']:,} B; ELF flash "
         f"{r['elf_flash_bytes']:,} / {r['flash_size_bytes']:,} B, RAM {r['elf_ram_bytes']:,} / "
         f"{r['ram_size_bytes']:,} B")
    echo(f"  {'layer':<14}{'op':<8}{'output':<14}{'MACs':>11}{'instr.':>12}{'instr/MAC':>10}"
         f"{'~cycles':>12}")
    for x in r["layers"]:
        shape = "x".join(map(str, x["output_shape"]))
        ins = f"{x['instructions']:,}" if x["instructions"] is not None else "(fused)"
        cyc = f"{x['estimated_cycles']:,}" if x["estimated_cycles"] is not None else ""
        ipm = x.get("instructions_per_mac")
        echo(f"  {x['name']:<14}{x['op']:<8}{shape:<14}{x['macs']:>11,}{ins:>12}"
             f"{(f'{ipm:.2f}' if ipm is not None else ''):>10}{cyc:>12}")
    echo(f"  {'function':<26}{'instr.':>12}{'~cycles':>12}{'~flash waits':>14}")
    for f in r.get("functions", [])[:10]:
        echo(f"  {f['function'][:25]:<26}{f['instructions']:>12,}{f['estimated_cycles']:>12,}"
             f"{f['estimated_flash_wait_cycles']:>14,}")
    for key, g in r.get("goals", {}).items():
        echo(f"  {key}: {g['value']:,} vs {g['goal']:,} → {'met' if g['met'] else 'not met'}")
    for version, cycles in r.get("anchors", {}).get("xcubeai_cycles", {}).items():
        echo(f"  anchor {version}: {cycles:,} cycles (published)")
    if "tflm_cmsis_nn_instructions" in r.get("anchors", {}):
        echo(f"  anchor TFLite Micro + CMSIS-NN: {r['anchors']['tflm_cmsis_nn_instructions']:,} "
             f"instructions (same emulated board)")
    if r.get("plot"):
        echo(f"  plot: {r['plot']}")
