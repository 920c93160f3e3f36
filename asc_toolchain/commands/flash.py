"""Flash and monitor commands: `asc-tool flash` and `asc-tool monitor serial`."""

from __future__ import annotations

import json

import click

from ..deploy.runners import OPTIONS, RUNNERS
from ..core.config import as_bool
from .output import err as _err



def runner_options(func):
    """The runner options as flags, from their one declaration (unset = None)."""
    for opt in reversed(list(OPTIONS.values())):
        kwargs = {"default": None, "help": opt.help + ("" if opt.default is None else f" [default: {opt.default}]")}
        if opt.type is as_bool:
            func = click.option(f"{opt.flag}/--no-{opt.flag[2:]}", opt.name, **kwargs)(func)
        else:
            func = click.option(opt.flag, opt.name, type=opt.type, **kwargs)(func)
    return func


@click.command()
@click.option("--board", default="b-l475e-iot01a", show_default=True, help="Board name or board YAML file.")
@click.option("--runner", type=click.Choice(sorted(RUNNERS)), help="Flash tool [default: the board's first].")
@click.option("--elf", type=click.Path(dir_okay=False), help="Firmware ELF (a .bin beside it is made when needed).")
@click.option("--run", "run_dir", type=click.Path(file_okay=False), help="Run directory: flash RUN/build/asc_fw.elf.")
@click.option("--action", type=click.Choice(["flash", "erase", "reset"]), default="flash", show_default=True,
              help="What to do (not every runner can erase or reset).")
@click.option("--dry-run", is_flag=True, help="Print the commands instead of running them.")
@click.option("--list", "list_runners", is_flag=True, help="List the board's runners, what they can do and their tools.")
@click.option("--json", "as_json", is_flag=True, help="Print what was done as JSON on stdout.")
@runner_options
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


@monitor.command("serial")
@click.option("--port", help="Device path or pyserial URL (socket://, rfc2217://, loop://) "
              "[default: the ST-LINK virtual COM port, found by USB vendor id].")
@click.option("--baud", type=click.IntRange(1), help="Baud rate [default: the board file's, 115200].")
@click.option("--board", default="b-l475e-iot01a", show_default=True, help="Board name or board YAML file.")
@click.option("--feed", "audio", multiple=True, type=click.Path(dir_okay=False),
              help="Stream this audio into the board through the host feed (repeatable).")
@click.option("--run", "run_dir", type=click.Path(file_okay=False),
              help="With --feed: the run whose generated C gives the host's predictions to compare with.")
@click.option("--max-seconds", type=click.FloatRange(0, min_open=True), help="With --feed: at most this much of each file.")
@click.option("--log", "log_path", type=click.Path(dir_okay=False), help="Append lines to FILE: .csv or .jsonl.")
@click.option("--count", type=click.IntRange(1), help="Stop after N classifications.")
@click.option("--duration", type=click.FloatRange(0, min_open=True), help="Stop after this many seconds.")
@click.option("--reconnect-timeout", default=60.0, show_default=True, type=click.FloatRange(0),
              help="Give up when a vanished port has not come back after this many seconds.")
@click.option("--list", "list_ports", is_flag=True, help="List the serial ports and exit.")
@click.option("--quiet", is_flag=True, help="No live view.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON on stdout.")
def serial(port, baud, board, audio, run_dir, max_seconds, log_path, count, duration, reconnect_timeout,
           list_ports, quiet, as_json):
    """Show the firmware's classifications live; log them; with --feed, test it with known audio."""
    from ..deploy.serial.monitor import monitor_serial
    from ..deploy.serial.port import list_ports as ports

    if list_ports:
        found = ports()
        if as_json:
            click.echo(json.dumps({"ports": [p.__dict__ for p in found]}, indent=2))
        for p in found if not as_json else []:
            _err(p.describe())
        return
    summary = monitor_serial(port=port, baud=baud, board=board, audio=list(audio), run_dir=run_dir,
                             max_seconds=max_seconds, log_path=log_path, count=count, duration_s=duration,
                             give_up_s=reconnect_timeout, echo=_err, live=not quiet)
    if as_json:
        click.echo(json.dumps(summary, indent=2))
    else:
        _print_summary(summary)


def _print_summary(s: dict) -> None:
    _err(f"{s['results']} classifications, {s['garbage_lines']} garbage lines, {s['broken_lines']} broken, "
         f"{s['reconnects']} reconnects; labels {s['labels']}")
    host = s.get("host")
    if host:
        _err(f"agreement with the host: labels equal on {host['labels_equal']}/{host['windows']} windows "
             f"({host['labels_equal_pct']} %), int8 scores equal on {host['scores_equal']}")


commands = [flash, monitor]
