"""The feature cache and the window pipeline: columns stored once per content and parameters,
windows cut batch by batch bit-identical to the materialised features."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import soundfile as sf

from asc_toolchain.asc.cache import FeatureCache
from asc_toolchain.asc.features import SEED_PARAMS, FeatureParams, Scaler, logmel_windows
from asc_toolchain.asc.pipeline import WindowBatches, WindowIndex, fit_scaler
from asc_toolchain.asc.windows import window_features
from asc_toolchain.data.audio import load_audio
from asc_toolchain.data.datasets import load_items

CLASSES = ["indoor", "outdoor", "vehicle"]


def _items(synth_dir, n=5):
    return load_items(synth_dir / "metadata.csv")[:n]


def _with_silence(tmp_path, synth_dir):
    """A recording whose middle second is digital silence (silent windows, -inf columns)."""
    y, sr = sf.read(synth_dir / "indoor" / "synth_indoor_00.wav", dtype="float32")
    y[sr:2 * sr] = 0.0
    y[int(0.5 * sr):int(0.5 * sr) + 20000] = 0.0
    path = tmp_path / "gap.wav"
    sf.write(path, y, sr)
    return path


def test_pipeline_windows_are_bit_identical_to_the_materialised_features(synth_dir, tmp_path):
    items = _items(synth_dir)
    gap = _with_silence(tmp_path, synth_dir)
    items.append(type(items[0])(gap, "indoor", "gap", "gap"))
    index = WindowIndex.build(items, CLASSES, FeatureCache(SEED_PARAMS, None, tmp_path / "cache"))
    expected = np.concatenate([logmel_windows(load_audio(it.path, 16000)) for it in items])
    assert len(index) == len(expected)
    shuffled = np.random.default_rng(0).permutation(len(index))
    got = np.empty_like(expected)
    got[shuffled] = index.windows(shuffled)
    assert got.tobytes() == expected.tobytes()
    assert np.any(np.all(expected == -80.0, axis=(1, 2))), "the silent windows were exercised"


def test_scaled_batches_equal_the_old_scaled_features(synth_dir, tmp_path):
    items = _items(synth_dir)
    old = window_features(items, CLASSES)
    index = WindowIndex.build(items, CLASSES, FeatureCache(SEED_PARAMS, None, None))
    streamed, reference = fit_scaler(index, chunk=100), Scaler.fit(old.x)
    np.testing.assert_allclose(streamed.mean, reference.mean, rtol=1e-6, atol=1e-5)
    np.testing.assert_allclose(streamed.scale, reference.scale, rtol=1e-5)
    batches = WindowBatches(index, reference, batch_size=64)
    x = np.concatenate([batches[i][0] for i in range(len(batches))])[..., 0]
    assert x.tobytes() == reference.transform(old.x).tobytes()
    assert np.array_equal(np.concatenate([batches[i][1] for i in range(len(batches))]), old.y)
    assert np.array_equal(index.clip, old.clip)


def test_second_use_reads_the_cache_and_a_changed_file_is_recomputed(synth_dir, tmp_path):
    items = _items(synth_dir, 3)
    copy = tmp_path / "data"
    shutil.copytree(synth_dir, copy)
    items = _items(copy, 3)
    first = FeatureCache(SEED_PARAMS, None, tmp_path / "cache")
    a = WindowIndex.build(items, CLASSES, first)
    assert (first.computed, first.read) == (3, 0)
    assert len(list((tmp_path / "cache").glob("*.npy"))) == 3
    second = FeatureCache(SEED_PARAMS, None, tmp_path / "cache")
    b = WindowIndex.build(items, CLASSES, second)
    assert (second.computed, second.read) == (0, 3)
    assert a.windows(np.arange(len(a))).tobytes() == b.windows(np.arange(len(b))).tobytes()
    y, sr = sf.read(items[0].path, dtype="float32")
    sf.write(items[0].path, 0.5 * y, sr)                       # same name, new content
    third = FeatureCache(SEED_PARAMS, None, tmp_path / "cache")
    WindowIndex.build(items, CLASSES, third)
    assert (third.computed, third.read) == (1, 2)
    other = FeatureCache(FeatureParams(n_mels=20), None, tmp_path / "cache")
    assert other.key(items[1].path) != second.key(items[1].path)
    assert FeatureCache(SEED_PARAMS, 3.0, None).key(items[1].path) != second.key(items[1].path)


def test_repeated_recordings_share_their_columns(synth_dir):
    items = _items(synth_dir, 2)
    one = WindowIndex.build(items, CLASSES, FeatureCache(SEED_PARAMS, None, None))
    four = WindowIndex.build(items * 4, CLASSES, FeatureCache(SEED_PARAMS, None, None))
    assert four.db.shape == one.db.shape
    assert len(four) == 4 * len(one)
    assert len(four.items) == 8 and four.clip.max() == 7


def test_subset_keeps_the_chosen_recordings_and_renumbers_clips(synth_dir):
    items = _items(synth_dir, 4)
    index = WindowIndex.build(items, CLASSES, FeatureCache(SEED_PARAMS, None, None))
    part = index.subset([False, True, False, True])
    assert [it.path for it in part.items] == [items[1].path, items[3].path]
    assert sorted(set(part.clip.tolist())) == [0, 1]
    expected = np.concatenate([logmel_windows(load_audio(items[k].path, 16000)) for k in (1, 3)])
    assert part.windows(np.arange(len(part))).tobytes() == expected.tobytes()


def test_train_records_the_cache_and_leaves_columns_there(synth_dir, tmp_path, cli):
    code, out, err = cli("train", "--data", synth_dir / "metadata.csv", "--out", tmp_path / "run",
                         "--epochs", "1", "--cache-dir", tmp_path / "cache", "--max-seconds", "3")
    assert code == 0, err
    assert len(list((tmp_path / "cache").glob("*.npy"))) == 18


def test_uncached_recordings_are_computed_by_parallel_workers_bit_for_bit(synth_dir, tmp_path):
    """Two extraction processes compute what one process would, byte for byte; a recording they
    cannot read is left to the reading pass, which reports it (here: skipped with its reason)."""
    items = _items(synth_dir, 6)
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF not really a wave file")
    items.append(type(items[0])(broken, "indoor", "broken", "broken"))
    one = FeatureCache(SEED_PARAMS, None, tmp_path / "one", workers=1)
    two = FeatureCache(SEED_PARAMS, None, tmp_path / "two", workers=2)
    assert one.prefetch(items) == 0 and two.prefetch(items) == 6 and two.computed == 6
    skipped_one, skipped_two = [], []
    a = WindowIndex.build(items, CLASSES, one, skip_bad=True, skipped=skipped_one)
    b = WindowIndex.build(items, CLASSES, two, skip_bad=True, skipped=skipped_two)
    assert (one.computed, two.computed, two.read) == (6, 6, 0)
    assert [str(p) for p, _ in skipped_two] == [str(p) for p, _ in skipped_one] == [str(broken)]
    assert a.windows(np.arange(len(a))).tobytes() == b.windows(np.arange(len(b))).tobytes()
    for stored in sorted((tmp_path / "one").glob("*.npy")):
        assert (tmp_path / "two" / stored.name).read_bytes() == stored.read_bytes()
    assert two.prefetch(items) == 0, "nothing left to compute"


@pytest.mark.slow
def test_on_a_ray_cluster_the_columns_are_computed_as_tasks(synth_dir, tmp_path):
    import logging

    import ray

    items = _items(synth_dir, 4)
    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False)
    try:
        on_ray = FeatureCache(SEED_PARAMS, None, tmp_path / "ray", workers=1)
        on_ray.ray = True
        assert on_ray.prefetch(items) == 4
    finally:
        ray.shutdown()
    local = FeatureCache(SEED_PARAMS, None, None, workers=1)
    for item in items:
        assert on_ray.columns(item).tobytes() == local.columns(item).tobytes()
    assert (on_ray.computed, on_ray.read, local.computed) == (4, 0, 4)
    assert len(list((tmp_path / "ray").glob("*.npy"))) == 4


def test_strided_windows_are_every_nth_of_each_recording_from_its_first(synth_dir):
    items = _items(synth_dir, 3)
    index = WindowIndex.build(items, CLASSES, FeatureCache(SEED_PARAMS, None, None))
    every = index.subset([True, False, True])        # clips renumbered: a subset's windows stay contiguous
    third = every.strided(3)
    for clip in range(len(every.items)):
        mine = every.windows(np.flatnonzero(every.clip == clip))
        kept = third.windows(np.flatnonzero(third.clip == clip))
        assert len(kept) == -(-len(mine) // 3)
        assert kept.tobytes() == mine[::3].tobytes()
    assert np.array_equal(np.unique(third.y), np.unique(every.y)) and every.strided(1) is every
