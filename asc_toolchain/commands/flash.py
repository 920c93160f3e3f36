"""Flash and monitor commands: `asc-tool flash` and `asc-tool monitor serial`."""

from __future__ import annotations

import json

import click

from ..core import config as cfgmod
from ..core.config import board_option
from ..deploy.runners import OPTIONS, RUNNERS
from .output import emit as _emit
from .output import err as _err


@click.command()
@board_option
@click.option("--runner", type=click.Choice(sorted(RUNNERS)), help="Flash tool [default: the board's first].")
@click.option("--elf", type=click.Path(dir_okay=False), help="Firmware ELF (a .bin beside it is made when needed).")
@click.option("--run", "run_dir", type=click.Path(file_okay=False), help="Run directory: flash RUN/build/asc_fw.elf, built first (C included) when missing or outdated.")
@click.option("--action", type=click.Choice(["flash", "erase", "reset"]), default="flash", show_default=True,
              help="What to do (not every runner can erase or reset).")
@click.option("--dry-run", is_flag=True, help="Print the commands instead of running them.")
@click.option("--list", "list_runners", is_flag=True, help="List the board's runners, what they can do and their tools.")
@click.option("--json", "as_json", is_flag=True, help="Print what was done as JSON on stdout.")
@cfgmod.cli_options(*OPTIONS, table=OPTIONS)
def flash(board, runner, elf, run_dir, action, dry_run, list_runners, as_json, **options):
    """Put the firmware on the board with a flash runner (stlink, openocd, cubeprogrammer, pyocd,
    mass-storage, gdb) or start the emulated board (qemu)."""
    from ..deploy.runners import describe_runners, flash as run_flash

    if list_runners:
        rows = describe_runners(board)
        if as_json:
            click.echo(json.dumps({"board": board, "runners": rows}, indent=2))
        else:
            _print_runners(rows)
        return
    report = run_flash(board, runner, elf, run_dir, action, dry_run, options, echo=_err)
    if as_json:
        click.echo(json.dumps(report, indent=2))


def _print_runners(rows: list[dict]) -> None:
    for r in rows:
        tool = "(no tool)" if not r["tool"] else r["tool_path"] or f"{r['tool']} MISSING: {r['install']}"
        _err(f"{r['runner']:<15}{'default' if r['default'] else '':<8} {', '.join(r['commands']):<20} {tool}")
        _err(f"{'':<24}options: {', '.join(OPTIONS[o].flag for o in r['options'])}")


@click.group()
def monitor():
    """Watch a board's serial output."""


MONITOR_OPTIONS = ("port", "baud", "feed", "max_seconds", "log", "count", "duration", "reconnect_timeout")


@monitor.command("serial")
@board_option
@cfgmod.cli_options(*MONITOR_OPTIONS)
@click.option("--run", "run_dir", type=click.Path(file_okay=False),
              help="With --feed: the run whose generated C gives the host's predictions to compare with.")
@click.option("--list", "list_ports", is_flag=True, help="List the serial ports and exit.")
@click.option("--quiet", is_flag=True, help="No live view.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON on stdout.")
@click.pass_obj
def serial(obj, board, run_dir, list_ports, quiet, as_json, **options):
    """Show the firmware's classifications live; log them; with --feed, test it with known audio."""
    from ..deploy.serial.monitor import PortLost, monitor_serial
    from ..deploy.serial.port import list_ports as ports

    if list_ports:
        found = ports()
        if as_json:
            click.echo(json.dumps({"ports": [p.__dict__ for p in found]}, indent=2))
        for p in found if not as_json else []:
            _err(p.describe())
        return
    s = cfgmod.values(cfgmod.resolve(options, (obj or {}).get("config_path")))
    try:
        summary = monitor_serial(port=s["port"], baud=s["baud"], board=board, audio=list(s["feed"] or ()),
                                 run_dir=run_dir, max_seconds=s["max_seconds"], log_path=s["log"],
                                 count=s["count"], duration_s=s["duration"], give_up_s=s["reconnect_timeout"],
                                 echo=_err, live=not quiet)
    except PortLost as lost:            # what arrived before the port went is still reported
        _emit(lost.summary, as_json, _print_summary)
        raise
    _emit(summary, as_json, _print_summary)


def _print_summary(s: dict) -> None:
    _err(f"{s['results']} classifications, {s['garbage_lines']} garbage lines, {s['broken_lines']} broken, "
         f"{s['reconnects']} reconnects; labels {s['labels']}")
    host = s.get("host")
    if host:
        _err(f"agreement with the host: labels equal on {host['labels_equal']}/{host['windows']} windows "
             f"({host['labels_equal_pct']} %), int8 scores equal on {host['scores_equal']}")


commands = [flash, monitor]
