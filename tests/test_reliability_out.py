"""Output folders: --out is checked before any work (group 3); a full disk is one line and
leaves nothing behind, SIGTERM cleans up like Ctrl-C (group 2); TensorFlow's start-up lines
stay off stderr unless -v (group 8)."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from test_bad_input import _assert_one_line_error, _good_set, _write_csv

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def no_work(monkeypatch):
    """Loading data fails the test: whatever is checked must be checked before that."""
    import asc_toolchain.asc.train as train

    def started(*args, **kwargs):
        raise AssertionError("work started before --out was checked")

    monkeypatch.setattr(train, "load_items", started)


def _mount_tmpfs(where: Path, *options: str) -> Path:
    where.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", ",".join(options), "tmpfs", str(where)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({result.stderr.strip() or 'not permitted'})")
    return where


@pytest.fixture
def small_disk(tmp_path):
    """A 200 kB tmpfs (unmounted afterwards); skipped where mounting is not permitted."""
    disk = _mount_tmpfs(tmp_path / "small", "size=200k")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def test_out_under_a_file_is_refused_before_any_work(tmp_path, cli, no_work):
    (tmp_path / "notes.txt").write_text("mine")
    code, _, err = cli("train", "--data", tmp_path / "any.csv", "--out", tmp_path / "notes.txt" / "run")
    _assert_one_line_error(code, err, "notes.txt", "is a file")
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_out_that_is_a_file_is_refused_before_any_work(tmp_path, cli, no_work):
    (tmp_path / "run").write_text("mine")
    code, _, err = cli("train", "--data", tmp_path / "any.csv", "--out", tmp_path / "run")
    _assert_one_line_error(code, err, "run", "is a file, not a run directory")
    assert (tmp_path / "run").read_text() == "mine"


def test_out_that_is_a_foreign_folder_is_refused_before_any_work(tmp_path, cli, no_work):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    code, _, err = cli("train", "--data", tmp_path / "any.csv", "--out", tmp_path / "mine")
    _assert_one_line_error(code, err, "mine", "not a run directory")
    assert [p.name for p in tmp_path.iterdir()] == ["mine"]


def test_out_on_a_read_only_device_is_refused_before_any_work(tmp_path, cli, no_work):
    disk = _mount_tmpfs(tmp_path / "ro", "size=1m", "ro")
    try:
        code, _, err = cli("train", "--data", tmp_path / "any.csv", "--out", disk / "runs" / "a")
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)
    _assert_one_line_error(code, err, str(disk), "not writable", "read-only")


def test_out_without_room_is_refused_before_any_work(small_disk, cli, no_work):
    code, _, err = cli("train", "--data", small_disk / "any.csv", "--out", small_disk / "run")
    _assert_one_line_error(code, err, f"no space left on tmpfs at {small_disk}", "needed about", "B free")
    assert list(small_disk.iterdir()) == []


def test_jetson_ser_out_is_checked_before_any_work(tmp_path, cli, monkeypatch):
    import asc_toolchain.ser.train as ser_train

    def started(*args, **kwargs):
        raise AssertionError("work started before --out was checked")

    monkeypatch.setattr(ser_train, "load_ser_items", started)
    (tmp_path / "run").write_text("mine")
    code, _, err = cli("train", "--target", "jetson-ser", "--data", tmp_path / "any.csv", "--out", tmp_path / "run")
    _assert_one_line_error(code, err, "is a file, not a run directory")


def test_disk_full_while_writing_removes_the_temporary_folder(small_disk):
    from asc_toolchain.core.errors import AscError
    from asc_toolchain.core.runs import write_json, write_run

    older = small_disk / "run"
    older.mkdir()
    write_json(older / "manifest.json", {"target": "stm32-asc", "class_names": ["a", "b"]})
    before = (older / "manifest.json").read_bytes()
    with pytest.raises(AscError) as caught:
        with write_run(older) as tmp:
            (tmp / "model.keras").write_bytes(b"\0" * 400_000)
    assert f"no space left on tmpfs at {small_disk}" in str(caught.value)
    assert [p.name for p in small_disk.iterdir()] == ["run"]
    assert (older / "manifest.json").read_bytes() == before


def test_any_write_that_fills_the_disk_is_one_line(small_disk, cli):
    code, _, err = cli("datasets", "synth", "--out", small_disk / "set", "--per-class", "4", "--seconds", "8")
    _assert_one_line_error(code, err, f"no space left on tmpfs at {small_disk}")
    assert list(small_disk.iterdir()) == []


DRIVER = """
import os, signal, sys, time
import asc_toolchain.asc.train as train
import asc_toolchain.core.plots as plots

