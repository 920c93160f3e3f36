"""jetson-ser data: RAVDESS / EmoDB names, CSV, class folders, label sets, speaker-independent split."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from asc_toolchain.core.errors import ConfigError, DataError
from asc_toolchain.ser.data import load_ser_items, parse_name
from conftest import SER_META, require_shared


def _wav(path: Path, seconds: float = 0.5) -> Path:
    """Quiet noise seeded by the file name: distinct files, since identical content is a duplicate."""
    import zlib

    import soundfile as sf

    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(zlib.crc32(path.name.encode()))
    sf.write(path, 0.01 * rng.standard_normal(int(16000 * seconds)).astype(np.float32), 16000)
    return path


def test_ravdess_and_emodb_file_names():
    assert parse_name(Path("03-01-05-01-02-01-12.wav")) == ("anger", "ravdess_12", "ravdess")
    assert parse_name(Path("03-01-02-02-01-01-07.flac")) == ("calm", "ravdess_07", "ravdess")
    assert parse_name(Path("03a01Wa.wav")) == ("anger", "emodb_03", "emodb")
    assert parse_name(Path("16b10Lb.wav")) == ("boredom", "emodb_16", "emodb")
    assert parse_name(Path("cafe_001.wav")) is None


def test_folder_of_named_files_drops_calm_and_boredom_with_counts(tmp_path):
    for name in ("03-01-05-01-02-01-12", "03-01-02-01-01-01-12", "03-01-04-01-01-01-11"):
        _wav(tmp_path / "Actor" / f"{name}.wav")
    for name in ("03a01Wa", "03a01La", "08a02Ta"):
        _wav(tmp_path / "emodb" / f"{name}.wav")
    data = load_ser_items(tmp_path)
    assert sorted(it.label for it in data.items) == ["anger", "anger", "sadness", "sadness"]
    assert dict(data.dropped) == {"calm": 1, "boredom": 1}
    assert {it.group for it in data.items} == {"ravdess_12", "ravdess_11", "emodb_03", "emodb_08"}


def test_top4_keeps_four_emotions_and_counts_the_rest(tmp_path):
    for name in ("03-01-03-01-01-01-01", "03-01-06-01-01-01-01", "03-01-07-01-01-01-01",
                 "03-01-08-01-01-01-01", "03-01-01-01-01-01-01"):
        _wav(tmp_path / f"{name}.wav")
    data = load_ser_items(tmp_path, classes="top4")
    assert sorted(it.label for it in data.items) == ["happiness", "neutral"]
    assert dict(data.dropped) == {"fear": 1, "disgust": 1, "surprise": 1}
    with pytest.raises(ConfigError, match="unknown emotion set '5'"):
        load_ser_items(tmp_path, classes="5")


def test_class_folders_and_csv_with_speaker_column(tmp_path):
    _wav(tmp_path / "folders" / "angry" / "a.wav")
    _wav(tmp_path / "folders" / "happy" / "b.wav")
    _wav(tmp_path / "folders" / "calm" / "c.wav")
    data = load_ser_items(tmp_path / "folders")
    assert sorted(it.label for it in data.items) == ["anger", "happiness"]
    assert dict(data.dropped) == {"calm": 1}
    _wav(tmp_path / "clips" / "x.wav")
    _wav(tmp_path / "clips" / "y.wav")
    (tmp_path / "list.csv").write_text("path,label,speaker\nclips/x.wav,Sad,s1\nclips/y.wav,fearful,s2\n")
    data = load_ser_items(tmp_path / "list.csv")
    assert [(it.label, it.group) for it in data.items] == [("sadness", "s1"), ("fear", "s2")]


def test_unnamed_files_in_a_plain_folder_are_refused_with_a_hint(tmp_path):
    _wav(tmp_path / "session" / "take1.wav")
    with pytest.raises(DataError, match="no RAVDESS or EmoDB file names and no emotion folders") as err:
        load_ser_items(tmp_path / "session")
    assert "pass a CSV with path,label,speaker" in str(err.value)
    _wav(tmp_path / "session" / "03a01Wa.wav")
    with pytest.raises(DataError, match=r"take1.wav: file name is neither RAVDESS .* nor EmoDB .*\(1 such files\)"):
        load_ser_items(tmp_path / "session")


def test_no_wanted_label_names_the_set(tmp_path):
    _wav(tmp_path / "03-01-02-01-01-01-01.wav")
    with pytest.raises(DataError, match="no recording has one of the labels"):
        load_ser_items(tmp_path)


@pytest.mark.data
def test_shared_csv_counts_and_speaker_independent_split():
    require_shared(SER_META)
    from asc_toolchain.data.split import split_by_group

    data = load_ser_items(SER_META, SER_META.parent.parent)
    # RAVDESS Actor_07 03-01-03-01-02-01-07 and -02-02-07 are byte-identical: counted once, with a note
    assert len(data.items) == 1450 and dict(data.dropped) == {"calm": 192}
    assert any("03-01-03-01-02-02-07.flac" in path and "counted once" in why for path, why in data.skipped)
    assert {it.corpus for it in data.items} == {"ravdess", "emodb"}
    splits = split_by_group(data.items, seed=0)
    speakers = {s: {it.group for it, x in zip(data.items, splits) if x == s} for s in ("train", "val", "test")}
    assert not (speakers["train"] & speakers["test"]) and not (speakers["train"] & speakers["val"])
    assert not (speakers["val"] & speakers["test"])
    emodb = load_ser_items(SER_META, SER_META.parent.parent, corpus="emodb")
    assert len(emodb.items) == 203 and len({it.group for it in emodb.items}) == 6
