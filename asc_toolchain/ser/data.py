"""Speech-emotion data: CSV lists, RAVDESS and EmoDB file names, folder-per-class.

Labels are harmonised to SPEC §8's seven emotions; labels outside the chosen set (RAVDESS
calm, EmoDB boredom, or the three outside the top-4) are dropped and counted, never silently.
Every item's group is its speaker, so splits are speaker-independent.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ..core.errors import DataError

SER7 = ("happiness", "anger", "sadness", "neutral", "fear", "disgust", "surprise")
TOP4 = ("happiness", "anger", "neutral", "sadness")
NEGATIVE = ("anger", "sadness", "fear", "disgust")
CLASS_SETS = {"7": SER7, "top4": TOP4, "4": TOP4}
ALIASES = {
    "happy": "happiness", "joy": "happiness", "angry": "anger", "sad": "sadness",
    "fearful": "fear", "afraid": "fear", "disgusted": "disgust", "surprised": "surprise",
    "neu": "neutral", "hap": "happiness", "ang": "anger",
}
# RAVDESS: modality-channel-emotion-intensity-statement-repetition-actor, e.g. 03-01-05-01-02-01-12
_RAVDESS = re.compile(r"^\d\d-\d\d-(\d\d)-\d\d-\d\d-\d\d-(\d\d)$")
RAVDESS_EMOTIONS = {"01": "neutral", "02": "calm", "03": "happiness", "04": "sadness", "05": "anger",
                    "06": "fear", "07": "disgust", "08": "surprise"}
# EmoDB: speaker (2 digits), text (a01…b10), emotion letter (German initial), version, e.g. 03a01Wa
_EMODB = re.compile(r"^(\d\d)([ab]\d\d)([WLEAFTN])([a-z])$")
EMODB_EMOTIONS = {"W": "anger", "L": "boredom", "E": "disgust", "A": "fear", "F": "happiness",
                  "T": "sadness", "N": "neutral"}


@dataclass(frozen=True)
class SerItem:
    """One utterance: file, harmonised label, speaker (the split group) and corpus."""

    path: Path
    label: str
    group: str
    clip_id: str
    corpus: str = ""
    fold: str = ""


@dataclass
class SerData:
    """Items kept, and the count of dropped items per (raw) label."""

    items: list
    dropped: Counter = field(default_factory=Counter)
    skipped: list = field(default_factory=list)


def class_set(name: str) -> tuple:
    """The emotion set for '7' or 'top4'."""
    from ..core.errors import ConfigError

    if str(name).lower() not in CLASS_SETS:
        raise ConfigError(f"unknown emotion set {name!r}", "use 7 (all seven emotions) or top4")
    return CLASS_SETS[str(name).lower()]


def harmonise(label: str) -> str:
    """Lower-case label with common spellings mapped to SPEC §8's names."""
    text = label.strip().lower()
    return ALIASES.get(text, text)


def parse_name(path: Path):
    """(label, speaker group, corpus) from a RAVDESS or EmoDB file name, or None."""
    m = _RAVDESS.match(path.stem)
    if m:
        return RAVDESS_EMOTIONS.get(m.group(1), "unknown"), f"ravdess_{m.group(2)}", "ravdess"
    m = _EMODB.match(path.stem)
    if m:
        return EMODB_EMOTIONS[m.group(3)], f"emodb_{m.group(1)}", "emodb"
    return None


def load_ser_items(data, root=None, classes="7", skip_bad: bool = False,
                   corpus: str | None = None) -> SerData:
    """Read a CSV (path,label[,speaker…]), a folder of RAVDESS/EmoDB files, or class folders."""
    data = Path(data)
    wanted = class_set(classes)
    if not data.exists():
        raise DataError(f"{data}: data path not found",
                        "pass a CSV with path,label[,speaker] columns or a folder of recordings")
    if data.is_dir() and not _has_class_folders(data):
        raw = _named_files(data)
    else:
        raw, skipped = _via_datasets(data, root, skip_bad)
        result = _select(raw, wanted, corpus)
        result.skipped = skipped
        return result
    return _select(raw, wanted, corpus)


def _has_class_folders(folder: Path) -> bool:
    """True when sub-folder names are emotions (folder-per-class), not e.g. Actor_01."""
    names = {harmonise(p.name) for p in folder.iterdir() if p.is_dir()}
    return bool(names) and names <= set(SER7) | {"calm", "boredom"} | set(ALIASES)


def _named_files(folder: Path) -> list:
    from ..data.datasets import AUDIO_SUFFIXES

    out, unnamed = [], []
    for path in sorted(folder.rglob("*")):
        if path.suffix.lower() not in AUDIO_SUFFIXES:
            continue
        parsed = parse_name(path)
        if parsed is None:
            unnamed.append(path)
            continue
        label, speaker, corpus = parsed
        out.append(SerItem(path, label, speaker, str(path), corpus))
    if not out:
        raise DataError(f"{folder}: no RAVDESS or EmoDB file names and no emotion folders",
                        "name class folders after the emotions, or pass a CSV with path,label,speaker")
    if unnamed:
        raise DataError(f"{unnamed[0]}: file name is neither RAVDESS (03-01-05-01-02-01-12) nor "
                        f"EmoDB (03a01Wa) ({len(unnamed)} such files)",
                        "rename the files, or use class folders or a CSV")
    return out


def _via_datasets(data: Path, root, skip_bad: bool):
    """CSV or class folders through the shared reader; labels kept raw, speaker from names."""
    from ..data.datasets import infer_group, load_items

    passthrough = _PassThrough("ser-raw", (), {})
    skipped: list = []
    items = load_items(data, root, passthrough, skip_bad, skipped)
    out = []
    for it in items:
        parsed = parse_name(it.path)
        group, corpus = it.group, ""
        if parsed is not None:
            corpus = parsed[2]
            if group == infer_group(it.path):                     # no speaker column: use the name
                group = parsed[1]
        elif "_" in group:
            corpus = group.split("_", 1)[0]
        out.append(SerItem(it.path, it.label, group, it.clip_id, corpus, it.fold))
    return out, skipped


class _PassThrough:
    """A label map that keeps every label as written (selection happens afterwards)."""

    def __init__(self, name, classes, mapping):
        self.name, self.classes, self.mapping = name, classes, mapping

    def __call__(self, label: str) -> str:
        return label


def _select(raw: list, wanted: tuple, corpus: str | None) -> SerData:
    kept, dropped = [], Counter()
    for it in raw:
        if corpus and it.corpus != corpus:
            continue
        label = harmonise(it.label)
        if label in wanted:
            kept.append(SerItem(it.path, label, it.group, it.clip_id, it.corpus, it.fold))
        else:
            dropped[label] += 1
    if not kept:
        raise DataError(f"no recording has one of the labels {list(wanted)}"
                        + (f" in corpus {corpus!r}" if corpus else ""),
                        "check the label column (anger, happiness, …) or the --corpus value")
    return SerData(kept, dropped)


def describe(data: SerData) -> str:
    """One line: counts per class, speakers, and what was dropped."""
    counts = Counter(it.label for it in data.items)
    text = (f"{len(data.items)} recordings of {len({it.group for it in data.items})} speakers ("
            + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) + ")")
    if data.dropped:
        text += "; dropped " + ", ".join(f"{v} {k}" for k, v in sorted(data.dropped.items()))
    return text
