"""The run directory: one folder per training run, written atomically.

A run is built in `RUN.tmp-<random>` beside its final place and renamed at the end, so an
interrupted run never leaves a half-written RUN and never damages an older one (an older RUN is
moved aside and removed only after the new one is in place).
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import shutil
import tempfile
from pathlib import Path

from .datasets import Item
from .errors import RunError
from .features import FeatureParams, Scaler

MANIFEST = "manifest.json"


class Run:
    """A finished run directory, read back."""

    def __init__(self, path: Path, manifest: dict):
        self.path = path
        self.manifest = manifest

    @classmethod
    def open(cls, path: str | Path) -> "Run":
        path = Path(path)
        manifest_path = path / MANIFEST
        if not manifest_path.is_file():
            raise RunError(f"{path}: not a run directory (no {MANIFEST})",
                           "pass the --out folder of a finished `asc-tool train`")
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise RunError(f"{manifest_path}: damaged ({exc})", "train the run again") from None
        return cls(path, manifest)

    @property
    def target(self) -> str:
        return self.manifest.get("target", "stm32-asc")

    @property
    def class_names(self) -> list[str]:
        return list(self.manifest["class_names"])

    @property
    def feature_params(self) -> FeatureParams:
        return FeatureParams.from_dict(self.manifest["features"])

    def file(self, name: str) -> Path:
        """Path of a file the run must hold; RunError if it is missing."""
        p = self.path / name
        if not p.exists():
            raise RunError(f"{self.path}: missing {name}", "re-run the stage that writes it")
        return p

    def load_keras(self):
        import keras

        return keras.models.load_model(self.file("model.keras"), compile=False)

    def scaler(self) -> Scaler:
        return Scaler.load(self.file("scaler.npz"))

    def items(self, split: str) -> list[Item]:
        """The recordings of one split ('train', 'val', 'test') as recorded in split.csv."""
        items = [it for it, s in read_split(self.file("split.csv")) if s == split]
        if not items:
            raise RunError(f"{self.path}/split.csv has no {split!r} recordings", "train with more data")
        return items


def write_split(path: Path, assignments: list[tuple[Item, str]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["path", "label", "group", "split"])
        for item, split in assignments:
            w.writerow([str(item.path), item.label, item.group, split])


def read_split(path: Path) -> list[tuple[Item, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return [(Item(Path(r["path"]), r["label"], r["group"], r["path"]), r["split"])
                for r in csv.DictReader(f)]


def write_json(path: Path, data) -> None:
    """Write JSON via a temporary file + rename, so a reader never sees half a file."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


@contextlib.contextmanager
def write_run(final: str | Path):
    """Yield a fresh temporary folder; on success it replaces ``final`` atomically."""
    final = Path(final).resolve()
    final.parent.mkdir(parents=True, exist_ok=True)
    if final.exists() and not (final / MANIFEST).is_file():
        raise RunError(f"{final}: exists and is not a run directory",
                       "choose another --out; asc-tool never overwrites folders it did not make")
    tmp = Path(tempfile.mkdtemp(prefix=f"{final.name}.tmp-", dir=final.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _swap_in(tmp, final)


def _swap_in(tmp: Path, final: Path) -> None:
    if not final.exists():
        os.rename(tmp, final)
        return
    old = Path(tempfile.mkdtemp(prefix=f"{final.name}.old-", dir=final.parent))
    os.rename(final, old / "run")
    os.rename(tmp, final)
    shutil.rmtree(old, ignore_errors=True)
