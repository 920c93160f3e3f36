"""Recipe elements: each is an option that changes the training batches as documented, seeded;
off (the default) leaves the batches as they were."""

from __future__ import annotations

import numpy as np
import pytest

from asc_toolchain.asc.augment import AugmentedBatches, Recipe, _equalise, _freq_mixstyle, _reverberate, _roll
from asc_toolchain.asc.cache import FeatureCache
from asc_toolchain.asc.features import SEED_PARAMS
from asc_toolchain.asc.pipeline import WindowIndex, fit_scaler
from asc_toolchain.data.datasets import load_items


@pytest.fixture(scope="module")
def index(synth_dir):
    items = load_items(synth_dir / "metadata.csv")[::3]
    return WindowIndex.build(items, ["indoor", "outdoor", "vehicle"], FeatureCache(SEED_PARAMS, 3.0, None))


def _batch(index, recipe, seed=0):
    scaler = fit_scaler(index)
    batches = AugmentedBatches(index, scaler, 32, recipe, seed)
    x, y = batches[0]
    return x[..., 0], y, batches.order[:32], scaler


def test_default_recipe_only_masks_the_standardised_windows(index):
    x, y, idx, scaler = _batch(index, Recipe())
    clean = scaler.transform(index.windows(idx))
    assert np.array_equal(y, index.y[idx])
    kept = x != 0
    assert np.array_equal(x[kept], clean[kept])
    masked_cols = np.all(x == 0, axis=1).sum(axis=1)
    assert masked_cols.max() <= 4 and masked_cols.sum() > 0


@pytest.mark.parametrize("recipe", [Recipe(eq_db=6), Recipe(time_roll=8), Recipe(freq_mixstyle=1.0),
                                    Recipe(reverb=1.0), Recipe("both", 0.5, 6, 4, 0.5)])
def test_each_element_changes_the_batch_and_is_seeded(index, recipe):
    plain, _, _, _ = _batch(index, Recipe())
    x, _, _, _ = _batch(index, recipe)
    again, _, _, _ = _batch(index, recipe)
    assert x.tobytes() == again.tobytes()
    assert not np.array_equal(x, plain)
    assert np.all(np.isfinite(x))


def test_equaliser_keeps_the_window_normalisation(index):
    raw = index.windows(np.arange(16))
    out = _equalise(raw, np.random.default_rng(1), 6.0, 80.0)
    assert np.allclose(out.max(axis=(1, 2)), 0.0) and out.min() >= -80.0
    shift = (out - raw)[raw > -60]                  # away from the floor, a level curve per band
    assert 0 < np.abs(shift).max() <= 12.0 + 1e-4


def test_time_roll_moves_columns_only(index):
    raw = index.windows(np.arange(8))
    out = _roll(raw, np.random.default_rng(2), 8)
    for a, b in zip(raw, out):
        assert any(np.array_equal(np.roll(a, s, axis=1), b) for s in range(-8, 9))


def test_reverb_adds_a_decaying_tail_after_each_sound_and_none_before():
    """A click in column 10 of an otherwise silent window: the room adds energy after it, never
    before, falling with time, faster in the high bands; the window stays normalised."""
    raw = np.full((4, 30, 32), -80.0, np.float32)
    raw[:, :, 10] = 0.0
    assert np.array_equal(_reverberate(raw, np.random.default_rng(4), 0.0, SEED_PARAMS), raw)
    out = _reverberate(raw, np.random.default_rng(4), 1.0, SEED_PARAMS)
    assert np.allclose(out.max(axis=(1, 2)), 0.0) and out.min() >= -80.0
    assert np.all(out[:, :, :10] < -79.0)               # the floor's own (tiny) energy only
    tail = out[:, :, 11:]
    assert np.all(tail[:, :, 0] > -80.0)
    assert np.all(np.diff(np.maximum(tail, -79.0), axis=2) <= 1e-4)     # decays (until the floor)
    assert np.all(tail[:, 0, 5] > tail[:, -1, 5])                      # low band rings longer


def test_freq_mixstyle_off_is_identity_and_on_mixes_band_statistics(index):
    x = index.windows(np.arange(16)) / 10
    assert np.array_equal(_freq_mixstyle(x, np.random.default_rng(3), 0.0), x)
    mixed = _freq_mixstyle(x, np.random.default_rng(3), 1.0)
    assert not np.allclose(mixed.mean(axis=2), x.mean(axis=2))        # band levels re-coloured
    lo = x.mean(axis=2).min(axis=0) - 1e-4
    hi = x.mean(axis=2).max(axis=0) + 1e-4
    assert np.all((mixed.mean(axis=2) >= lo) & (mixed.mean(axis=2) <= hi))   # a mix of the batch's levels


def test_recipe_options_reach_the_manifest(synth_dir, tmp_path, cli):
    import json

    code, _, err = cli("train", "--data", synth_dir / "metadata.csv", "--out", tmp_path / "run", "--epochs", "1",
                       "--max-seconds", "3", "--eq-db", "6", "--time-roll", "4", "--freq-mixstyle", "0.5",
                       "--reverb", "0.3", "--cache-dir", tmp_path / "cache")
    assert code == 0, err
    training = json.loads((tmp_path / "run" / "manifest.json").read_text())["training"]
    assert (training["eq_db"], training["time_roll"], training["freq_mixstyle"], training["reverb"]) \
        == (6.0, 4, 0.5, 0.3)
    code, _, err = cli("train", "--data", synth_dir / "metadata.csv", "--out", tmp_path / "r2",
                       "--freq-mixstyle", "2")
    assert code == 2 and "--freq-mixstyle" in err
