"""The `asc-tool` command line. Commands only parse options and call the library.

Errors: an AscError prints one line (message — hint) on stderr and exits 2; a traceback
only with -v. Ctrl-C exits 130. Anything unexpected prints its traceback and asks for a report.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's C++ start-up chatter

import click

from . import __version__
from .core.errors import AscError

# Each module defines `commands`: a list of click commands added to the top-level group.
COMMAND_MODULES = [
    "asc_toolchain.commands.core",
    "asc_toolchain.commands.ser",
    "asc_toolchain.commands.codegen",
    "asc_toolchain.commands.firmware",
    "asc_toolchain.commands.flash",
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
    verbose = any(a in ("-v", "-vv", "--verbose") for a in (argv if argv is not None else sys.argv[1:]))
    try:
        cli.main(args=argv, prog_name="asc-tool", standalone_mode=False)
        return 0
    except AscError as exc:
        if verbose:
            import traceback
            traceback.print_exc()
        click.echo(click.style("error: ", fg="red", bold=True) + str(exc), err=True)
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("interrupted", err=True)
        return 130
    except KeyboardInterrupt:
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
        import traceback
        traceback.print_exc()
        click.echo("asc-tool hit an unexpected error; please report it with the traceback above.", err=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
