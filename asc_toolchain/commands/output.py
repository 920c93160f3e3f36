"""How commands print: one JSON object on stdout with --json, human text on stderr."""

from __future__ import annotations

import json

import click


def emit(data: dict, as_json: bool, human) -> None:
    """``data`` as JSON on stdout with --json; otherwise ``human(data)`` writes the text."""
    if as_json:
        click.echo(json.dumps(data, indent=2))
    else:
        human(data)


def err(text: str = "") -> None:
    """A human line on stderr."""
    click.echo(text, err=True)
