"""The run directory: one folder per training run, written atomically and read back validated.

Writing: ``write_run(out)`` builds the run in `RUN.tmp-*` and swaps it in at the end (see
core.outdir: checked before any work, the older run untouched on failure, the first of two
writers wins). ``write_outputs`` writes what every run holds and ``seal`` writes manifest.json
last, with a run id and a `files` table: the sha256 and size of every file as written.

Reading: ``Run.open`` validates a run once, in one place — the manifest's schema, then each file
the stages read (present, size and sha256 as recorded) — and each target's subclass adds its own
checks (asc.run.AscRun: feature parameters and scaler). Those files are read once, at open, and
handed out from there, so a command sees one consistent snapshot: a run replaced while it is
opened is opened again; a damaged file is one line naming it and how to recover. A run without
a table (older, or made by hand) gets the schema check, and its files are checked as they are read.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import tempfile
import uuid
import zipfile
from pathlib import Path

from ..data.datasets import Item
from .errors import RunError
from .outdir import Destination, atomic_folder, current_umask  # noqa: F401 - atomic_folder: bundle's, synth's
from .run_schema import check_manifest, recovery_hint

MANIFEST = "manifest.json"
SPLIT_COLUMNS = ("path", "label", "group", "split")
RUN_MIN_BYTES = 300_000          # a seed-CNN run is about 370 kB: the least any run needs
OPEN_ATTEMPTS = 3


class RunReplaced(RunError):
    """The run folder was replaced (by another `asc-tool train`) while it was being read."""


class Run:
    """A finished run directory, read back (target-neutral; each target's stages open it through
    their own subclass: asc.run.open_asc_run, ser.export.open_ser_run)."""

    TARGET: str | None = None                       # a subclass opens only runs of its target
    TARGET_HINT = ""
    READS: tuple[str, ...] = ("model.keras", "split.csv")   # what the stages read: checked at open

    def __init__(self, path: Path, manifest: dict):
        self.path = path
        self.manifest = manifest
        self._snapshot: dict[str, bytes] = {}

    @classmethod
    def open(cls, path: str | Path) -> "Run":
        """The validated run at ``path``; RunError naming the damaged file and how to recover."""
        path = Path(path)
        for _ in range(OPEN_ATTEMPTS):
            run = cls(path, read_manifest(path))
            run.check_target()
            try:
                run.validate()
                return run
            except RunReplaced:
                continue
        raise RunReplaced(f"{path}: replaced again and again while being opened",
                          "wait until the `asc-tool train` writing it has finished")

    def check_target(self) -> None:
        if self.TARGET and self.target != self.TARGET:
            raise RunError(f"{self.path}: run target is {self.target!r}, not {self.TARGET!r}", self.TARGET_HINT)

    def validate(self) -> None:
        """Read and check every recorded file the stages read (subclasses add their checks)."""
        for name in self.READS:
            if name in self.recorded:
                self._snapshot[name] = self._read_checked(name)

    @property
    def target(self) -> str:
        return self.manifest.get("target", "stm32-asc")

    @property
    def class_names(self) -> list[str]:
        return list(self.manifest["class_names"])

    @property
    def run_id(self) -> str | None:
        return self.manifest.get("run_id")

    @property
    def recorded(self) -> dict:
        """The `files` table written with the run: name → {sha256, size} ({} for older runs)."""
        return self.manifest.get("files", {})

    def file(self, name: str) -> Path:
        """Path of a file the run must hold; RunError if it is missing."""
        p = self.path / name
        if not p.exists():
            if name in self.recorded:
                raise self.damaged(name, "missing, though the run was written with it")
            raise RunError(f"{self.path}: missing {name}", "re-run the stage that writes it")
        return p

    def read_bytes(self, name: str, keep: bool = True) -> bytes:
        """The bytes of ``name`` as of this run's manifest (read at open for the files it reads);
        ``keep=False`` hands over the copy read at open (a large model is not held twice)."""
        if name in self._snapshot:
            return self._snapshot[name] if keep else self._snapshot.pop(name)
        return self._read_checked(name)

    def damaged(self, name: str, why: str) -> RunError:
        return RunError(f"{self.path / name}: damaged ({why})", recovery_hint(self.path, self.manifest))

    def load_keras(self):
        import keras

        data = self.read_bytes("model.keras", keep=False)
        if not zipfile.is_zipfile(io.BytesIO(data)):
            raise self.damaged("model.keras", "not a complete .keras archive")
        with tempfile.TemporaryDirectory(prefix="asc-tool-model-") as tmp:
            copy = Path(tmp) / "model.keras"        # Keras loads from a path: the snapshot's bytes
            copy.write_bytes(data)
            try:
                return keras.models.load_model(copy, compile=False)
            except Exception as exc:  # noqa: BLE001 - whatever Keras raises, the file is unusable
                why = _short(exc).replace(str(copy), str(self.path / "model.keras"))
                raise self.damaged("model.keras", f"Keras cannot load it: {why}") from None

    def items(self, split: str) -> list[Item]:
        """The recordings of one split ('train', 'val', 'test') as recorded in split.csv."""
        rows = parse_split(self.read_bytes("split.csv"), self.path / "split.csv", self.manifest)
        items = [it for it, s in rows if s == split]
        if not items:
            raise RunError(f"{self.path}/split.csv has no {split!r} recordings", "train with more data")
        return items

    def _read_checked(self, name: str) -> bytes:
        path = self.file(name)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise self.damaged(name, f"cannot be read: {exc.strerror}") from None
        rec = self.recorded.get(name)
        if rec and (len(data) != rec["size"] or hashlib.sha256(data).hexdigest() != rec["sha256"]):
            if self._replaced():
                raise RunReplaced(f"{self.path}: replaced by another command while this one read it",
                                  "run the command again")
            why = (f"{len(data):,} B, written as {rec['size']:,} B" if len(data) != rec["size"]
                   else "its sha256 differs from the one recorded when the run was written")
            raise self.damaged(name, why)
        return data

    def _replaced(self) -> bool:
        """True when manifest.json on disk is no longer the one this Run was opened with."""
        try:
            now = json.loads((self.path / MANIFEST).read_bytes())
        except (OSError, ValueError):
            return True
        return not isinstance(now, dict) or now.get("run_id") != self.run_id


def read_manifest(path: Path) -> dict:
    """manifest.json of the run at ``path``, schema-checked; RunError naming what is wrong."""
    manifest_path = path / MANIFEST
    if not manifest_path.is_file():
        what = "is a file, not a run directory" if path.is_file() else f"not a run directory (no {MANIFEST})"
        raise RunError(f"{path}: {what}", "pass the --out folder of a finished `asc-tool train`")
    try:
        raw = manifest_path.read_bytes()
    except OSError as exc:
        raise RunError(f"{manifest_path}: cannot be read ({exc.strerror})",
                       "make it readable for this user (chmod a+r)") from None
    try:
        manifest = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise _damaged_manifest(path, f"not UTF-8 text at byte {exc.start}") from None
    except json.JSONDecodeError as exc:
        raise _damaged_manifest(path, f"not valid JSON: {exc.msg} at line {exc.lineno}") from None
    problem = check_manifest(manifest)
    if problem:
        raise _damaged_manifest(path, problem, manifest)
    return manifest


def _damaged_manifest(path: Path, why: str, manifest=None) -> RunError:
    return RunError(f"{path / MANIFEST}: damaged ({why})", recovery_hint(path, manifest))


def write_split(path: Path, assignments: list[tuple[Item, str]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(SPLIT_COLUMNS)
        for item, split in assignments:
            w.writerow([str(item.path), item.label, item.group, split])


def read_split(path: Path) -> list[tuple[Item, str]]:
    """split.csv → (Item, split) rows; RunError when it cannot be read or lacks its columns."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise RunError(f"{path}: cannot be read ({exc.strerror})", recovery_hint(path.parent, None)) from None
    return parse_split(raw, path, None)


