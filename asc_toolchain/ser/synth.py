"""A small seeded synthetic emotion set for demos and fast tests (not speech, and not a benchmark).

Each class has its own sound so a narrow model learns it in a few epochs: anger = loud noise
bursts, neutral = a steady 120 Hz harmonic voice-like tone, happiness = a high tone with fast
vibrato, sadness = a harmonic tone gliding down. Negative (SPEC §8): anger and sadness.
"Speakers" differ in base pitch and level, so the speaker-independent split has something to
generalise over.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

RATE = 16000
CLASSES = ("anger", "neutral", "happiness", "sadness")


def _harmonic(f0: np.ndarray, rng, n_harmonics: int = 8) -> np.ndarray:
    phase = 2 * np.pi * np.cumsum(f0) / RATE
    x = sum(np.sin(k * phase + rng.uniform(0, 2 * np.pi)) / k for k in range(1, n_harmonics + 1))
    return x / np.max(np.abs(x))


def sound(label: str, seconds: float, rng: np.random.Generator, pitch: float = 1.0) -> np.ndarray:
    """One synthetic utterance of ``label`` (float32, 16 kHz, peak ≤ 0.5)."""
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    if label == "anger":
        envelope = (np.sin(2 * np.pi * rng.uniform(2.5, 4) * t) > -0.3).astype(float)
        x = rng.standard_normal(n) * (0.3 + 0.7 * envelope)
    elif label == "neutral":
        x = _harmonic(np.full(n, 120.0 * pitch), rng)
    elif label == "sadness":
        x = _harmonic(np.linspace(220.0, 100.0, n) * pitch, rng) * np.linspace(1.0, 0.4, n)
    elif label == "happiness":
        x = _harmonic(420.0 * pitch * (1 + 0.06 * np.sin(2 * np.pi * 7 * t)), rng, 4)
    else:
        raise ValueError(f"no synthetic sound for {label!r}")
    x = x + 0.01 * rng.standard_normal(n)
    return (0.5 * x / np.max(np.abs(x))).astype(np.float32)


def write_synthetic_ser(out: str | Path, speakers: int = 6, per_class: int = 3, seconds: float = 3.0,
                        seed: int = 0, classes=CLASSES) -> Path:
    """Write WAV files and ``metadata.csv`` (path,label,speaker) under ``out``; returns the CSV."""
    import soundfile as sf

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(speakers):
        pitch, level = rng.uniform(0.85, 1.2), rng.uniform(0.5, 1.0)
        for label in classes:
            for k in range(per_class):
                rel = f"spk{s:02d}/{label}_{k}.wav"
                (out / rel).parent.mkdir(exist_ok=True)
                sf.write(out / rel, level * sound(label, seconds, rng, pitch), RATE, subtype="PCM_16")
                rows.append((rel, label, f"synth_spk{s:02d}"))
    path = out / "metadata.csv"
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "label", "speaker"])
        writer.writerows(rows)
    return path


def write_scenario(path: str | Path, parts, seed: int = 1) -> Path:
    """A WAV of consecutive (label, seconds) parts, e.g. anger for 12 s then neutral for 12 s."""
    import soundfile as sf

    rng = np.random.default_rng(seed)
    sf.write(path, np.concatenate([sound(label, s, rng) for label, s in parts]), RATE, subtype="PCM_16")
    return Path(path)
