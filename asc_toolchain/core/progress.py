"""Progress bars on stderr for long work; quiet when stderr is not a terminal or under CI."""

from __future__ import annotations

import os
import sys


def progress(iterable, desc: str = "", unit: str = "it", total: int | None = None):
    from tqdm import tqdm

    quiet = not sys.stderr.isatty() or os.environ.get("CI") == "true"
    return tqdm(iterable, desc=desc, unit=unit, total=total, disable=quiet, leave=False,
                file=sys.stderr, dynamic_ncols=True)
