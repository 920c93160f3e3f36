"""`asc-tool search` as a user runs it, small but real: Ray starts and trials train; a board with
a tiny SRAM makes the large candidates infeasible and they never train; the chosen model is an
ordinary run (quantize, generate-c; slow: build and emulate, equal to the host C engine); bad input
is one line and exit 2; and (slow) the trials of one search run on both nodes of a two-node local
cluster."""

from __future__ import annotations

import csv
import json

import pytest
from test_second_board import second_board

from asc_toolchain.asc.run import open_asc_run

FAST = ("--epochs", "1", "--max-seconds", "3", "--batch-size", "64", "--inner-folds", "2", "--seed", "0",
        "--families", "ds_cnn", "--depths", "1", "--window-stride", "2")
TINY_SRAM = 32 * 1024            # ds_cnn width 8 fits beside the features and stack; width 64 does not


@pytest.fixture(scope="module")
def searched(synth_dir, tmp_path_factory):
    """One search on the synthetic set: 3 trials on 2 local workers, widths 8 and 64, a 32 KB board."""
    from asc_toolchain.cli import main

    tmp = tmp_path_factory.mktemp("search")
    board = second_board(tmp / "board", ram=TINY_SRAM)
    code = main(["search", "--data", str(synth_dir / "metadata.csv"), "--board", str(board), "--trials", "3",
                 "--workers", "2", "--widths", "8,64", "--cache-dir", str(tmp / "cache"), "--out", str(tmp / "out"),
                 *FAST])
    assert code == 0
    return tmp / "out", json.loads((tmp / "out" / "search.json").read_text())


