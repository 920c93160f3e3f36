"""A small synthetic three-class scene set for the demo and the fast tests.

Synthetic, not recorded: every file is computed from seeded noise and oscillators.
- indoor: reverberant babble (formant-filtered pulse trains with syllable rhythm) and mains hum;
- outdoor: gusting wind, bird chirps (fast frequency sweeps) and distant traffic swells;
- vehicle: engine firing harmonics with slowly varying rpm and low road rumble.
Each recording is its own group, so a grouped split keeps recordings apart.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from scipy import signal

SR = 16000
CLASSES = ("indoor", "outdoor", "vehicle")
README = """Synthetic acoustic scenes made by `asc-tool datasets synth` (seed {seed}).
Nothing here was recorded: indoor = reverberant babble + mains hum, outdoor = wind + birds +
traffic, vehicle = engine harmonics + road rumble. For demos and tests, not for accuracy claims.
"""


def make_synth_dataset(out: str | Path, per_class: int = 8, seconds: float = 8.0, seed: int = 0) -> Path:
    """Write per_class recordings of each class to ``out`` (folders + metadata.csv), atomically."""
    import soundfile as sf

    from ..core.errors import DataError
    from ..core.runs import atomic_folder

    out = Path(out).resolve()
    with atomic_folder(out, "metadata.csv", "a synthetic set", DataError) as tmp:
        rows = []
        for c, name in enumerate(CLASSES):
            (tmp / name).mkdir()
            for k in range(per_class):
                rng = np.random.default_rng([seed, c, k])
                audio = GENERATORS[name](rng, int(seconds * SR))
                rel = f"{name}/synth_{name}_{k:02d}.wav"
                sf.write(tmp / rel, audio, SR, subtype="PCM_16")
                rows.append((rel, name, f"{name}-{k:02d}"))
        with open(tmp / "metadata.csv", "w", newline="", encoding="utf-8") as f:
            csv.writer(f).writerows([("path", "label", "group"), *rows])
        (tmp / "README.txt").write_text(README.format(seed=seed), encoding="utf-8")
    return out


def _normalise(x: np.ndarray, rng, peak=(0.2, 0.7)) -> np.ndarray:
    return (x / (np.max(np.abs(x)) + 1e-9) * rng.uniform(*peak)).astype(np.float32)


def _lowpass(x, hz, order=4):
    return signal.sosfilt(signal.butter(order, hz, fs=SR, output="sos"), x)


def _bandpass(x, lo, hi, order=2):
    return signal.sosfilt(signal.butter(order, [lo, hi], btype="band", fs=SR, output="sos"), x)


def _reverb(x, rng, rt60):
    n = int(rt60 * SR)
    ir = rng.standard_normal(n) * np.exp(-6.9 * np.arange(n) / n)
    ir[0] = 1.0
    return signal.fftconvolve(x, ir / np.sqrt(np.sum(ir ** 2)))[: len(x)]


def _voice(rng, n):
    t = np.arange(n) / SR
    f0 = rng.uniform(95, 240) * (1 + 0.08 * np.sin(2 * np.pi * rng.uniform(0.2, 0.6) * t))
    phase = np.cumsum(f0) / SR
    pulses = (np.diff(np.floor(phase), prepend=0) > 0).astype(float)
    v = sum(_bandpass(pulses, f * 0.85, f * 1.15) for f in rng.uniform([300, 900, 2200], [800, 1800, 3000]))
    syllables = np.clip(np.sin(2 * np.pi * rng.uniform(3, 5) * t + rng.uniform(0, 6)), 0, 1)
    pauses = np.repeat(rng.random(n // SR + 2) < 0.7, SR)[:n]
    return v * syllables * pauses


def indoor(rng, n):
    babble = sum(_voice(rng, n) for _ in range(rng.integers(3, 7)))
    t = np.arange(n) / SR
    mains = rng.choice([50.0, 60.0])
    hum = sum(np.sin(2 * np.pi * mains * h * t) / h for h in range(1, 6))
    x = _reverb(babble, rng, rng.uniform(0.4, 0.9)) + rng.uniform(0.05, 0.3) * hum * np.std(babble)
    return _normalise(x + 0.02 * np.std(x) * rng.standard_normal(n), rng)


def outdoor(rng, n):
    t = np.arange(n) / SR
    gusts = 0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(0.05, 0.3) * t + rng.uniform(0, 6)) ** 2
    wind = _lowpass(rng.standard_normal(n), rng.uniform(300, 900)) * gusts
    birds = np.zeros(n)
    for _ in range(rng.integers(5, 25)):
        start, dur = rng.integers(0, n - SR // 4), int(rng.uniform(0.05, 0.2) * SR)
        f = np.linspace(rng.uniform(2000, 5000), rng.uniform(2500, 6500), dur)
        birds[start:start + dur] += np.sin(2 * np.pi * np.cumsum(f) / SR) * np.hanning(dur)
    traffic = _lowpass(rng.standard_normal(n), 1500) * (0.3 + np.sin(np.pi * t / t[-1] * rng.uniform(1, 4)) ** 2)
    x = wind + rng.uniform(0.2, 0.6) * birds * np.std(wind) * 4 + rng.uniform(0.1, 0.5) * traffic
    return _normalise(x, rng)


def vehicle(rng, n):
    t = np.arange(n) / SR
    rpm_hz = rng.uniform(25, 45) * (1 + 0.15 * np.sin(2 * np.pi * rng.uniform(0.03, 0.1) * t))
    phase = 2 * np.pi * np.cumsum(rpm_hz) / SR
    engine = sum(np.sin(h * phase + rng.uniform(0, 6)) / h ** 0.7 for h in range(1, 25))
    rumble = _lowpass(np.cumsum(rng.standard_normal(n)) * 0.02, 200)
    cabin = _lowpass(rng.standard_normal(n), 2500) * 0.15
    x = engine * np.std(rumble) * rng.uniform(0.5, 2.0) + rumble + cabin * np.std(rumble)
    return _normalise(x, rng)


GENERATORS = {"indoor": indoor, "outdoor": outdoor, "vehicle": vehicle}
