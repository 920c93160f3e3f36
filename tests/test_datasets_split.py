"""Data lists in their three forms, label maps, group inference and leak-free splits."""

import csv
import zlib

import numpy as np
import pytest
import soundfile as sf

from asc_toolchain.data.datasets import infer_group, load_items
from asc_toolchain.data.labelmaps import load_label_map
from asc_toolchain.data.split import split_by_group
from conftest import ASC_META, SHARED_DATA, require_shared


def _wav(path):
    """A short recording whose content is unique to its name (identical files are duplicates)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    seed = zlib.crc32(str(path).encode())
    sf.write(path, np.random.default_rng(seed).uniform(-0.1, 0.1, 1600).astype(np.float32), 16000)


def test_tut_meta_file_with_seed_label_map(tmp_path):
    names = {"bus": "vehicle", "cafe/restaurant": "indoor", "park": "outdoor", "tram": "vehicle"}
    lines = []
    for i, scene in enumerate(names):
        _wav(tmp_path / "audio" / f"a00{i}_0_30.wav")
        lines.append(f"audio/a00{i}_0_30.wav\t{scene}")
    (tmp_path / "meta.txt").write_text("\n".join(lines) + "\n")
    items = load_items(tmp_path / "meta.txt", label_map=load_label_map("tut2016"))
    assert [it.label for it in items] == list(names.values())
    assert [it.group for it in items] == ["a000", "a001", "a002", "a003"]


def test_folder_per_class(tmp_path):
    for label in ("indoor", "outdoor", "vehicle"):
        _wav(tmp_path / label / f"{label}-1.flac".replace(".flac", ".wav"))
    items = load_items(tmp_path)
    assert sorted(it.label for it in items) == ["indoor", "outdoor", "vehicle"]


def test_csv_with_root_and_group_columns(tmp_path):
    _wav(tmp_path / "rec" / "airport-lisbon-1000-40000-a.wav")
    _wav(tmp_path / "rec" / "bus-lisbon-1001-40000-a.wav")
    (tmp_path / "lists").mkdir()
    (tmp_path / "lists" / "l.csv").write_text(
        "path,label,speaker\nrec/airport-lisbon-1000-40000-a.wav,airport,\nrec/bus-lisbon-1001-40000-a.wav,bus,s9\n")
    items = load_items(tmp_path / "lists" / "l.csv", root=tmp_path, label_map=load_label_map("tau2018-2020"))
    assert [it.label for it in items] == ["indoor", "vehicle"]
    assert [it.group for it in items] == ["lisbon-1000", "s9"]     # inferred from TAU name; column wins


def test_user_yaml_label_map(tmp_path):
    (tmp_path / "m.yaml").write_text("classes: [in, out]\nmap: {kitchen: in, garden: out}\n")
    lm = load_label_map(str(tmp_path / "m.yaml"))
    assert lm("kitchen") == "in" and lm("Garden") == "out" and lm("car") is None


def test_group_inference_conventions():
    from pathlib import Path

    assert infer_group(Path("a/b020_90_120.wav")) == "b020"
    assert infer_group(Path("street_traffic-paris-57-1700-a.wav")) == "paris-57"
    assert infer_group(Path("my_recording.wav")) == "my_recording"


def _assert_leak_free(items, splits):
    by_group = {}
    for it, s in zip(items, splits):
        by_group.setdefault(it.group, set()).add(s)
    assert all(len(s) == 1 for s in by_group.values()), "a group appears in two splits"
    assert set(splits) == {"train", "val", "test"}


def test_split_is_by_group_and_repeatable(synth_dir):
    items = load_items(synth_dir / "metadata.csv")
    a = split_by_group(items, seed=5)
    _assert_leak_free(items, a)
    assert a == split_by_group(items, seed=5)
    assert {it.label for it, s in zip(items, a) if s == "test"} == {"indoor", "outdoor", "vehicle"}


@pytest.mark.data
def test_split_of_the_real_recordings_is_leak_free():
    require_shared(ASC_META)
    items = load_items(ASC_META, root=SHARED_DATA)
    assert len(items) == 76
    for seed in range(5):
        splits = split_by_group(items, seed=seed)
        _assert_leak_free(items, splits)
    folds = split_by_group(items, test_fold="3")
    with open(ASC_META) as f:
        fold3 = {SHARED_DATA / r["path"] for r in csv.DictReader(f) if r["fold"] == "3"}
    assert {it.path for it, s in zip(items, folds) if s == "test"} == fold3