def test_ray_runs_the_trials_and_they_really_train(searched):
    out, summary = searched
    rows = summary["rows"]
    assert len(rows) == 3 and summary["cluster"]["nodes"] == 1 and summary["cluster"]["cpus"] == 2
    trained = [r for r in rows if r["status"] in ("complete", "stopped")]
    assert trained, rows
    for r in trained:
        assert r["feasible"] and r["epochs_trained"] >= 1 and r["node_id"]
    for r in (r for r in rows if r["status"] == "complete"):
        assert r["epochs_trained"] >= 2 and 0.0 <= r["inner_clip_uar"] <= 1.0    # every inner fold trained
    with open(out / "results.csv", newline="") as f:
        table = list(csv.DictReader(f))
    assert [int(t["trial"]) for t in table] == [r["trial"] for r in rows]
    assert json.loads((out / "results.json").read_text()) == rows
    assert (out / "pareto.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_budget_prunes_before_training(searched):
    _, summary = searched
    rows = summary["rows"]
    assert summary["budget"]["ram_bytes"] == TINY_SRAM
    big = [r for r in rows if r["width"] == 64]
    small = [r for r in rows if r["width"] == 8]
    assert big and small, "the seeded sampler proposes both widths"
    for r in big:
        assert r["status"] == "infeasible" and not r["feasible"], r
        assert r["epochs_trained"] == 0 and r["inner_clip_uar"] is None
        assert r["ram_bytes"] > TINY_SRAM and f"RAM {r['ram_bytes']:,} B > {TINY_SRAM:,} B" in r["reason"]
    for r in small:
        assert r["feasible"] and r["ram_bytes"] <= TINY_SRAM and r["epochs_trained"] >= 1
    assert all(0 < r["instructions"] and 0 < r["load"] < 0.25 for r in small)


def test_the_best_is_an_ordinary_run_tested_on_the_unseen_fold(searched, cli, tmp_path):
    out, summary = searched
    best = summary["best"]
    assert best["status"] == "complete" and best["width"] == 8
    run = open_asc_run(out / "best")
    assert run.manifest["model"]["name"] == "ds_cnn" and run.manifest["model"]["width"] == 8
    outer = summary["settings"]["outer_fold"]
    assert run.manifest["training"]["test_fold"] == outer and run.manifest["training"]["window_stride"] == 2
    metrics = json.loads((out / "best" / "metrics.json").read_text())
    assert summary["outer_test"]["clip_mean"]["uar"] == metrics["clip_mean"]["uar"]
    code, _, err = cli("quantize", "--run", out / "best")
    assert code == 0, err
    code, stdout, err = cli("generate-c", "--run", out / "best", "--out", tmp_path / "c", "--json")
    assert code == 0, err
    assert json.loads(stdout)["activations_bytes"] == best["activations_bytes"]


@pytest.mark.parametrize("args, message", [
    (("--max-load", "0"), "--max-load 0.0: must be a fraction of real time"),
    (("--max-ram", "-5"), "--max-ram -5.0: must be a positive number of bytes"),
    (("--trials", "0"), "--trials 0: must be at least 1"),
    (("--families", "resnet"), "--families: unknown family resnet"),
    (("--max-ram", "12000"), "no candidate fits b-l475e-iot01a"),
])
def test_bad_input_is_one_line_and_exit_2(args, message, synth_dir, tmp_path, cli):
    code, _, err = cli("search", "--data", synth_dir / "metadata.csv", "--out", tmp_path / "out",
                       "--families", "ds_cnn", "--widths", "8", *args)
    assert code == 2 and message in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("address", ["ray://127.0.0.1:1", "no-port"])
def test_an_unreachable_cluster_is_one_line_and_exit_2(address, synth_dir, tmp_path, cli):
    code, _, err = cli("search", "--data", synth_dir / "metadata.csv", "--out", tmp_path / "out", "--address",
                       address, "--cache-dir", tmp_path / "cache", *FAST, "--widths", "8")
    assert code == 2 and f"--address {address}: cannot reach a Ray cluster" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_trials_of_one_search_run_on_both_nodes_of_a_cluster(synth_dir, tmp_path, cli):
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    try:
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        code, stdout, err = cli("search", "--data", synth_dir / "metadata.csv", "--out", tmp_path / "out",
                                "--address", cluster.address, "--trials", "2", "--widths", "8,12",
                                "--cache-dir", tmp_path / "cache", "--json", *FAST)
    finally:
        cluster.shutdown()
    assert code == 0, err
    summary = json.loads(stdout)
    assert summary["cluster"]["nodes"] == 2 and summary["cluster"]["cpus"] == 2
    nodes = {r["node_id"] for r in summary["rows"]}
    assert len(nodes) == 2, summary["rows"]


@pytest.mark.slow
@pytest.mark.toolchain
def test_the_best_run_builds_and_runs_in_the_emulated_board(searched, synth_dir, cli):
    from conftest import require_tool
    from test_firmware_build import require_cross_tools

    require_cross_tools()
    require_tool("qemu-system-arm")
    out, _ = searched
    best = out / "best"
    if not (best / "model_int8.tflite").is_file():
        assert cli("quantize", "--run", best)[0] == 0
    code, _, err = cli("generate-c", "--run", best)
    assert code == 0, err
    code, stdout, err = cli("build", "--run", best, "--json")
    assert code == 0, err
    assert json.loads(stdout)["ram_bytes"] <= json.loads(stdout)["ram_size_bytes"]
    clip = sorted((synth_dir).rglob("*.wav"))[0]
    code, stdout, err = cli("emulate", "--run", best, "--feed", clip, "--max-seconds", "3", "--json")
    assert code == 0, err
    report = json.loads(stdout)
    assert report["windows"] >= 1
    agreement = report["agreement"]                          # the board answers as the host C engine
    assert agreement["scores_equal"] == agreement["windows"] == report["windows"]


def test_a_deep_untrained_candidate_is_priced_not_refused():
    """Pricing builds each candidate untrained; a deep one shrinks random input to logits too
    small for an int8 softmax, yet it is priced (RAM, flash, instructions), not turned down."""
    from asc_toolchain.asc.model import ModelSpec
    from asc_toolchain.asc.search_budget import estimate, make_budget

    row = estimate(ModelSpec(name="ds_cnn", width=24, depth=6), make_budget("b-l475e-iot01a"))
    assert row["feasible"], row["reason"]
    assert row["weights_bytes"] > 0 and row["instructions"] > row["macc"] > 0
