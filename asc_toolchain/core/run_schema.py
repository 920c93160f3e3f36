"""The schema of a run's manifest.json, and how to recover a damaged run.

One table (FIELDS) gives the type of every key a stage reads; ``check_manifest`` returns the
first problem as a short phrase (or None), which core.runs turns into one line naming the file.
"""

from __future__ import annotations

import re
from numbers import Real
from pathlib import Path

FIELDS = {                       # key → type it must have when present
    "target": str, "run_id": str, "files": dict, "class_names": list, "label_map": dict,
    "features": dict, "training": dict, "data": dict, "model": dict, "tool_version": str,
}
REQUIRED = ("class_names",)      # `target` defaults to stm32-asc for runs older than targets
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_JSON_TYPES = {str: "a string", dict: "an object", list: "a list"}


def check_manifest(manifest) -> str | None:
    """The first thing wrong with a parsed manifest.json, or None."""
    if not isinstance(manifest, dict):
        return f"holds {_kind(manifest)}, not an object"
    for key in REQUIRED:
        if key not in manifest:
            return f"no {key!r}"
    for key, kind in FIELDS.items():
        if key in manifest and not isinstance(manifest[key], kind):
            return f"{key!r} is {_kind(manifest[key])}, not {_JSON_TYPES[kind]}"
    for check in (_class_names, _files, _label_map, _training):
        problem = check(manifest)
        if problem:
            return problem
    return None


def _class_names(m: dict) -> str | None:
    names = m["class_names"]
    if not names or not all(isinstance(n, str) and n for n in names):
        return "'class_names' must be a list of non-empty names"
    if len(set(names)) != len(names):
        return f"'class_names' repeats a name ({names})"
    return None


def _files(m: dict) -> str | None:
    for name, rec in m.get("files", {}).items():
        if "/" in name or "\\" in name or name in ("", ".", ".."):
            return f"'files' names {name!r}, not a file of the run folder"
        if not (isinstance(rec, dict) and isinstance(rec.get("sha256"), str) and _SHA256.match(rec["sha256"])
                and isinstance(rec.get("size"), int) and rec["size"] >= 0):
            return f"'files' entry {name!r} is not {{sha256, size}}"
    return None


def _label_map(m: dict) -> str | None:
    lm = m.get("label_map", {})
    mapping = lm.get("map", {})
    if not isinstance(mapping, dict) or not isinstance(lm.get("name", ""), str):
        return "'label_map' needs a name and a map object"
    strays = sorted({str(v) for v in mapping.values()} - set(m["class_names"]))
    if strays:
        return f"'label_map' maps to {strays}, which are not in 'class_names'"
    return None


def _training(m: dict) -> str | None:
    seconds = m.get("training", {}).get("max_seconds")
    if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, Real) or seconds <= 0):
        return f"'training.max_seconds' is {seconds!r}, not a positive number or null"
    return None


def recovery_hint(run_dir: Path, manifest) -> str:
    """How to get a usable run back: restore it, or train it again (with the recorded data)."""
    data = manifest.get("data") if isinstance(manifest, dict) else None
    source = data.get("source") if isinstance(data, dict) else None
    target = manifest.get("target") if isinstance(manifest, dict) else None
    again = f"asc-tool train --data {source or 'DATA'} --out {run_dir}"
    if target == "jetson-ser":
        again += " --target jetson-ser"
    return f"restore {run_dir} from a backup, or train it again: {again}"


def _kind(value) -> str:
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    for kind, word in _JSON_TYPES.items():
        if isinstance(value, kind):
            return word
    return "a number" if isinstance(value, Real) else type(value).__name__
