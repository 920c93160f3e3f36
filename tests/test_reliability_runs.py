"""Run folders under stress: damaged runs are named with a way back (group 1), a run is read as
one snapshot and of two writers one wins and the other is told (group 4), run folders follow
the user's umask (group 8)."""

from __future__ import annotations

import json
import shutil
import threading

import numpy as np
import pytest

from asc_toolchain.core.errors import RunError
from asc_toolchain.core.runs import Run, write_json, write_run
from test_bad_input import _assert_one_line_error


def _copy_run(synth_run, dest):
    shutil.copytree(synth_run, dest)
    return dest


def _edit_manifest(run, edit):
    m = json.loads((run / "manifest.json").read_text())
    (run / "manifest.json").write_text(json.dumps(edit(m) or m))


def _damage(run, case):
    if case == "model-truncated":
        data = (run / "model.keras").read_bytes()
        (run / "model.keras").write_bytes(data[: len(data) // 3])
    elif case == "scaler-garbage":
        (run / "scaler.npz").write_bytes(b"this is not a zip archive\n" * 40)
    elif case == "split-header":
        text = (run / "split.csv").read_text()
        (run / "split.csv").write_text(text.replace("path,label,group,split", "path,label,group,part", 1))
    elif case == "manifest-list":
        (run / "manifest.json").write_text("[]\n")
    elif case == "manifest-no-class-names":
        _edit_manifest(run, lambda m: m.pop("class_names") and None)
    elif case == "manifest-not-utf8":
        raw = (run / "manifest.json").read_bytes()
        (run / "manifest.json").write_bytes(raw[:40] + b"\xff\xfe" + raw[40:])
    elif case == "model-missing":
        (run / "model.keras").unlink()


DAMAGES = {"model-truncated": "model.keras", "scaler-garbage": "scaler.npz", "split-header": "split.csv",
           "manifest-list": "manifest.json", "manifest-no-class-names": "manifest.json",
           "manifest-not-utf8": "manifest.json", "model-missing": "model.keras"}


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(DAMAGES))
def test_damaged_run_names_the_file_and_how_to_recover(synth_run, tmp_path, cli, case):
    run = _copy_run(synth_run, tmp_path / "run")
    _damage(run, case)
    code, out, err = cli("evaluate", "--run", run, "--json")
    _assert_one_line_error(code, err, f"{run / DAMAGES[case]}", "damaged", "train it again", "backup")
    assert out == ""


@pytest.mark.slow
@pytest.mark.parametrize("command", ["quantize", "generate-c"])
def test_every_stage_refuses_a_damaged_run_the_same_way(synth_run, tmp_path, cli, command):
    run = _copy_run(synth_run, tmp_path / "run")
    _damage(run, "scaler-garbage")
    extra = ["--out", tmp_path / "c"] if command == "generate-c" else []
    code, out, err = cli(command, "--run", run, *extra)
    _assert_one_line_error(code, err, f"{run / 'scaler.npz'}", "damaged")


@pytest.mark.slow
@pytest.mark.parametrize("case", ["model-truncated", "scaler-garbage", "split-header"])
def test_a_run_without_a_file_table_is_still_checked_as_it_is_read(synth_run, tmp_path, cli, case):
    run = _copy_run(synth_run, tmp_path / "run")
    _edit_manifest(run, lambda m: [m.pop("files", None), m.pop("run_id", None)] and None)
    _damage(run, case)
    code, out, err = cli("evaluate", "--run", run)
    _assert_one_line_error(code, err, f"{run / DAMAGES[case]}", "damaged")


def _other_model_run(synth_run, dest):
    """A run like ``synth_run`` (without a file table) whose model predicts class 0 for everything."""
    import keras

    _copy_run(synth_run, dest)
    model = keras.models.load_model(dest / "model.keras", compile=False)
    w, b = model.layers[-1].get_weights()
    model.layers[-1].set_weights([np.zeros_like(w), np.array([10.0] + [0.0] * (len(b) - 1), b.dtype)])
    model.save(dest / "model.keras")
    _edit_manifest(dest, lambda m: [m.pop("files", None), m.pop("run_id", None)] and None)
    return dest


@pytest.mark.slow
def test_evaluate_reads_one_snapshot_while_the_run_is_replaced(synth_run, tmp_path, cli, monkeypatch):
    import asc_toolchain.asc.pipeline as pipeline

    run = _copy_run(synth_run, tmp_path / "run")
    other = _other_model_run(synth_run, tmp_path / "other")
    real = pipeline.stream_index

    def replace_then_collect(*args, **kwargs):        # another `train --out run` lands mid-evaluate
        if (run / "manifest.json").read_bytes() != (other / "manifest.json").read_bytes():
            with write_run(run) as tmp:
                for p in other.iterdir():
                    shutil.copy2(p, tmp / p.name)
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "stream_index", replace_then_collect)
    code, out, err = cli("evaluate", "--run", run, "--json")
    stored = json.loads((synth_run / "metrics.json").read_text())
    assert (run / "manifest.json").read_bytes() == (other / "manifest.json").read_bytes(), "not replaced"
    if code == 0:     # scored entirely with the run it opened: its own stored test metrics
        assert json.loads(out)["window"]["confusion_matrix"] == stored["window"]["confusion_matrix"]
    else:
        _assert_one_line_error(code, err, "replaced")


