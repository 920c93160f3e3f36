"""The errors a user can cause. One place (cli.main) prints them: one line, exit 2.

Each error carries what went wrong (with the file or value and the numbers) and a hint
saying how to fix it. No colour codes here: only the printer colours.
"""

from __future__ import annotations


class AscError(Exception):
    """An expected problem caused by input, environment or budget; exit code 2."""

    exit_code = 2

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} — {self.hint}" if self.hint else self.message


class DataError(AscError):
    """A dataset, meta file or audio file that cannot be used as given."""


class ConfigError(AscError):
    """A config file, option value or board file that is wrong."""


class RunError(AscError):
    """A run directory that is missing, incomplete or from another target."""


class ToolMissingError(AscError):
    """An external tool or optional Python package that is not installed."""


class BudgetError(AscError):
    """A model or firmware that does not fit the board's memory."""


class ToolFailedError(AscError):
    """An external command that ran and failed."""


class SerialError(AscError):
    """A serial port that cannot be opened or vanished (cable, driver or permission)."""
