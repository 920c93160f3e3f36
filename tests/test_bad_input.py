"""Every way data input goes wrong: one line naming the file and the fix, exit 2, nothing written."""

import numpy as np
import pytest
import soundfile as sf

SR = 16000


def _tone(seconds=3.0, sr=SR, channels=1):
    t = np.arange(int(seconds * sr)) / sr
    x = 0.3 * np.sin(2 * np.pi * 440 * t)
    return np.stack([x] * channels, axis=1) if channels > 1 else x


def _good_set(root, n_per_class=3):
    """A valid CSV data set of 3-second tones (different pitch per class)."""
    rows = ["path,label,group"]
    for c, label in enumerate(["indoor", "outdoor", "vehicle"]):
        for k in range(n_per_class):
            rel = f"{label}/{label}{k}.wav"
            (root / label).mkdir(exist_ok=True)
            t = np.arange(3 * SR) / SR
            sf.write(root / rel, 0.3 * np.sin(2 * np.pi * (200 + 300 * c + 20 * k) * t), SR)
            rows.append(f"{rel},{label},{label}{k}")
    return rows


def _write_csv(root, rows):
    path = root / "list.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def _bad_file(root, kind):
    """Create one broken recording of ``kind``; returns its relative path."""
    rel = f"indoor/bad_{kind}.wav"
    path = root / rel
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "truncated":
        sf.write(path, _tone(), SR)
        path.write_bytes(path.read_bytes()[:30])
    elif kind == "not-audio":
        path.write_text("this is a text file, not audio\n")
    elif kind == "nan":
        x = _tone().astype(np.float32)
        x[100:110] = np.nan
        sf.write(path, x, SR, subtype="FLOAT")
    elif kind == "too-short":
        sf.write(path, _tone(0.5), SR)
    return rel


def _assert_one_line_error(code, err, *needles):
    assert code == 2, err
    lines = [line for line in err.strip().splitlines() if line.startswith("error:")]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert " — " in lines[0], "the line must carry a fix hint"


@pytest.mark.parametrize("kind,needle", [
    ("empty", "empty"), ("truncated", "not a readable audio file"), ("not-audio", "not a readable audio file"),
    ("nan", "NaN"), ("too-short", "shorter than one window"),
])
def test_broken_recordings_are_named(tmp_path, cli, kind, needle):
    rows = _good_set(tmp_path)
    rel = _bad_file(tmp_path, kind)
    data = _write_csv(tmp_path, rows + [f"{rel},indoor,bad"])
    code, out, err = cli("train", "--data", data, "--out", tmp_path / "run", "--epochs", "1")
    _assert_one_line_error(code, err, f"bad_{kind}.wav", needle)
    assert not (tmp_path / "run").exists()
    assert not list(tmp_path.glob("run.tmp-*"))


@pytest.mark.parametrize("case", ["missing-file", "unknown-label", "no-columns", "not-utf8", "meta-one-field",
                                  "no-data", "no-class-folders", "bad-label-map"])
def test_bad_lists_are_named(tmp_path, cli, case):
    rows = _good_set(tmp_path)
    extra = []
    if case == "missing-file":
        data = _write_csv(tmp_path, rows + ["indoor/nowhere.wav,indoor,x"]); needles = ["nowhere.wav", "not found"]
    elif case == "unknown-label":
        data = _write_csv(tmp_path, rows + ["indoor/indoor0.wav,kitchen,x"]); needles = ["list.csv:11", "'kitchen'"]
    elif case == "no-columns":
        data = _write_csv(tmp_path, ["file,class"] + [r for r in rows[1:]]); needles = ["list.csv", "path"]
    elif case == "not-utf8":
        data = tmp_path / "meta.txt"
        data.write_bytes("indoor/indoor0.wav\tindoor\n".encode() + "caf\xe9/x.wav\tindoor\n".encode("latin1"))
        needles = ["meta.txt:2", "UTF-8"]
    elif case == "meta-one-field":
        data = tmp_path / "meta.txt"
        data.write_text("indoor/indoor0.wav indoor\nindoor/indoor1.wav\n"); needles = ["meta.txt:2", "path label"]
    elif case == "no-data":
        data = tmp_path / "nothing.csv"; needles = ["nothing.csv", "not found"]
    elif case == "no-class-folders":
        data = tmp_path / "empty_dir"; data.mkdir(); needles = ["empty_dir", "class"]
    else:
        data = _write_csv(tmp_path, rows); needles = ["nomap.yaml"]
        extra = ["--label-map", tmp_path / "nomap.yaml"]
    code, out, err = cli("train", "--data", data, "--out", tmp_path / "run", "--epochs", "1", *extra)
    _assert_one_line_error(code, err, *needles)
    assert not (tmp_path / "run").exists()


def test_skip_bad_continues_and_lists_what_it_skipped(tmp_path):
    from asc_toolchain.data.datasets import load_items
    from asc_toolchain.asc.windows import window_features

    rows = _good_set(tmp_path)
    bad = [_bad_file(tmp_path, k) for k in ("empty", "nan", "too-short")]
    data = _write_csv(tmp_path, rows + [f"{b},indoor,b{i}" for i, b in enumerate(bad)]
                      + ["indoor/gone.wav,indoor,g", "indoor/indoor0.wav,kitchen,k"])
    skipped = []
    items = load_items(data, skip_bad=True, skipped=skipped)
    ws = window_features(items, ["indoor", "outdoor", "vehicle"], skip_bad=True, skipped=skipped)
    names = sorted(p.split("/")[-1] for p, _ in skipped)
    assert names == ["bad_empty.wav", "bad_nan.wav", "bad_too-short.wav", "gone.wav", "indoor0.wav"]
    assert len(ws.items) == 9


@pytest.mark.parametrize("kind", ["8bit", "96k", "44k1", "stereo", "float"])
def test_odd_formats_are_converted_not_rejected(tmp_path, kind):
    from asc_toolchain.data.audio import load_audio

    sr = {"96k": 96000, "44k1": 44100}.get(kind, SR)
    x = _tone(2.0, sr, channels=2 if kind == "stereo" else 1)
    subtype = {"8bit": "PCM_U8", "float": "FLOAT"}.get(kind, "PCM_16")
    sf.write(tmp_path / "a.wav", x, sr, subtype=subtype)
    y = load_audio(tmp_path / "a.wav")
    assert y.dtype == np.float32 and y.ndim == 1
    assert abs(len(y) - 2 * SR) <= 2
    spectrum = np.abs(np.fft.rfft(y))
    assert abs(np.argmax(spectrum) * SR / len(y) - 440) < 2      # the tone survives the conversion


def test_evaluate_on_a_folder_that_is_not_a_run(tmp_path, cli):
    code, out, err = cli("evaluate", "--run", tmp_path)
    _assert_one_line_error(code, err, str(tmp_path), "not a run directory")


def test_train_refuses_to_replace_a_folder_it_did_not_make(tmp_path, cli):
    rows = _good_set(tmp_path)
    data = _write_csv(tmp_path, rows)
    precious = tmp_path / "mywork"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    code, out, err = cli("train", "--data", data, "--out", precious, "--epochs", "1")
    _assert_one_line_error(code, err, "mywork", "not a run directory")
    assert (precious / "notes.txt").read_text() == "keep me"
