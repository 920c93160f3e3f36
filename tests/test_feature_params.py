"""--n-fft, --n-mels and --columns: a run trained on other log-mel parameters records them, and
the generated C front end, the firmware and the emulated board follow them; values the C front
end cannot take stop before any work with one line."""

from __future__ import annotations

import json

import numpy as np
import pytest

from asc_toolchain.asc.features import SEED_PARAMS, FeatureParams
from asc_toolchain.codegen import cost
from conftest import require_tool

OTHER = ["--n-fft", "512", "--n-mels", "40", "--columns", "24"]


@pytest.mark.slow
@pytest.mark.toolchain
def test_a_run_on_other_features_builds_and_the_emulated_board_equals_the_host(synth_dir, tmp_path, cli):
    require_tool("arm-none-eabi-gcc")
    require_tool("qemu-system-arm")
    run = tmp_path / "run"
    code, _, err = cli("train", "--data", synth_dir / "metadata.csv", "--out", run, *OTHER, "--model", "inverted",
                       "--width", "8", "--depth", "2", "--epochs", "2", "--cache-dir", tmp_path / "cache")
    assert code == 0, err
    features = json.loads((run / "manifest.json").read_text())["features"]
    assert (features["n_fft"], features["hop_length"], features["n_mels"], features["n_columns"]) == (512, 256, 40, 24)
    assert features["window_samples"] == 23 * 256 + 512
    for step in (["quantize", "--run", run], ["generate-c", "--run", run], ["build", "--run", run]):
        code, _, err = cli(*step)
        assert code == 0, err
    header = (run / "c" / "asc_features.h").read_text()
    for line in ("ASC_FEATURES_HOP 256", "ASC_FEATURES_N_FFT 512", "ASC_FEATURES_N_MELS 40",
                 "ASC_FEATURES_N_COLUMNS 24", "ASC_FEATURES_INPUT_SIZE 960"):
        assert f"#define {line}" in header
    clip = sorted((synth_dir / "vehicle").glob("*.wav"))[0]
    code, out, err = cli("emulate", "--run", run, "--feed", clip, "--max-seconds", "3", "--json")
    assert code == 0, err
    report = json.loads(out)
    windows = 1 + (3 * 16000 - 6400) // (24 * 256)      # the firmware classifies every 24 new columns
    assert report["boot"]["hop"] == 256 and report["boot"]["columns"] == 24
    assert report["windows"] == windows == report["agreement"]["scores_equal"] == report["agreement"]["labels_equal"]


@pytest.mark.parametrize("flags,message", [
    (["--n-fft", "1000"], "n_fft 1000 is not supported by the C feature front end"),
    (["--n-fft", "256", "--n-mels", "120"], "120 mel bands with n_fft 256: band 0 holds no FFT bin"),
    (["--columns", "8"], "30 mels x 8 columns is too small for seed_cnn"),
])
def test_feature_values_the_front_end_cannot_take_are_one_line_before_any_work(flags, message, synth_dir,
                                                                              tmp_path, cli):
    for command in ("train", "cv"):
        out = tmp_path / command
        code, stdout, err = cli(command, "--data", synth_dir / "metadata.csv", "--out", out, *flags,
                                "--cache-dir", tmp_path / "cache")
        assert code == 2 and stdout == ""
        assert message in err and len(err.strip().splitlines()) == 1
        assert not out.exists() and not (tmp_path / "cache").exists()


def test_the_search_budget_prices_the_front_end_of_its_features():
    """The load and the features' RAM of a candidate follow --n-fft/--n-mels/--columns: a 512-point
    front end classifying every 24 columns (0.384 s) leaves less of each second to the network."""
    from asc_toolchain.asc.model import ModelSpec
    from asc_toolchain.asc.search_budget import estimate, make_budget

    other = FeatureParams(n_fft=512, hop_length=256, n_mels=40, n_columns=24)
    seed, small = make_budget("b-l475e-iot01a"), make_budget("b-l475e-iot01a", features=other)
    instructions, seconds = cost.feature_window(other)
    assert seconds == pytest.approx(0.384) and cost.feature_window(SEED_PARAMS) == (
        cost.FEATURE_INSTRUCTIONS_PER_WINDOW, 1.024)
    per_second = instructions / seconds
    assert per_second > cost.FEATURE_INSTRUCTIONS_PER_WINDOW / 1.024        # C, twice the frames
    assert small.network_instructions_max() == int(np.floor(0.25 * 0.384 * 80e6 - instructions))
    assert small.to_dict()["features"]["n_mels"] == 40
    spec = dict(name="inverted", width=8, depth=2)
    row_seed = estimate(ModelSpec(**spec), seed)
    row_small = estimate(ModelSpec(**spec, n_mels=40, n_columns=24), small)
    assert row_small["feasible"] and row_seed["feasible"]
    assert row_small["load"] > row_seed["load"]
    assert estimate(ModelSpec(name="seed_cnn", n_mels=40, n_columns=8), small) == {
        "feasible": False, "reason": "40 mels x 8 columns is too small for seed_cnn: it needs at least 10 of each"}