@pytest.mark.slow
def test_two_trainings_into_one_folder_one_wins_and_the_other_is_told(synth_run, synth_dir, tmp_path,
                                                                     cli, monkeypatch):
    import asc_toolchain.asc.train as train

    out = tmp_path / "run"
    real_fit = train.fit_model

    def fit_while_another_finishes(*args, **kwargs):
        result = real_fit(*args, **kwargs)
        with write_run(out) as tmp:                 # the other training finishes first
            for p in synth_run.iterdir():
                shutil.copy2(p, tmp / p.name)
        return result

    monkeypatch.setattr(train, "fit_model", fit_while_another_finishes)
    code, _, err = cli("train", "--data", synth_dir / "metadata.csv", "--out", out, "--epochs", "1",
                       "--max-seconds", "3")
    _assert_one_line_error(code, err, str(out), "changed while this command ran", "discarded")
    winner = Run.open(out)
    assert winner.run_id == json.loads((synth_run / "manifest.json").read_text())["run_id"]
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_six_hundred_racing_swaps_leave_one_complete_folder(tmp_path):
    final = tmp_path / "run"
    outcomes, failures = [], []

    def writer(k):
        for i in range(75):
            try:
                with write_run(final) as tmp:
                    (tmp / "model.keras").write_bytes(f"{k}-{i}".encode() * 50)
                    write_json(tmp / "manifest.json", {"target": "stm32-asc", "class_names": ["a", "b"],
                                                       "writer": [k, i]})
                outcomes.append("won")
            except RunError as exc:
                assert "changed while this command ran" in exc.message, exc.message
                outcomes.append("lost")
            except BaseException as exc:  # noqa: BLE001 - any other outcome is the bug
                failures.append(repr(exc))

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures[:3]
    assert len(outcomes) == 600 and "won" in outcomes
    assert [p.name for p in tmp_path.iterdir()] == ["run"]           # no run.tmp-* / run.old-*
    k, i = json.loads((final / "manifest.json").read_text())["writer"]
    assert (final / "model.keras").read_bytes() == f"{k}-{i}".encode() * 50


@pytest.mark.parametrize("umask,mode", [(0o022, 0o755), (0o077, 0o700), (0o002, 0o775)])
def test_written_folders_follow_the_umask(tmp_path, cli, umask, mode):
    import os

    old = os.umask(umask)
    try:
        code, _, err = cli("datasets", "synth", "--out", tmp_path / "set", "--per-class", "3", "--seconds", "2")
    finally:
        os.umask(old)
    assert code == 0, err
    assert (tmp_path / "set").stat().st_mode & 0o777 == mode
    assert (tmp_path / "set" / "metadata.csv").stat().st_mode & 0o777 == mode & 0o666
