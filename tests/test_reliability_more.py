"""Reliability, the remnants of issue 11: recordings streamed by every stage (flat memory with the
file's length), emulate's --timeout covering the audio it reads, run folders that follow the
umask, TensorFlow's noise kept off stderr, the flash runners' options in `config show`, and odd
values and paths turned into one line (every option checked by its declared type; path errors
of the file system named)."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import time
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf

from test_bad_input import _assert_one_line_error, _bad_file, _good_set, _write_csv

SR = 16000


def _noise_wav(path, seconds, sr=SR, channels=1, seed=0):
    x = (np.random.default_rng(seed).standard_normal((int(seconds * sr), channels)) * 0.1).astype(np.float32)
    sf.write(path, x if channels > 1 else x[:, 0], sr, subtype="FLOAT")
    return path


def _long_recording(synth_dir, path, seconds):
    """A recording of ``seconds`` made by looping one of the synthetic scenes (label: its class)."""
    first = sorted((synth_dir / "indoor").glob("*.wav"))[0]
    x, sr = sf.read(first, dtype="float32")
    sf.write(path, np.tile(x, int(np.ceil(seconds * sr / len(x))))[: int(seconds * sr)], sr, subtype="PCM_16")
    return path


# -- recordings read by blocks, windows cut a chunk at a time -----------------------------------

@pytest.mark.parametrize("rate,channels,max_seconds", [(16000, 1, None), (16000, 1, 7.3), (44100, 2, None),
                                                       (48000, 1, 6.0)])
def test_columns_read_by_blocks_equal_those_of_the_whole_file(tmp_path, monkeypatch, rate, channels, max_seconds):
    from asc_toolchain.asc import cache
    from asc_toolchain.asc.features import SEED_PARAMS, logmel_columns
    from asc_toolchain.data import audio_stream
    from asc_toolchain.data.audio import load_audio

    monkeypatch.setattr(cache, "FRAMES_PER_STEP", 128)          # several steps and many blocks on 9 s
    monkeypatch.setattr(audio_stream, "BLOCK_SECONDS", 0.37)
    path = _noise_wav(tmp_path / "a.wav", 9.0, rate, channels)
    whole = logmel_columns(load_audio(path, SR, max_seconds), SEED_PARAMS)
    streamed = cache.recording_columns(path, SEED_PARAMS, max_seconds)
    assert streamed.shape == whole.shape and whole.shape[0] > 128          # two steps or more
    assert np.array_equal(streamed, whole)                      # bit for bit, resampled ones too


def test_evaluate_cuts_windows_a_chunk_at_a_time(synth_dir, synth_run, tmp_path, monkeypatch, cli):
    """A 2-minute recording (3,686 windows of 64 columns) is scored without ever holding all its windows, and
    without loading the whole signal."""
    from asc_toolchain.asc import pipeline, windows
    from asc_toolchain.asc.features import n_windows
    from asc_toolchain.asc.run import open_asc_run

    long = _long_recording(synth_dir, tmp_path / "long.wav", 120.0)
    data = _write_csv(tmp_path, ["path,label", f"{long},indoor"])
    cut = []
    real_cut = pipeline.cut_windows

    def spy(db, peaks, starts, params):
        cut.append(len(starts))
        return real_cut(db, peaks, starts, params)

    def whole_signal(*args, **kwargs):
        raise AssertionError("a stage loaded a whole recording")

    monkeypatch.setattr(pipeline, "cut_windows", spy)
    monkeypatch.setattr(windows, "load_audio", whole_signal)
    code, out, err = cli("evaluate", "--run", synth_run, "--data", data, "--json")
    assert code == 0, err
    expected = n_windows(120 * SR, open_asc_run(synth_run).feature_params)
    assert json.loads(out)["window"]["n"] == expected
    assert sum(cut) >= expected            # every window was cut (Keras may look at a batch twice)…
    assert max(cut) <= pipeline.PREDICT_BATCH < expected      # …and never more than a batch at once


def test_c_engine_segments_hold_exactly_the_windows_of_the_whole_recording(quantized_run, host_cache, tmp_path):
    from asc_toolchain.asc.run import open_asc_run
    from asc_toolchain.codegen.validate import build_harness, c_dir_of, c_end_to_end, c_end_to_end_streamed
    from asc_toolchain.data.audio import load_audio

    run = open_asc_run(quantized_run)
    exe = build_harness(c_dir_of(run))
    path = _noise_wav(tmp_path / "n.wav", 6.0, seed=3)
    size = run.feature_params.n_mels * run.feature_params.n_columns
    x, out = c_end_to_end(exe, load_audio(path), size, len(run.class_names))
    parts = list(c_end_to_end_streamed(exe, path, run.feature_params, None, size, len(run.class_names),
                                       segment_windows=37))
    assert len(parts) > 3
    assert np.array_equal(np.concatenate([p[0] for p in parts]), x)
    assert np.array_equal(np.concatenate([p[1] for p in parts]), out)


def test_a_missing_recording_of_a_run_is_one_line_not_a_traceback(tmp_path):
    from asc_toolchain.asc.cache import FeatureCache
    from asc_toolchain.asc.features import SEED_PARAMS
    from asc_toolchain.core.errors import DataError
    from asc_toolchain.data.datasets import Item

    gone = Item(tmp_path / "gone.wav", "indoor", "g", "g")
    with pytest.raises(DataError, match="audio file not found"):
        FeatureCache(SEED_PARAMS, None, None).columns(gone)


# -- emulate: reading the audio counts inside --timeout ------------------------------------------

def test_reading_past_the_deadline_stops_with_the_limit(tmp_path):
    from asc_toolchain.core.errors import RunError
    from asc_toolchain.deploy.emulate import load_clips

    path = _noise_wav(tmp_path / "a.wav", 3.0)
    assert len(next(load_clips([path], SR, None, time.monotonic() + 60, 60))[1]) == 3 * SR
    with pytest.raises(RunError, match="ran past its 5 s limit while reading"):
        list(load_clips([path], SR, None, time.monotonic() - 1, 5))


def test_emulate_reads_the_audio_inside_its_timeout(tmp_path, monkeypatch, cli):
    """The board starts first and the audio is read while it runs: a read that outlasts --timeout
    is one line and exit 2 (the clock is moved on instead of waiting)."""
    from asc_toolchain.data import audio_stream
    from asc_toolchain.deploy import emulate as emu

    events = []

    class Board:
        def __init__(self, elf, board=None, timeout_s=600.0):
            events.append(("board", round(timeout_s)))

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            events.append(("stopped",))

        def boot_line(self):
            return {"sample_rate": SR}

        def check_alive(self):
            pass

    real = time.monotonic
    monkeypatch.setattr(emu, "QemuBoard", Board)
    monkeypatch.setattr(audio_stream, "time", SimpleNamespace(monotonic=lambda: real() + 1000.0))
    path = _noise_wav(tmp_path / "a.wav", 2.0)
    code, out, err = cli("emulate", "--elf", tmp_path / "fw.elf", "--feed", path, "--timeout", "30")
    _assert_one_line_error(code, err, "ran past its 30 s limit while reading", str(path), "--timeout")
    assert events == [("board", 30), ("stopped",)]


# -- run folders follow the umask ---------------------------------------------------------------

@pytest.mark.parametrize("umask,folder,file", [(0o022, 0o755, 0o644), (0o077, 0o700, 0o600)])
def test_a_trained_run_follows_the_umask(synth_dir, tmp_path, cli, umask, folder, file):
    old = os.umask(umask)
    try:
        code, _, err = cli("train", "--data", synth_dir / "metadata.csv", "--out", tmp_path / "run",
                           "--epochs", "1", "--max-seconds", "3", "--cache-dir", "none")
    finally:
        os.umask(old)
    assert code == 0, err
    run = tmp_path / "run"
    assert run.stat().st_mode & 0o777 == folder
    files = [p for p in run.rglob("*") if p.is_file()]
    assert len(files) >= 5 and {p.name for p in files} >= {"manifest.json", "model.keras", "scaler.npz"}
    assert {oct(p.stat().st_mode & 0o777) for p in files} == {oct(file)}
    assert all(p.stat().st_mode & 0o777 == folder for p in run.rglob("*") if p.is_dir())


# -- TensorFlow's noise stays off stderr --------------------------------------------------------

TF_NOISE = ("oneDNN", "cpu_feature_guard", "absl::", "I0000", "W0000", "E0000", "XNNPACK", "TF_ENABLE",
            "rebuild TensorFlow", "Traceback", "Warning")
PROBE = ("import sys; from asc_toolchain.cli import main; code = main(sys.argv[1:]); "
         "print('tensorflow' in sys.modules); sys.exit(code)")


def _fresh(*args, cwd):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    return subprocess.run([sys.executable, "-c", PROBE, *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=600)


@pytest.fixture(scope="module")
def broken_set(tmp_path_factory):
    root = tmp_path_factory.mktemp("broken")
    rows = _good_set(root)
    rows.append(f"{_bad_file(root, 'truncated')},indoor,bad")
    return _write_csv(root, rows)


@pytest.mark.parametrize("command", [
    ["train", "--data", "{data}", "--out", "{tmp}/r1", "--epochs", "1"],
    ["cv", "--data", "{data}", "--out", "{tmp}/r2", "--epochs", "1", "--folds", "2"],
    ["train", "--target", "jetson-ser", "--data", "{data}", "--out", "{tmp}/r3", "--epochs", "1"],
    ["evaluate", "--run", "{run}", "--data", "{data}"],
    ["evaluate", "--run", "{run}", "--data", "{data}", "--engine", "tflite"],
    ["quantize", "--run", "{tmp}/not-a-run"],
    ["validate", "--run", "{run}", "--c-dir", "{tmp}/no-c"],
])
def test_a_bad_input_gives_one_line_on_stderr_even_after_tensorflow_loads(broken_set, quantized_run, tmp_path,
                                                                          command):
    args = [a.format(data=broken_set, tmp=tmp_path, run=quantized_run) for a in command]
    done = _fresh(*args, cwd=tmp_path)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and lines[-1].startswith("error: "), done.stderr[-1500:]
    assert sum(line.startswith("error: ") for line in lines) == 1
    noise = [line for line in lines if any(mark in line for mark in TF_NOISE)]
    assert not noise and len(lines) <= 3, done.stderr[-1500:]      # at most a summary line before it


def test_the_stock_interpreter_and_the_converter_print_nothing_of_their_own(quantized_run, synth_run, tmp_path):
    done = _fresh("evaluate", "--run", quantized_run, "--engine", "tflite", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-1500:]
    lines = done.stderr.splitlines()
    assert any(line.startswith("tflite on ") for line in lines), done.stderr[:1500]
    assert "XNNPACK" not in done.stderr and "deprecated" not in done.stderr, done.stderr[:1500]
    assert not [line for line in lines if any(mark in line for mark in TF_NOISE)], done.stderr[:1500]
    run = tmp_path / "run"
    shutil.copytree(synth_run, run)
    done = _fresh("quantize", "--run", run, "--representative", "20", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-1500:]
    lines = done.stderr.splitlines()
    assert "Saved artifact" not in done.stderr and "Endpoint" not in done.stderr, done.stderr[:1500]
    assert not [line for line in lines if any(mark in line for mark in TF_NOISE)], done.stderr[:1500]
    assert any(line.startswith("wrote ") for line in lines), done.stderr[:1500]


# -- config show lists the flash runners' options -----------------------------------------------

def test_config_show_lists_every_runner_option_with_its_source(monkeypatch, cli):
    from asc_toolchain.core.config import RUNNER_OPTIONS
    from asc_toolchain.deploy.runners import OPTIONS

    assert OPTIONS is RUNNER_OPTIONS                         # declared once
    monkeypatch.setenv("ASC_TOOL_SPEED", "4000")
    code, out, err = cli("config", "show", "--json")
    assert code == 0, err
    shown = json.loads(out)
    for name in RUNNER_OPTIONS:
        assert shown[name]["scope"] == "flash runners", name
    assert shown["speed"] == {"value": 4000, "source": "environment", "scope": "flash runners"}
    assert shown["verify"]["source"] == "default" and shown["verify"]["value"] is True
    board = shown["openocd_config"]["board_file"]                # the default board's runners block
    assert board["runners"]["openocd"].startswith("board/") and board["path"].endswith(".yaml")
    code, out, err = cli("config", "show")
    assert "flash runners" in out and "--openocd-config" in out and "ASC_TOOL_DEV_ID" in out


def test_a_runner_option_in_the_config_file_says_where_it_belongs(tmp_path, cli):
    cfg = tmp_path / "asc-tool.yaml"
    cfg.write_text("speed: 4000\n")
    code, _, err = cli("--config", cfg, "config", "show")
    _assert_one_line_error(code, err, "speed is a flash runner option", "runners.<runner>", "ASC_TOOL_SPEED")


# -- odd values: every option checked by its declared type, wherever it comes from --------------

@pytest.mark.parametrize("flag,value", [
    ("--epochs", "-1"), ("--epochs", "0"), ("--batch-size", "0"), ("--max-seconds", "nan"),
    ("--max-seconds", "inf"), ("--max-seconds", "-3"), ("--test-fraction", "-0.5"), ("--val-fraction", "2"),
    ("--learning-rate", "-1"), ("--dense-units", "0"), ("--patience", "-2"),
])
def test_out_of_range_values_stop_before_any_work(tmp_path, cli, flag, value):
    data = _write_csv(tmp_path, _good_set(tmp_path))
    code, _, err = cli("train", "--data", data, "--out", tmp_path / "run", flag, value)
    assert code == 2 and f"Invalid value for '{flag}'" in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()


def test_out_of_range_values_from_the_environment_and_the_file_are_one_line(tmp_path, monkeypatch, cli):
    data = _write_csv(tmp_path, _good_set(tmp_path))
    monkeypatch.setenv("ASC_TOOL_BATCH_SIZE", "0")
    code, _, err = cli("train", "--data", data, "--out", tmp_path / "run")
    _assert_one_line_error(code, err, "ASC_TOOL_BATCH_SIZE", "batch_size")
    monkeypatch.delenv("ASC_TOOL_BATCH_SIZE")
    cfg = tmp_path / "c.yaml"
    cfg.write_text("max_seconds: .nan\n")
    code, _, err = cli("--config", cfg, "train", "--data", data, "--out", tmp_path / "run")
    _assert_one_line_error(code, err, "max_seconds", "not a finite number")
    monkeypatch.setenv("ASC_TOOL_SERIAL_PORT", "70000")
    code, _, err = cli("config", "show")
    _assert_one_line_error(code, err, "ASC_TOOL_SERIAL_PORT", "serial_port")


@pytest.mark.parametrize("command", [["emulate", "--elf", "x.elf", "--feed", "a.wav", "--timeout", "inf"],
                                     ["emulate", "--elf", "x.elf", "--feed", "a.wav", "--max-seconds", "nan"],
                                     ["flash", "--runner", "openocd", "--speed", "-5"]])
def test_odd_numbers_on_board_commands_are_refused_by_click(cli, command):
    code, _, err = cli(*command)
    assert code == 2 and "Invalid value" in err and "Traceback" not in err


def test_a_huge_finite_max_seconds_reads_the_whole_recording(tmp_path):
    from asc_toolchain.asc.cache import recording_columns
    from asc_toolchain.asc.features import SEED_PARAMS
    from asc_toolchain.data.audio import load_audio

    path = _noise_wav(tmp_path / "a.wav", 3.0)
    assert np.array_equal(recording_columns(path, SEED_PARAMS, 1e308), recording_columns(path, SEED_PARAMS))
    assert len(load_audio(path, SR, 1e308)) == 3 * SR


# -- odd paths: the file system's refusals are named ---------------------------------------------

@pytest.mark.parametrize("code_,needle", [(errno.EEXIST, "exists and is not a folder"),
                                          (errno.ENOTDIR, "a part of the path is a file"),
                                          (errno.EISDIR, "a folder, where a file is expected"),
                                          (errno.ELOOP, "symbolic link loop"),
                                          (errno.ENAMETOOLONG, "name is too long")])
def test_path_errors_of_the_file_system_become_one_line(code_, needle):
    from asc_toolchain.core.errors import ConfigError, from_os_error

    mapped = from_os_error(OSError(code_, os.strerror(code_), "/some/where"))
    assert isinstance(mapped, ConfigError) and needle in str(mapped) and "/some/where" in str(mapped)


def test_an_output_folder_that_is_a_file_is_one_line(quantized_run, tmp_path, cli):
    taken = tmp_path / "taken"
    taken.write_text("mine\n")
    code, _, err = cli("generate-c", "--run", quantized_run, "--out", taken)
    _assert_one_line_error(code, err, str(taken))
    assert taken.read_text() == "mine\n"


def test_paths_with_spaces_and_a_run_behind_a_symlink_work(quantized_run, tmp_path, cli):
    folder = tmp_path / "my recordings"
    folder.mkdir()
    clip = _noise_wav(folder / "a clip.wav", 3.0)
    data = folder / "my list.csv"
    data.write_text(f'path,label\n"{clip}",indoor\n')
    link = tmp_path / "latest run"
    link.symlink_to(quantized_run, target_is_directory=True)
    code, out, err = cli("evaluate", "--run", link, "--data", data, "--engine", "tflm", "--json")
    assert code == 0, err
    assert json.loads(out)["window"]["n"] == 29            # 3 s: 1 + (48,000 - 33,280) // 512 windows


def test_a_zero_byte_wav_with_skip_bad_is_listed_and_the_rest_scored(quantized_run, tmp_path, cli):
    (tmp_path / "zero.wav").write_bytes(b"")
    good = _noise_wav(tmp_path / "good.wav", 3.0)
    data = _write_csv(tmp_path, ["path,label", f"{tmp_path / 'zero.wav'},indoor", f"{good},indoor"])
    code, out, err = cli("evaluate", "--run", quantized_run, "--data", data, "--engine", "tflm", "--skip-bad",
                         "--json")
    assert code == 0, err
    assert "skipped" in err and "zero.wav" in err and "empty" in err
    assert json.loads(out)["n_clips"] == 1
