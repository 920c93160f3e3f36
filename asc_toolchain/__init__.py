"""asc-tool: audio to verified microcontroller firmware.

Library calls (asc_toolchain.api, loaded on first use): ``generate``, ``validate``, ``profile``.
"""

__version__ = "0.1.0"

_API = ("generate", "validate", "profile")


def __getattr__(name):
    if name in _API:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_API])
