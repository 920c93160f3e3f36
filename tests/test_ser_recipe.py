"""jetson-ser recipe options: each changes what it should, and nothing when it is off.

SpecAugment masks, mixup, speed/pitch perturbation and noise on the waveform, class-balanced
batches, the warm-up schedule, label smoothing, the backbone's lower learning rate, the clip
score, and the options' way from the command line into the training configuration.
"""

from __future__ import annotations

import numpy as np
import pytest

from asc_toolchain.ser.recipe import balanced_order, learning_rate, make_loss, make_optimizer
from asc_toolchain.ser.train import Batches, SerTrainConfig
from asc_toolchain.ser.windows import perturb, recipe_variants


def _pool(n=40, classes=4, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.1, 1.0, (n, 128, 128, 3)).astype(np.float32)      # no zeros of its own
    return x, np.arange(n) % classes


def _zero_bands(window: np.ndarray) -> tuple[int, int]:
    """(frames that are 0 in every row and channel, mel rows that are 0 in channel 0 everywhere)."""
    frames = int(np.sum(np.all(window == 0, axis=(0, 2))))
    rows = int(np.sum(np.all(window[:, :, 0] == 0, axis=1)))
    return frames, rows


# SpecAugment

def test_specaugment_masks_present_with_the_option_and_absent_without():
    x, y = _pool()
    plain = Batches(x, y, 8, augment=0, seed=1)
    bx, by = plain[0]
    assert np.array_equal(bx, x[plain.order[:8]]) and np.array_equal(by, y[plain.order[:8]])
    masked = Batches(x, y, 8, augment=1, seed=1)
    mx, _ = masked[0]
    bands = [_zero_bands(w) for w in mx]
    assert any(f > 0 for f, _ in bands) and any(r > 0 for _, r in bands)
    assert all(f <= 16 and r <= 16 for f, r in bands)                  # one band each, ≤ 16 wide
    # mel bands mask channel 0 only: pitch and RMS keep every row outside the time bands
    for w in mx:
        kept_frames = ~np.all(w == 0, axis=(0, 2))
        assert np.all(w[:, kept_frames, 1:] != 0)
    more = Batches(x, y, 8, augment=4, seed=1)
    total = lambda b: sum(f + r for f, r in (_zero_bands(w) for w in b[0][0]))    # noqa: E731
    assert total(more) > total(masked)


def test_augment_none_turns_the_masks_off():
    cfg = SerTrainConfig.from_settings({"augment": "none", "ser_specaugment": 2}, specaugment=2)
    assert cfg.augment is False and cfg.specaugment == 2
    cfg = SerTrainConfig.from_settings({"augment": "specaugment"}, specaugment=0)
    assert cfg.augment is True and cfg.specaugment == 0


# mixup

def test_mixup_mixes_windows_and_labels_with_one_weight():
    x, y = _pool()
    batches = Batches(x, y, 8, augment=0, seed=2, n_classes=4, mixup=0.4)
    bx, target = batches[0]
    idx = batches.order[:8]
    assert target.shape == (8, 4) and np.allclose(target.sum(axis=1), 1.0)
    assert np.any((target > 0.01) & (target < 0.99))                  # labels are mixed
    # each mixed window is λ·own + (1 − λ)·partner, with λ its label's weight on its own class
    own = target[np.arange(8), y[idx]]
    assert not np.allclose(bx[0], x[idx[0]])
    lam = own[0]
    residual = (bx[0] - lam * x[idx[0]]) / (1 - lam)
    assert any(np.allclose(residual, x[idx[j]], atol=1e-3) for j in range(8))
    plain = Batches(x, y, 8, augment=0, seed=2, n_classes=4, one_hot=True)
    px, pt = plain[0]
    assert np.array_equal(px, x[plain.order[:8]]) and set(np.unique(pt)) == {0.0, 1.0}


# speed/pitch perturbation and noise

def _tone(freq=200.0, seconds=2.0):
    t = np.arange(int(seconds * 16000)) / 16000
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _peak_hz(x):
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return np.argmax(spec) * 16000 / len(x)


@pytest.mark.parametrize("factor", [0.9, 1.1])
def test_speed_perturbation_changes_duration_and_pitch_by_the_factor(factor):
    tone = _tone()
    out = perturb(tone, speed=factor)
    assert out.dtype == np.float32
    assert abs(len(out) - len(tone) / factor) <= 2
    assert _peak_hz(out) == pytest.approx(200.0 * factor, abs=1.0)
    assert np.array_equal(perturb(tone, speed=1.0), tone)


def test_noise_is_added_at_the_requested_snr():
    tone = _tone()
    noisy = perturb(tone, snr_db=10.0, rng=np.random.default_rng(3))
    noise = noisy - tone
    snr = 10 * np.log10(np.mean(tone.astype(np.float64) ** 2) / np.mean(noise.astype(np.float64) ** 2))
    assert snr == pytest.approx(10.0, abs=0.3)


