"""The CLI contract: help, error lines and exit codes, config precedence, doctor."""

import json
import subprocess
import sys

import pytest


def test_help_lists_the_commands(cli):
    code, out, err = cli("--help")
    assert code == 0
    for name in ("train", "evaluate", "datasets", "config", "doctor", "bench"):
        assert name in out


def test_user_error_is_one_line_exit_2_and_traceback_only_with_v(tmp_path, cli):
    code, out, err = cli("evaluate", "--run", tmp_path / "nope")
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    code, out, err = cli("-v", "evaluate", "--run", tmp_path / "nope")
    assert code == 2 and "Traceback" in err


def test_usage_error_exits_2(cli):
    code, out, err = cli("train", "--epochs", "many")
    assert code == 2 and "epochs" in err


def test_ctrl_c_exits_130(monkeypatch, cli):
    import asc_toolchain.core.doctor as doctor

    def interrupted():
        raise KeyboardInterrupt

    monkeypatch.setattr(doctor, "check_packages", interrupted)
    code, out, err = cli("doctor")
    assert code == 130 and "interrupted" in err


def test_config_precedence_default_file_env_cli(tmp_path, monkeypatch, cli):
    from asc_toolchain.core import config

    cfg = tmp_path / "asc-tool.yaml"
    cfg.write_text("epochs: 12\nbatch_size: 64\noptimizer: sgd\n")
    monkeypatch.setenv("ASC_TOOL_BATCH_SIZE", "32")
    resolved = config.resolve({"optimizer": "adam"}, str(cfg))
    assert resolved["patience"] == (8, "default")
    assert resolved["epochs"] == (12, f"config file {cfg}")
    assert resolved["batch_size"] == (32, "environment")
    assert resolved["optimizer"] == ("adam", "command line")
    code, out, err = cli("--config", cfg, "config", "show", "--json")
    shown = json.loads(out)
    assert shown["epochs"] == {"value": 12, "source": f"config file {cfg}"}
    assert shown["batch_size"]["value"] == 32


def test_config_show_lists_the_board_and_monitor_options(tmp_path, monkeypatch, cli):
    cfg = tmp_path / "asc-tool.yaml"
    cfg.write_text("baud: 57600\nfeed: [a.wav, b.wav]\n")
    monkeypatch.setenv("ASC_TOOL_BOARD", str(tmp_path / "mine.yaml"))
    code, out, err = cli("--config", cfg, "config", "show", "--json")
    shown = json.loads(out)
    assert code == 0 and shown["board"] == {"value": str(tmp_path / "mine.yaml"), "source": "environment"}
    assert shown["baud"] == {"value": 57600, "source": f"config file {cfg}"}
    assert shown["feed"]["value"] == ["a.wav", "b.wav"]
    for name in ("port", "log", "count", "duration", "reconnect_timeout", "max_seconds"):
        assert name in shown
    code, out, err = cli("flash", "--list")           # every --board command follows the same precedence
    assert code == 2 and "mine.yaml: board file not found" in err


def test_bad_config_values_name_the_option(tmp_path, monkeypatch, cli):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("epochs: lots\n")
    code, out, err = cli("--config", cfg, "config", "show")
    assert code == 2 and "epochs" in err and "lots" in err
    cfg.write_text("epoch: 3\n")
    code, out, err = cli("--config", cfg, "config", "show")
    assert code == 2 and "unknown option(s) epoch" in err


def test_doctor_reports_packages_and_tools(cli):
    code, out, err = cli("doctor", "--json")
    assert code == 0
    report = json.loads(out)
    names = {p["name"].lower(): p for p in report["packages"]}
    assert names["numpy"]["ok"] and names["librosa"]["installed"]
    assert {t["name"] for t in report["tools"]} >= {"cc", "cmake", "arm-none-eabi-gcc", "qemu-system-arm"}


def test_console_script_runs():
    done = subprocess.run([sys.executable, "-m", "asc_toolchain.cli", "--version"], capture_output=True, text=True)
    assert done.returncode == 0 and "asc-tool" in done.stdout


def test_datasets_synth_writes_a_documented_synthetic_set(tmp_path, cli):
    code, out, err = cli("datasets", "synth", "--out", tmp_path / "s", "--per-class", "3", "--seconds", "2")
    assert code == 0
    assert "synthetic" in err and "Nothing here was recorded" in (tmp_path / "s" / "README.txt").read_text()
    lines = (tmp_path / "s" / "metadata.csv").read_text().splitlines()
    assert lines[0] == "path,label,group" and len(lines) == 10


@pytest.mark.slow
def test_bench_features_reports_the_spec_keys(cli):
    code, out, err = cli("bench", "features", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert {"windows_per_s", "ratio_vs_librosa", "max_abs_diff_db"} <= set(result)
    assert result["max_abs_diff_db"] <= 1e-3
