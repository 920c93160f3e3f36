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

from ..data.datasets import Item
from .errors import RunError
from ..asc.features import FeatureParams, Scaler

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


def write_outputs(folder: Path, model, assignments: list, reports: dict, history: dict,
                  manifest: dict, skipped: list, title: str) -> None:
    """What every run holds: the Keras model (.keras and .h5), split.csv, history.json,
    metrics.json (test report + validation + skipped files), the two plots and manifest.json."""
    from .plots import plot_confusion, plot_history

    model.save(folder / "model.keras")
    model.save(folder / "model.h5")
    write_split(folder / "split.csv", assignments)
    write_json(folder / "history.json", history)
    write_json(folder / "metrics.json", {"engine": "keras", "split": "test", **reports["test"],
                                         "validation": reports["val"],
                                         "skipped": [{"path": p, "reason": r} for p, r in skipped]})
    plot_confusion(reports["test"], folder / "confusion_matrix.png", title)
    plot_history(history, folder / "training_curves.png")
    write_json(folder / "manifest.json", manifest)


@contextlib.contextmanager
def atomic_folder(final: str | Path, marker: str, kind: str, error: type = RunError):
    """Yield a fresh temporary folder beside ``final``; on success it replaces ``final`` at once.

    ``final`` may only be replaced when it holds ``marker`` (asc-tool made it); otherwise
    ``error`` says it is not ``kind``. On failure or Ctrl-C the temporary folder is removed and an
    older ``final`` stays untouched; the older one is removed only after the new one is in place.
    """
    final = Path(final).resolve()
    final.parent.mkdir(parents=True, exist_ok=True)
    if final.exists() and not (final / marker).is_file():
        raise error(f"{final}: exists and is not {kind}",
                    "choose another --out; asc-tool never overwrites folders it did not make")
    tmp = Path(tempfile.mkdtemp(prefix=f"{final.name}.tmp-", dir=final.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _swap_in(tmp, final)


def write_run(final: str | Path):
    """A run directory written atomically (see atomic_folder); its marker is manifest.json."""
    return atomic_folder(final, MANIFEST, "a run directory")


def _swap_in(tmp: Path, final: Path) -> None:
    if not final.exists():
        os.rename(tmp, final)
        return
    old = Path(tempfile.mkdtemp(prefix=f"{final.name}.old-", dir=final.parent))
    os.rename(final, old / final.name)
    os.rename(tmp, final)
    shutil.rmtree(old, ignore_errors=True)