def test_variants_are_the_extra_factors_and_one_noisy_copy():
    assert recipe_variants((1.0,), None) == []
    assert recipe_variants((0.9, 1.0, 1.1), (5, 30)) == [(0.9, None), (1.1, None), (1.0, (5.0, 30.0))]


def test_variant_windows_join_the_pool_but_an_epoch_stays_the_size_of_the_recordings(tmp_path):
    from asc_toolchain.ser.synth import write_synthetic_ser
    from asc_toolchain.ser.data import load_ser_items
    from asc_toolchain.ser.windows import ser_windows, with_variants

    meta = write_synthetic_ser(tmp_path, speakers=2, per_class=1, seconds=4.0, seed=0)
    items = load_ser_items(meta).items
    names = sorted({it.label for it in items})
    clean = ser_windows(items, names, max_windows=None)
    both = with_variants(clean, recipe_variants((0.8, 1.0), (10, 10)), max_windows=None)
    assert both.originals() == len(clean)
    slow = both.variant == 1                       # 0.8: 5 s instead of 4 s → more windows
    assert slow.sum() > len(clean)
    assert np.array_equal(both.y[both.variant == 2], clean.y)     # noisy copy: same windows, labels
    assert not np.allclose(both.x[both.variant == 2], clean.x)
    batches = Batches(both.nhwc(), both.y, 4, 0, 0, epoch_size=both.originals())
    assert len(batches.order) == len(clean) and len(set(batches.order.tolist())) == len(clean)
    drawn = set()
    for _ in range(6):
        batches.on_epoch_end()
        drawn |= set(batches.order.tolist())
    assert max(drawn) >= len(clean)                          # variant windows do get drawn


# class-balanced batches

def test_balanced_batches_are_balanced():
    y = np.array([0] * 60 + [1] * 20 + [2] * 8)
    order = balanced_order(y, 96, 12, np.random.default_rng(0))
    for b in range(8):
        counts = np.bincount(y[order[b * 12:(b + 1) * 12]], minlength=3)
        assert counts.tolist() == [4, 4, 4]
    x = np.zeros((len(y), 128, 128, 3), np.float32)
    batches = Batches(x, y, 10, 0, 0, balanced=True)
    counts = [np.bincount(batches[i][1], minlength=3) for i in range(len(batches))]
    assert all(c.max() - c.min() <= 1 for c in counts)
    assert len(batches) == int(np.ceil(len(y) / 10))
    plain = Batches(x, y, 10, 0, 0)
    assert np.bincount(plain.order, minlength=len(y)).tolist() == [1] * len(y)   # a permutation


# warm-up and the backbone's learning rate

def test_warmup_schedule_values():
    cfg = SerTrainConfig(epochs=4, learning_rate=1e-3, warmup=1)
    rate = learning_rate(cfg, steps_per_epoch=10)
    values = [float(rate(step)) for step in (0, 5, 10, 25, 40)]
    assert values[0] == pytest.approx(0.0, abs=1e-9)
    assert values[1] == pytest.approx(5e-4, rel=1e-4)
    assert values[2] == pytest.approx(1e-3, rel=1e-4)
    assert values[3] == pytest.approx(1e-3 * 0.5 * (1 + np.cos(np.pi * 15 / 30)), rel=1e-3)
    assert values[4] == pytest.approx(0.0, abs=1e-7)
    flat = learning_rate(SerTrainConfig(epochs=4, learning_rate=1e-3, warmup=1, cosine=False), 10)
    assert [float(flat(s)) for s in (5, 10, 39)] == pytest.approx([5e-4, 1e-3, 1e-3], rel=1e-4)
    plain = learning_rate(SerTrainConfig(epochs=4, learning_rate=1e-3), 10)
    assert float(plain(0)) == pytest.approx(1e-3)                      # today's: cosine from the top


def test_backbone_learns_slower_than_the_head():
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((6,))
    hidden = keras.layers.Dense(5, activation="relu", name="conv1")(inputs)          # a backbone layer
    hidden = keras.layers.Dense(4, activation="relu", name="head_fc1")(hidden)
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax", name="probabilities")(hidden))
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((16, 6)).astype(np.float32), np.arange(16) % 2

    def steps(scale):
        model.set_weights(start)
        model.compile(optimizer=make_optimizer(SerTrainConfig(backbone_lr=scale, cosine=False), 1),
                      loss="sparse_categorical_crossentropy")
        for _ in range(3):
            model.train_on_batch(x, y)
        return {w.path: np.abs(w.numpy() - s).max() for w, s in zip(model.trainable_weights, start)}

    start = [w.numpy() for w in model.trainable_weights]
    frozen, gentle, same = steps(0.0), steps(0.1), steps(1.0)
    assert frozen["conv1/kernel"] == 0 and frozen["head_fc1/kernel"] > 0 and frozen["probabilities/kernel"] > 0
    # Adam's step is about the rate: a tenth of the rate moves the backbone about a tenth as far
    assert gentle["conv1/kernel"] == pytest.approx(0.1 * same["conv1/kernel"], rel=0.2)
    assert gentle["probabilities/kernel"] == pytest.approx(same["probabilities/kernel"], rel=0.2)
    assert isinstance(make_optimizer(SerTrainConfig(), 1), keras.optimizers.Adam)


