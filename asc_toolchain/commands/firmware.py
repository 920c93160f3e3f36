"""Firmware commands: `build` (ELF/BIN/HEX + memory report) and `emulate` (the ELF in QEMU)."""

from __future__ import annotations

import click

from ..core.config import Finite, board_option
from .output import emit as _emit
from .output import err as _err


@click.command()
@click.option("--run", "run_dir", required=True, type=click.Path(), help="Run directory with generated C (RUN/c).")
@board_option
@click.option("--build-dir", type=click.Path(), help="CMake build folder [default: RUN/build].")
@click.option("--c-dir", type=click.Path(), help="Generated C folder [default: RUN/c].")
@click.option("--stack-size", type=click.IntRange(1024),
              help="Stack reservation in bytes, counted in the RAM budget [default: the board file's reserve.stack].")
@click.option("--jobs", default=2, show_default=True, type=click.IntRange(1), help="Parallel compile jobs.")
@click.option("--json", "as_json", is_flag=True, help="Print the memory report as JSON on stdout.")
def build(run_dir, board, build_dir, c_dir, stack_size, jobs, as_json):
    """Build the board firmware (ELF, BIN, HEX) and report RAM and flash against the board."""
    from ..deploy.build import build as run_build

    report = run_build(run_dir, board, build_dir, c_dir, stack_size=stack_size, jobs=jobs, echo=_err)
    _emit(report, as_json, _print_build)


def _print_build(r: dict) -> None:
    _err(f"built {r['elf']} (+ .bin, .hex) for {r['board']}")
    for name, size in r["sections"].items():
        _err(f"  {name:12s} {size:9,d} B")
    _err(f"  flash {r['flash_bytes']:,} B of {r['flash_size_bytes']:,} B ({r['flash_pct']} %)")
    _err(f"  RAM   {r['ram_bytes']:,} B of {r['ram_size_bytes']:,} B ({r['ram_pct']} %), "
         f"stack reservation {r['stack_reserved_bytes']:,} B included; SRAM2 {r['sram2_bytes']:,} B")


@click.command()
@click.option("--elf", type=click.Path(), help="Firmware ELF [default: RUN/build/asc_fw.elf with --run].")
@click.option("--feed", "audio", required=True, multiple=True, type=click.Path(),
              help="Audio file streamed into the board through the host feed (repeatable).")
@click.option("--run", "run_dir", type=click.Path(),
              help="Run directory: also compute the host C engine's answers (RUN/c) and print them beside the board's.")
@board_option
@click.option("--sample-rate", type=click.IntRange(1),
              help="Rate the audio is resampled to [default: the run's, else the one in the firmware's boot line].")
@click.option("--max-seconds", type=Finite(0, min_open=True), help="Feed at most this much of each file.")
@click.option("--timeout", "timeout_s", default=600.0, show_default=True, type=Finite(1),
              help="Wall-clock limit for the whole emulation (QEMU is killed after it).")
@click.option("--json", "as_json", is_flag=True, help="Print the result lines and figures as JSON on stdout.")
def emulate(elf, audio, run_dir, board, sample_rate, max_seconds, timeout_s, as_json):
    """Run the firmware ELF in QEMU's emulated board, feed audio over its USART, print its results."""
    import time

    from ..deploy.emulate import compare_with_host, emulate as run_emulate, load_clips
    from ..core.errors import ConfigError

    deadline = time.monotonic() + timeout_s           # the limit covers reading the audio too
    run = None
    if run_dir:
        from ..deploy.build import default_elf
        from ..asc.run import open_asc_run

        run = open_asc_run(run_dir)
        elf = elf or str(default_elf(run))
        sample_rate = sample_rate or run.feature_params.sample_rate
    if not elf:
        raise ConfigError("no firmware given", "pass --elf FILE or --run RUN (uses RUN/build/asc_fw.elf)")
    # the audio is read while QEMU runs, clip by clip, inside --timeout; without a run or
    # --sample-rate at the rate the firmware's boot line names
    def clips(boot):
        return load_clips(list(audio), sample_rate or boot["sample_rate"], max_seconds, deadline, timeout_s)

    report = run_emulate(elf, clips, board, max(0.1, deadline - time.monotonic()))
    if run is not None:
        compare_with_host(report, load_clips(list(audio), sample_rate, max_seconds), run)
    _emit(report, as_json, _print_emulate)


def _print_emulate(r: dict) -> None:
    boot = r["boot"]
    _err(f"board {boot['board']}  model {boot['model'][:12]}  classes {', '.join(boot['classes'])}")
    for clip in r["clips"]:
        _err(f"{clip['name']}: {clip['windows']} windows")
        host = clip.get("host_labels")
        for k, (label, smoothed) in enumerate(zip(clip["labels"], clip["smoothed"])):
            beside = f"  host {host[k]:10s}" if host and k < len(host) else ""
            _err(f"  window {k:3d}  board {label:10s} smoothed {smoothed:10s}{beside}")
    if "agreement" in r:
        a = r["agreement"]
        _err(f"board = host on {a['labels_equal']} of {a['windows']} windows ({a['labels_equal_pct']} %), "
             f"int8 scores equal on {a['scores_equal']}")
    if r["windows"]:
        _err(f"instructions per inference {r['instructions_per_inference']:,}, features per 1.024 s "
             f"{r['feature_instructions_per_1024_ms']:,}, stack high-water {r['stack_high_water_bytes']} B")
    else:
        _err("no window classified: a window needs 16,896 samples (1.056 s at 16 kHz)")


commands = [build, emulate]