def parse_split(raw: bytes, where: Path, manifest: dict | None) -> list[tuple[Item, str]]:
    try:
        reader = csv.DictReader(io.StringIO(raw.decode("utf-8")))
        missing = [c for c in SPLIT_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"no {', '.join(missing)} column (header {reader.fieldnames})")
        return [(Item(Path(r["path"]), r["label"], r["group"], r["path"]), r["split"]) for r in reader]
    except (UnicodeDecodeError, ValueError, csv.Error) as exc:
        raise RunError(f"{where}: damaged ({_short(exc)})", recovery_hint(where.parent, manifest)) from None


def write_json(path: Path, data) -> None:
    """Write JSON via a temporary file + rename, so a reader never sees half a file."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(json.dumps(data, indent=2, sort_keys=False) + "\n")
        os.chmod(tmp, 0o666 & ~current_umask())       # mkstemp makes 0600
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_outputs(folder: Path, model, assignments: list, reports: dict, history: dict,
                  manifest: dict, skipped: list, title: str) -> None:
    """What every run holds: the Keras model (.keras and .h5), split.csv, history.json,
    metrics.json (test report + validation + skipped files), the two plots; manifest.json last."""
    from .plots import plot_confusion, plot_history

    model.save(folder / "model.keras")
    save_h5(model, folder / "model.h5")
    write_split(folder / "split.csv", assignments)
    write_json(folder / "history.json", history)
    write_json(folder / "metrics.json", {"engine": "keras", "split": "test", **reports["test"],
                                         "validation": reports["val"],
                                         "skipped": [{"path": p, "reason": r} for p, r in skipped]})
    plot_confusion(reports["test"], folder / "confusion_matrix.png", title)
    plot_history(history, folder / "training_curves.png")
    seal(folder, manifest)


def seal(folder: Path, manifest: dict) -> dict:
    """Write manifest.json last, with a new run id and the sha256 + size of every file in ``folder``."""
    files = {}
    for p in sorted(folder.iterdir()):
        if p.is_file() and p.name != MANIFEST and not p.name.startswith("."):
            data = p.read_bytes()
            files[p.name] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    sealed = {**manifest, "run_id": uuid.uuid4().hex, "files": files}
    write_json(folder / MANIFEST, sealed)
    return sealed


def save_h5(model, path: Path) -> None:
    """model.h5, built in memory and written by Python: HDF5 writing straight to a full disk
    crashes the process (SIGSEGV); Python raises ENOSPC, which the writer turns into one line."""
    import h5py
    from keras.src.legacy.saving import legacy_h5_format

    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        legacy_h5_format.save_model_to_hdf5(model, f)
    Path(path).write_bytes(buffer.getvalue())


def run_destination(out: str | Path, needed: int = RUN_MIN_BYTES) -> Destination:
    """The run folder ``out``, checked now (before any work): see core.outdir.Destination."""
    return Destination(out, MANIFEST, "a run directory", RunError, needed)


def write_run(out: str | Path | Destination, needed: int = 0):
    """Write a run directory atomically; ``out`` is a path or a Destination checked earlier."""
    dest = out if isinstance(out, Destination) else run_destination(out, 0)
    return dest.writing(needed)


def run_bytes(parameters: int) -> int:
    """About how many bytes a run of a model with ``parameters`` takes: weights and optimizer
    state in model.keras and model.h5 (≤ 12 B per parameter each) plus plots and tables."""
    return 24 * parameters + RUN_MIN_BYTES


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return (text[-1] if text else type(exc).__name__)[:160]
