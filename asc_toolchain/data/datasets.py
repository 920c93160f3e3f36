"""Data lists in three forms → one list of Items.

- a TUT-style meta file: `relative/path.wav<TAB or spaces>label` per line, paths relative to the
  file's folder (or --root);
- a folder with one sub-folder per class;
- a CSV with a header holding `path` and `label` (optional group, group_id, recording_id, speaker,
  fold); paths relative to --root, default the CSV's folder.

Labels go through a LabelMap. Every problem names the file (and line) and the fix; with
skip_bad the item is left out and (path, reason) is appended to `skipped` instead.
"""

from __future__ import annotations

import csv
import hashlib
import os
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from ..core.errors import AscError, DataError
from .audio import file_problem
from .labelmaps import LabelMap

AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".aiff", ".aif", ".mp3", ".au"}
GROUP_COLUMNS = ("group", "group_id", "recording_id", "speaker")
DATA_FORMS = "pass a meta file (path label per line), a CSV with path,label columns, or a folder of class folders"
META_SPACE_HINT = ('separate path and label with a TAB, quote the path ("my clip.wav" indoor), '
                   "or use a CSV with path,label columns")
_TUT_STEM = re.compile(r"^([a-z]\d{3})_\d+_\d+$")               # a001_0_30 → a001
_TAU_STEM = re.compile(r"^[a-z_]+-([a-z]+-\d+)-\d+-[a-z0-9]+$")  # airport-lisbon-1000-40000-a


@dataclass(frozen=True)
class Item:
    """One recording: where it is, its class, the group it must not be split from."""

    path: Path
    label: str
    group: str
    clip_id: str
    fold: str = ""


def infer_group(path: Path) -> str:
    """Recording group from TUT/TAU file-name conventions; otherwise the file stem."""
    stem = path.stem
    for pattern in (_TUT_STEM, _TAU_STEM):
        match = pattern.match(stem)
        if match:
            return match.group(1)
    return stem


def load_items(data: str | Path, root: str | Path | None = None, label_map: LabelMap | None = None,
               skip_bad: bool = False, skipped: list | None = None) -> list[Item]:
    """Read a data list (any of the three forms) into Items with mapped labels."""
    from .labelmaps import load_label_map

    data = Path(data)
    label_map = label_map or load_label_map(None)
    skipped = skipped if skipped is not None else []
    _check_data_path(data)
    if data.is_dir():
        rows = list(_folder_rows(data))
    elif _looks_like_csv(data):
        rows = list(_csv_rows(data, Path(root) if root else data.parent))
    else:
        rows = list(_meta_rows(data, Path(root) if root else data.parent))
    listed = [(r[3], item) for r in rows if (item := _to_item(r, label_map, skip_bad, skipped))]
    items = merge_duplicates(listed, skipped)
    if not items:
        raise DataError(f"{data}: no usable recordings", "check the list's paths and labels")
    return items


def _check_data_path(data: Path) -> None:
    """DataError unless --data is an existing folder or a readable list (not a recording)."""
    if not data.exists() and not data.is_symlink():
        raise DataError(f"{data}: data path not found", DATA_FORMS)
    if data.is_dir():
        return
    problem = file_problem(data)
    if problem:
        raise DataError(f"{data}: {problem[0].replace('audio file', 'data list')}", DATA_FORMS)
    if data.suffix.lower() in AUDIO_SUFFIXES or _audio_magic(data):
        raise DataError(f"{data}: is an audio file; --data expects a list of recordings", DATA_FORMS)


def _audio_magic(path: Path) -> bool:
    with open(path, "rb") as f:
        head = f.read(12)
    return head[:4] in (b"RIFF", b"fLaC", b"OggS", b"FORM", b".snd") or head[:3] == b"ID3"


def merge_duplicates(listed: list[tuple[str, Item]], skipped: list) -> list[Item]:
    """One Item per recording. The same file listed twice (by path, or by content) is counted
    once, with a note in ``skipped``, when both lines agree; a second label, or a second group for
    the same path (a split leak), is a DataError naming both lines."""
    content = _content_keys({os.path.realpath(it.path) for _, it in listed})
    first: dict[tuple, tuple[str, Item]] = {}
    kept = []
    for where, item in listed:
        real = os.path.realpath(item.path)
        keys = [("path", real)] + ([("content", content[real])] if real in content else [])
        twin = next((first[k] for k in keys if k in first), None)
        if twin is None:
            first.update({k: (where, item) for k in keys})
            kept.append(item)
            continue
        _check_same(twin, (where, item), same_path=keys[0] in first)
        skipped.append((str(item.path), f"{where}: the same recording as {twin[0]} (same label); counted once"))
    return kept


def _content_keys(paths: set[str]) -> dict[str, str]:
    """sha256 of the files that may have a twin among ``paths``; the rest are read no further.

    Candidates narrow cheaply first: equal size (whole data sets of fixed-length clips share one),
    then equal first and last 64 KiB; only those are hashed in full."""
    by_size: dict[int, list[str]] = {}
    for p in paths:
        by_size.setdefault(os.path.getsize(p), []).append(p)
    by_edges: dict[tuple, list[str]] = {}
    for size, group in by_size.items():
        for p in group if len(group) > 1 else ():
            by_edges.setdefault((size, _edges(p)), []).append(p)
    return {p: _sha256(p) for group in by_edges.values() if len(group) > 1 for p in group}