def fill_disk_after(fit):
    def wrapped(*args, **kwargs):
        result = fit(*args, **kwargs)
        free = os.statvfs(os.environ["FILL"]).f_bavail * os.statvfs(os.environ["FILL"]).f_frsize
        with open(os.path.join(os.environ["FILL"], "filler"), "wb") as f:
            f.write(b"x" * max(0, free - 100_000))     # another program fills the disk meanwhile
        return result
    return wrapped

def terminated(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(30)

if os.environ.get("FILL"):
    train.fit_model = fill_disk_after(train.fit_model)
if os.environ.get("TERM_WHILE_WRITING"):
    plots.plot_history = terminated
from asc_toolchain.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _train_in_subprocess(tmp_path, out, env_extra):
    data = _write_csv(tmp_path, _good_set(tmp_path))
    driver = tmp_path / "driver.py"
    driver.write_text(textwrap.dedent(DRIVER))
    env = {**os.environ, **env_extra, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, str(driver), "train", "--data", str(data), "--out", str(out),
                           "--epochs", "1"], capture_output=True, text=True, env=env, timeout=600)


def _older_run(synth_run, where):
    shutil.copytree(synth_run, where)
    return {p.name: p.read_bytes() for p in where.iterdir()}


@pytest.mark.slow
def test_disk_filling_up_during_training_is_one_line_and_the_older_run_survives(synth_run, tmp_path):
    disk = _mount_tmpfs(tmp_path / "disk", "size=2m")
    try:
        before = _older_run(synth_run, disk / "run")
        done = _train_in_subprocess(tmp_path, disk / "run", {"FILL": str(disk)})
        assert done.returncode == 2, done.stderr[-2000:]
        _assert_one_line_error(done.returncode, done.stderr, f"no space left on tmpfs at {disk}", "needed about")
        assert sorted(p.name for p in disk.iterdir()) == ["filler", "run"]           # no run.tmp-*
        assert {p.name: p.read_bytes() for p in (disk / "run").iterdir()} == before
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


@pytest.mark.slow
def test_sigterm_while_writing_cleans_up_like_ctrl_c(synth_run, tmp_path):
    before = _older_run(synth_run, tmp_path / "runs" / "run")
    done = _train_in_subprocess(tmp_path, tmp_path / "runs" / "run", {"TERM_WHILE_WRITING": "1"})
    assert done.returncode == 143, done.stderr[-2000:]
    assert done.stderr.strip().splitlines()[-1] == "terminated" and "Traceback" not in done.stderr
    assert [p.name for p in (tmp_path / "runs").iterdir()] == ["run"]            # no run.tmp-*
    assert {p.name: p.read_bytes() for p in (tmp_path / "runs" / "run").iterdir()} == before


@pytest.mark.slow
def test_tensorflow_start_up_lines_stay_off_stderr_unless_verbose(synth_run):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_CPP")}
    asc_tool = str(Path(sys.executable).with_name("asc-tool"))
    quiet = subprocess.run([asc_tool, "evaluate", "--run", str(synth_run)], capture_output=True, text=True,
                           env=env, timeout=600)
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr.splitlines()[0].startswith("keras on "), quiet.stderr[:600]
    if platform.machine() != "x86_64":
        return                   # the oneDNN / CPU-feature lines below are TensorFlow's on x86-64
    loud = subprocess.run([asc_tool, "-v", "evaluate", "--run", str(synth_run)], capture_output=True, text=True,
                          env=env, timeout=600)
    assert loud.returncode == 0 and ("oneDNN" in loud.stderr or "cpu_feature_guard" in loud.stderr)