# label smoothing

def test_label_smoothing_changes_the_loss():
    target = np.array([[0.0, 1.0, 0.0, 0.0]], np.float32)
    pred = np.array([[0.01, 0.97, 0.01, 0.01]], np.float32)
    sparse = make_loss(SerTrainConfig())
    assert sparse == "sparse_categorical_crossentropy"
    smooth = make_loss(SerTrainConfig(label_smoothing=0.2))
    plain = -np.log(0.97)
    smoothed = -(0.85 * np.log(0.97) + 3 * 0.05 * np.log(0.01))   # (1 − ε)·y + ε/K
    assert float(smooth(target, pred)) == pytest.approx(smoothed, rel=1e-3)
    assert float(smooth(target, pred)) > plain + 0.5


# test-time averaging over a clip's windows

def test_clip_score_mean_averages_probabilities_over_windows():
    from asc_toolchain.ser.data import SerItem
    from asc_toolchain.ser.evaluate import ser_reports
    from asc_toolchain.ser.windows import SerWindows

    # one anger clip: two windows narrowly say neutral, one says anger with certainty
    scores = np.array([[0.45, 0.55], [0.45, 0.55], [1.0, 0.0]])
    ws = SerWindows(np.empty(0), np.array([0, 0, 0]), np.array([0, 0, 0]),
                    [SerItem("a.wav", "anger", "s1", "a", "ravdess")])
    vote = ser_reports(scores, ws, ["anger", "neutral"], "vote")
    mean = ser_reports(scores, ws, ["anger", "neutral"], "mean")
    assert vote["clip"]["per_class_recall"]["anger"] == 0.0
    assert vote["clip_mean"]["per_class_recall"]["anger"] == 1.0
    assert vote["summary"]["uar_2_class"] == 0.0 and vote["summary"]["clip_score"] == "vote"
    assert mean["summary"]["uar_2_class"] == 1.0 and mean["summary"]["clip_score"] == "mean"


# from the command line

def test_recipe_flags_reach_the_training_configuration():
    from click.testing import CliRunner

    from asc_toolchain.commands import core
    from asc_toolchain.commands.ser import ser_config
    from asc_toolchain.core import config as cfgmod

    captured = {}

    def fake(data, root, out, settings, skip_bad, test_fold):
        captured["cfg"] = ser_config(settings)
        raise SystemExit(0)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("asc_toolchain.commands.ser.train_ser", fake)
        CliRunner().invoke(core.train, ["--target", "jetson-ser", "--data", "x.csv", "--out", "o",
                                        "--ser-mixup", "0.3", "--ser-speed", "1",
                                        "--ser-noise-snr", "5,30", "--ser-balanced", "--ser-label-smoothing",
                                        "0.1", "--ser-warmup", "2", "--ser-backbone-lr", "0.1",
                                        "--ser-clip-score", "mean", "--ser-specaugment", "2"], obj={})
    cfg = captured["cfg"]
    assert (cfg.mixup, cfg.speed, cfg.noise_snr, cfg.balanced, cfg.label_smoothing, cfg.warmup,
            cfg.backbone_lr, cfg.clip_score, cfg.specaugment) == (0.3, (1.0,), (5.0, 30.0), True,
                                                                   0.1, 2, 0.1, "mean", 2)
    defaults = ser_config(cfgmod.values(cfgmod.resolve({})))
    assert (defaults.mixup, defaults.speed, defaults.noise_snr, defaults.balanced, defaults.label_smoothing,
            defaults.warmup, defaults.backbone_lr, defaults.clip_score, defaults.specaugment) == (
        0.0, (0.9, 1.0, 1.1), None, False, 0.0, 0, 1.0, "vote", 1)


@pytest.mark.parametrize("flags, words", [
    (["--ser-speed", "3"], "0.5–2"),
    (["--ser-noise-snr", "30,5"], "LO ≤ HI"),
    (["--ser-speed", "fast"], "ser-speed"),
])
def test_bad_recipe_values_are_one_line_errors(tmp_path, cli, flags, words):
    from asc_toolchain.ser.synth import write_synthetic_ser

    meta = write_synthetic_ser(tmp_path / "d", speakers=1, per_class=1, seconds=2.7, seed=0)
    code, _, err = cli("train", "--target", "jetson-ser", "--data", meta, "--out", tmp_path / "run", *flags)
    assert code == 2, err
    assert words in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()


def test_help_shows_the_speed_default_as_it_is_typed():
    from click.testing import CliRunner

    from asc_toolchain.commands import core
    from asc_toolchain.core.config import OPTIONS, float_list

    text = " ".join(CliRunner().invoke(core.train, ["--help"]).output.split())
    assert "[default: 0.9,1.0,1.1]" in text
    assert float_list("0.9,1.0,1.1") == OPTIONS["ser_speed"].default