def _edges(path: str, span: int = 1 << 16) -> bytes:
    """A digest of the first and last ``span`` bytes."""
    with open(path, "rb") as f:
        h = hashlib.sha256(f.read(span))
        f.seek(max(0, os.fstat(f.fileno()).st_size - span))
        h.update(f.read(span))
    return h.digest()


def _check_same(first: tuple[str, Item], again: tuple[str, Item], same_path: bool) -> None:
    (w1, a), (w2, b) = first, again
    how = "listed again" if same_path else f"has the same content as {a.path}"
    if a.label != b.label:
        raise DataError(f"{w2}: {b.path} {how} ({w1}) with another label: {b.label!r} vs {a.label!r}",
                        "keep one line per recording, with its right label")
    if same_path and a.group != b.group:
        raise DataError(f"{w2}: {b.path} is listed again ({w1}) in another group: {b.group!r} vs {a.group!r} "
                        "(it would land in two splits)", "keep one line per recording")


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def data_hash(data: str | Path) -> str:
    """sha256 of the list file, or of the sorted relative paths of a folder."""
    data = Path(data)
    h = hashlib.sha256()
    if data.is_dir():
        for p in sorted(data.rglob("*")):
            if p.suffix.lower() in AUDIO_SUFFIXES:
                h.update(str(p.relative_to(data)).encode() + b"\n")
    else:
        h.update(data.read_bytes())
    return h.hexdigest()


def _to_item(row: tuple, label_map: LabelMap, skip_bad: bool, skipped: list) -> Item | None:
    path, raw_label, group, where, fold = row
    try:
        label = label_map(raw_label)
        if label is None:
            raise DataError(f"{where}: unknown label {raw_label!r} (map {label_map.name!r} knows "
                            f"{_some(label_map.mapping)})",
                            "pass --label-map with a YAML map that covers it, or --skip-bad")
        problem = file_problem(path)
        if problem:
            raise DataError(f"{where}: {problem[0]}: {path}", f"{problem[1]}, or pass --skip-bad")
    except AscError as exc:
        if not skip_bad:
            raise
        skipped.append((str(path), exc.message))
        return None
    return Item(path=path, label=label, group=group or infer_group(path), clip_id=str(path), fold=fold)


def _some(mapping: dict) -> str:
    keys = sorted(mapping)
    return ", ".join(keys[:6]) + (", …" if len(keys) > 6 else "")


def _read_text(path: Path) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataError(f"{path}:{line}: not UTF-8 text (byte 0x{raw[exc.start]:02x})",
                        "save the list as UTF-8 (e.g. iconv -f latin1 -t utf-8)") from None


def _looks_like_csv(path: Path) -> bool:
    if path.suffix.lower() == ".csv":
        return True
    first = _read_text(path).split("\n", 1)[0].lower()
    return "," in first and "path" in first and "label" in first


def _folder_rows(folder: Path):
    classes = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise DataError(f"{folder}: no class sub-folders", "put each class's recordings in a folder named after it")
    for class_dir in classes:
        for path in sorted(class_dir.rglob("*")):
            if path.suffix.lower() in AUDIO_SUFFIXES:
                yield path, class_dir.name, "", str(path), ""


def _csv_rows(path: Path, root: Path):
    reader = csv.DictReader(_read_text(path).splitlines())
    fields = {f.strip().lower(): f for f in (reader.fieldnames or [])}
    missing = [c for c in ("path", "label") if c not in fields]
    if missing:
        raise DataError(f"{path}: CSV has no {' or '.join(missing)} column (has {list(fields)})",
                        "the header needs path and label (optional group, recording_id, speaker, fold)")
    group_col = next((fields[c] for c in GROUP_COLUMNS if c in fields), None)
    fold_col = fields.get("fold")
    for n, row in enumerate(reader, start=2):
        rel = (row.get(fields["path"]) or "").strip()
        if not rel:
            continue
        group = (row.get(group_col) or "").strip() if group_col else ""
        fold = (row.get(fold_col) or "").strip() if fold_col else ""
        yield root / rel, (row.get(fields["label"]) or "").strip(), group, f"{path}:{n}", fold


def _meta_rows(path: Path, root: Path):
    for n, line in enumerate(_read_text(path).splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = _meta_fields(line, f"{path}:{n}")
        if len(parts) < 2:
            raise DataError(f"{path}:{n}: expected 'path label', got {line.strip()!r}",
                            "write one recording per line: relative/path.wav label")
        if len(parts) > 2 and "\t" not in line and not (root / parts[0]).exists():
            raise DataError(f"{path}:{n}: {line.strip()!r} has {len(parts)} fields: is there a space in "
                            "the path?", META_SPACE_HINT)
        yield root / parts[0].strip(), parts[1].strip(), "", f"{path}:{n}", ""


def _meta_fields(line: str, where: str) -> list[str]:
    """Tab-separated fields, else whitespace-separated ones ("quoted paths" may hold spaces)."""
    if "\t" in line:
        return line.rstrip().split("\t")
    if '"' not in line and "'" not in line:
        return line.split()
    try:
        return shlex.split(line)
    except ValueError:
        raise DataError(f"{where}: unbalanced quotes in {line.strip()!r}", META_SPACE_HINT) from None
