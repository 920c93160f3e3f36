"""The training pipeline on the real recordings in ../shared/data/asc (short clips, few epochs)."""

import json

import pytest

from asc_toolchain.core.runs import Run, read_split
from conftest import ASC_META, SHARED_DATA, require_shared

pytestmark = [pytest.mark.data, pytest.mark.slow]


@pytest.fixture(scope="module")
def real_run(tmp_path_factory):
    require_shared(ASC_META)
    from asc_toolchain.cli import main

    out = tmp_path_factory.mktemp("real") / "run"
    code = main(["train", "--data", str(ASC_META), "--root", str(SHARED_DATA), "--out", str(out),
                 "--epochs", "2", "--max-seconds", "8", "--seed", "1"])
    assert code == 0
    return out


def test_real_run_is_leak_free_and_scored(real_run):
    splits = read_split(real_run / "split.csv")
    assert len(splits) == 76
    groups = {}
    for item, split in splits:
        groups.setdefault(item.group, set()).add(split)
    assert all(len(s) == 1 for s in groups.values())
    metrics = json.loads((real_run / "metrics.json").read_text())
    test_clips = sum(1 for _, s in splits if s == "test")
    assert metrics["clip"]["n"] == test_clips
    assert metrics["window"]["n"] == test_clips * (1 + (8 * 16000 - 33280) // 512)     # 64-column windows
    assert Run.open(real_run).manifest["data"]["source"].endswith("metadata.csv")


def test_evaluate_real_recordings_by_csv(real_run, cli, tmp_path):
    rows = ASC_META.read_text().splitlines()
    subset = tmp_path / "three.csv"
    subset.write_text("\n".join([rows[0]] + [r for r in rows[1:] if "__train" in r or "__cafe" in r
                                              or "__river" in r]) + "\n")
    code, out, err = cli("evaluate", "--run", real_run, "--data", subset, "--root", SHARED_DATA, "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["clip"]["n"] == report["n_clips"] >= 3
