"""Data a user gets wrong: nothing accepted silently (group 5), and every message says what is
really wrong and how to fix it (group 7)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from test_bad_input import SR, _assert_one_line_error, _good_set, _write_csv


@pytest.fixture
def no_training(monkeypatch):
    """Training fails the test: bad data must be refused before a model is fitted."""
    import asc_toolchain.asc.train as train

    def fitted(*args, **kwargs):
        raise AssertionError("a model was trained on bad data")

    monkeypatch.setattr(train, "fit_model", fitted)


def _train(cli, tmp_path, data, *extra):
    return cli("train", "--data", data, "--out", tmp_path / "run", "--epochs", "1", *extra)


# group 5: bad data accepted silently

@pytest.mark.parametrize("case,needles", [
    ("same-file-two-groups", ["indoor/indoor0.wav", "listed again", "another group", "two splits"]),
    ("same-file-two-labels", ["indoor/indoor0.wav", "listed again", "another label", "'outdoor'"]),
    ("same-content-two-labels", ["copy.wav", "same content as", "another label"]),
])
def test_a_recording_listed_twice_in_conflict_is_refused(tmp_path, cli, no_training, case, needles):
    rows = _good_set(tmp_path)
    if case == "same-file-two-groups":
        rows.append("indoor/indoor0.wav,indoor,elsewhere")
    elif case == "same-file-two-labels":
        rows.append("indoor/indoor0.wav,outdoor,indoor0")
    else:
        shutil.copy(tmp_path / "indoor" / "indoor0.wav", tmp_path / "outdoor" / "copy.wav")
        rows.append("outdoor/copy.wav,outdoor,copy")
    code, _, err = _train(cli, tmp_path, _write_csv(tmp_path, rows))
    _assert_one_line_error(code, err, "list.csv:11", *needles)
    assert not (tmp_path / "run").exists()


def test_an_identical_duplicate_is_counted_once_and_reported(tmp_path):
    from asc_toolchain.data.datasets import load_items

    rows = _good_set(tmp_path)
    shutil.copy(tmp_path / "vehicle" / "vehicle1.wav", tmp_path / "vehicle" / "copy.wav")
    data = _write_csv(tmp_path, rows + ["vehicle/vehicle0.wav,vehicle,vehicle0", "vehicle/copy.wav,vehicle,c"])
    skipped = []
    items = load_items(data, skipped=skipped)
    assert len(items) == 9
    assert [Path(p).name for p, _ in skipped] == ["vehicle0.wav", "copy.wav"]
    assert all("counted once" in reason for _, reason in skipped)


def test_a_list_with_one_class_is_refused(tmp_path, cli, no_training):
    rows = [r for r in _good_set(tmp_path, n_per_class=4) if ",indoor," in r or r.startswith("path")]
    code, _, err = _train(cli, tmp_path, _write_csv(tmp_path, rows))
    _assert_one_line_error(code, err, "list.csv", "no recordings of class 'outdoor', 'vehicle'", "--label-map")


def test_a_class_with_too_few_groups_to_reach_training_is_refused(tmp_path, cli, no_training):
    rows = _good_set(tmp_path, n_per_class=4)
    rows = [r for r in rows if not r.startswith("vehicle/") or r.startswith("vehicle/vehicle0")]
    code, _, err = _train(cli, tmp_path, _write_csv(tmp_path, rows))
    _assert_one_line_error(code, err, "list.csv", "class 'vehicle' has 1 recording group", "add recordings of vehicle")


def test_a_wav_cut_short_of_its_header_is_refused(tmp_path, cli, no_training):
    rows = _good_set(tmp_path)
    path = tmp_path / "indoor" / "cut.wav"
    sf.write(path, np.zeros(3 * SR, np.float32) + 0.1, SR, subtype="PCM_16")
    path.write_bytes(path.read_bytes()[: 44 + 2 * SR * 2])          # 2 of the promised 3 s
    code, _, err = _train(cli, tmp_path, _write_csv(tmp_path, rows + ["indoor/cut.wav,indoor,cut"]))
    _assert_one_line_error(code, err, "cut.wav", "truncated", "48,000 samples", "32,000")


# group 7: messages that mislead

@contextlib.contextmanager
def _as_another_user():
    """Run the block as 'nobody' when we are root (root reads every file), else as ourselves."""
    if os.geteuid() != 0:
        yield
        return
    os.setegid(65534)
    os.seteuid(65534)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)


def test_a_file_without_read_permission_says_so(cli):
    from asc_toolchain.data.audio import load_audio
    from asc_toolchain.data.datasets import load_items

    folder = Path(tempfile.mkdtemp(dir="/tmp"))                 # a folder 'nobody' may enter
    try:
        folder.chmod(0o755)
        rows = _good_set(folder)
        os.chmod(folder / "indoor" / "indoor1.wav", 0)
        data = _write_csv(folder, rows)
        with _as_another_user(), pytest.raises(Exception) as caught:
            load_items(data)
        with _as_another_user(), pytest.raises(Exception) as caught_audio:
            load_audio(folder / "indoor" / "indoor1.wav")
    finally:
        shutil.rmtree(folder)
    for exc in (caught.value, caught_audio.value):
        assert "permission denied" in str(exc) and "chmod a+r" in str(exc) and "indoor1.wav" in str(exc)
        assert "System error" not in str(exc) and "convert it" not in str(exc)


@pytest.mark.parametrize("kind,needle", [("folder", "a folder, not an audio file"),
                                         ("loop", "symbolic link loop"),
                                         ("dangling", "broken symbolic link")])
def test_odd_paths_in_a_list_say_what_they_are(tmp_path, cli, kind, needle):
    rows = _good_set(tmp_path)
    odd = tmp_path / "indoor" / "odd.wav"
    if kind == "folder":
        odd.mkdir()
    elif kind == "loop":
        odd.symlink_to(odd)
    else:
        odd.symlink_to(tmp_path / "gone.wav")
    code, _, err = _train(cli, tmp_path, _write_csv(tmp_path, rows + ["indoor/odd.wav,indoor,odd"]))
    _assert_one_line_error(code, err, "list.csv:11", "odd.wav", needle)
    assert "not found" not in err


def test_a_meta_line_with_a_space_in_the_path_says_so(tmp_path, cli):
    _good_set(tmp_path)
    (tmp_path / "indoor" / "indoor0.wav").rename(tmp_path / "indoor" / "my clip.wav")
    (tmp_path / "meta.txt").write_text("indoor/my clip.wav indoor\n")
    code, _, err = _train(cli, tmp_path, tmp_path / "meta.txt")
    _assert_one_line_error(code, err, "meta.txt:1", "space in the path", "TAB", "quote", "CSV")
    assert "unknown label" not in err


def test_a_quoted_path_with_a_space_is_read(tmp_path):
    from asc_toolchain.data.datasets import load_items

    _good_set(tmp_path)
    (tmp_path / "indoor" / "indoor0.wav").rename(tmp_path / "indoor" / "my clip.wav")
    (tmp_path / "meta.txt").write_text('"indoor/my clip.wav" indoor\noutdoor/outdoor0.wav outdoor\n')
    items = load_items(tmp_path / "meta.txt")
    assert [(it.path.name, it.label) for it in items] == [("my clip.wav", "indoor"), ("outdoor0.wav", "outdoor")]


def test_data_that_is_an_audio_file_says_a_list_is_expected(tmp_path, cli):
    _good_set(tmp_path)
    code, _, err = _train(cli, tmp_path, tmp_path / "indoor" / "indoor0.wav")
    _assert_one_line_error(code, err, "indoor0.wav", "is an audio file", "meta file", "CSV", "folder")
    assert "UTF-8" not in err


@pytest.mark.slow
def test_evaluate_skip_bad_leaves_out_a_clip_shorter_than_a_window(synth_run, tmp_path, cli):
    from asc_toolchain.data.synth import make_synth_dataset

    other = make_synth_dataset(tmp_path / "other", per_class=3, seconds=3.0, seed=5)
    sf.write(other / "short.wav", np.full(SR // 2, 0.1, np.float32), SR)
    rows = (other / "metadata.csv").read_text().splitlines()
    data = other / "list.csv"
    data.write_text("\n".join(rows + [rows[1].replace(rows[1].split(",")[0], "short.wav", 1)]) + "\n")
    code, out, err = cli("evaluate", "--run", synth_run, "--data", data, "--skip-bad", "--json")
    assert code == 0, err
    assert "skipped" in err and "short.wav" in err and "shorter than one window" in err
    assert json.loads(out)["clip"]["n"] == 9
    code, out, err = cli("evaluate", "--run", synth_run, "--data", data)
    _assert_one_line_error(code, err, "short.wav", "shorter than one window", "--skip-bad")
