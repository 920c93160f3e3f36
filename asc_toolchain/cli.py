"""The `asc-tool` command line. Commands only parse options and call the library.

Errors: an AscError — or an OSError a user can cause (full disk, permission denied) — prints one
line (message — hint) on stderr and exits 2; a traceback only with -v. Ctrl-C exits 130 and
SIGTERM 143, both after the same clean-up (temporary folders removed). Anything unexpected prints
its traceback and asks for a report. TensorFlow's start-up lines are kept off stderr unless -v.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import signal
import sys
import threading

import click

from . import __version__
from .core.errors import AscError, Terminated, from_os_error
from .core.quiet import quiet_tensorflow

# Each module defines `commands`: a list of click commands added to the top-level group.
COMMAND_MODULES = [
    "asc_toolchain.commands.core",
    "asc_toolchain.commands.ser",
    "asc_toolchain.commands.codegen",
    "asc_toolchain.commands.firmware",
    "asc_toolchain.commands.flash",
    "asc_toolchain.commands.search",
]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="asc-tool")
@click.option("-v", "--verbose", count=True, help="More detail; tracebacks for errors.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              help="YAML config file (default: ./asc-tool.yaml, then ~/.config/asc-tool/config.yaml).")
@click.pass_context
def cli(ctx: click.Context, verbose: int, config_path: str | None) -> None:
    """asc-tool: audio → features → model → int8 C → firmware → board, every stage verified."""
    ctx.ensure_object(dict)
    ctx.obj["verbose"] = verbose
    ctx.obj["config_path"] = config_path
    logging.basicConfig(level=logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if verbose < 2:
        logging.getLogger("absl").setLevel(logging.ERROR)


def _register() -> None:
    for name in COMMAND_MODULES:
        for command in importlib.import_module(name).commands:
            cli.add_command(command)


_register()


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (callable from tests)."""
    args = argv if argv is not None else sys.argv[1:]
    verbose = any(a in ("-v", "-vv", "--verbose") for a in args)
    with _sigterm_unwinds(), quiet_tensorflow(not verbose):
        return _run(args, verbose)


def _run(args: list[str], verbose: bool) -> int:
    try:
        cli.main(args=args, prog_name="asc-tool", standalone_mode=False)
        return 0
    except AscError as exc:
        return _user_error(exc, verbose)
    except OSError as exc:
        mapped = from_os_error(exc)
        if mapped is None:
            return _unexpected()
        return _user_error(mapped, verbose)
    except Terminated:
        click.echo("terminated", err=True)
        return Terminated.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt) as exc:
        if isinstance(exc.__cause__, Terminated):   # click turns any KeyboardInterrupt into Abort
            click.echo("terminated", err=True)
            return Terminated.exit_code
        click.echo("interrupted", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except SystemExit as exc:  # pragma: no cover - click may still raise it
        return exc.code if isinstance(exc.code, int) else 1
    except Exception:  # noqa: BLE001 - the one place unexpected errors land
        return _unexpected()


def _user_error(exc: AscError, verbose: bool) -> int:
    if verbose:
        import traceback
        traceback.print_exc()
    click.echo(click.style("error: ", fg="red", bold=True) + str(exc), err=True)
    return exc.exit_code


def _unexpected() -> int:
    import traceback
    traceback.print_exc()
    click.echo("asc-tool hit an unexpected error; please report it with the traceback above.", err=True)
    return 1


@contextlib.contextmanager
def _sigterm_unwinds():
    """While a command runs, SIGTERM raises Terminated in the main thread, so every `finally`
    and temporary-folder clean-up runs as for Ctrl-C; the previous handler comes back after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)     # a second SIGTERM must not cut the clean-up
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
