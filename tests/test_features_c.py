"""The generated C feature front end against the Python reference (features.py).

The C code is compiled for the host with the project's strict flags (and once with ASan and
UBSan), fed int16 PCM block by block, and its windows are compared with logmel_windows on the
same int16-rounded signal: float dB within DB_TOLERANCE, int8 input tensors ≥ 99 % equal and
never more than 1 apart.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from asc_toolchain.asc.quantize import quantize_input
from asc_toolchain.codegen import features_c, hostbuild
from asc_toolchain.core.errors import ConfigError
from asc_toolchain.asc.features import SEED_PARAMS, FeatureParams, Scaler, logmel_windows
from conftest import SHARED_DATA, require_tool

DATA = SHARED_DATA
SR = SEED_PARAMS.sample_rate
HOP = SEED_PARAMS.hop_length
FIRST_FULL = SEED_PARAMS.n_columns     # record index (push 33) of the first full window
DB_TOLERANCE = 2e-3                    # max abs dB diff; measured 5.8e-4 (synthetic), 1.9e-5 (real)
MODEL_HASH = "0" * 64

pytestmark = pytest.mark.skipif(shutil.which("cc") is None and shutil.which("gcc") is None,
                                reason="no host C compiler (cc/gcc): apt-get install gcc")


def to_pcm(signal: np.ndarray) -> np.ndarray:
    return np.clip(np.round(signal * 32768.0), -32768, 32767).astype(np.int16)


def synthetic_pcm(seconds: float = 6.0, seed: int = 7) -> np.ndarray:
    """Tones, a chirp, noise bursts, a fully silent stretch and a very quiet stretch."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    x = 0.2 * np.sin(2 * np.pi * 440 * t) + 0.1 * np.sin(2 * np.pi * (100 + 900 * t) * t)
    x += 0.05 * rng.standard_normal(t.size) * (np.sin(2 * np.pi * 0.7 * t) > 0)
    x[int(1.5 * SR):int(3.0 * SR)] = 0.0                      # > 1 window: silent windows
    x[int(3.0 * SR):int(3.5 * SR)] = 1e-4 * rng.standard_normal(int(0.5 * SR))
    return to_pcm(x)


def python_reference(pcm, scaler, scale, zero_point):
    db = logmel_windows(pcm.astype(np.float32) / np.float32(32768.0))
    return db, quantize_input(scaler.transform(db), scale, zero_point)


@pytest.fixture(scope="session")
def quant():
    """A scaler fitted on seeded audio and the input scale/zero point a quantizer would pick."""
    db = logmel_windows(synthetic_pcm(8.0, seed=3).astype(np.float32) / 32768.0)
    scaler = Scaler.fit(db)
    x = scaler.transform(db)
    lo, hi = min(float(x.min()), 0.0), max(float(x.max()), 0.0)
    scale = (hi - lo) / 255.0
    return scaler, scale, int(round(-128 - lo / scale))


@pytest.fixture(scope="session")
def c_dir(tmp_path_factory, quant):
    scaler, scale, zero_point = quant
    out = tmp_path_factory.mktemp("features_c")
    features_c.generate_features_c(SEED_PARAMS, scaler, scale, zero_point, out, MODEL_HASH)
    return out


@pytest.fixture(scope="session")
def harness(c_dir):
    return features_c.build_features_harness(c_dir)


@pytest.fixture(scope="session")
def synthetic_run(harness, quant):
    pcm = synthetic_pcm()
    return pcm, features_c.run_host_features(harness, pcm, SEED_PARAMS)


def compare(result, pcm, quant):
    """Full windows of the C run vs Python: (max abs dB diff, share equal, max int8 diff, n)."""
    db_ref, q_ref = python_reference(pcm, *quant)
    db_c, q_c = result["db"][FIRST_FULL:], result["q"][FIRST_FULL:]
    assert len(db_c) == len(db_ref) > 0
    diff = np.abs(q_c.astype(int) - q_ref.astype(int))
    return float(np.abs(db_c - db_ref).max()), float(np.mean(diff == 0)), int(diff.max()), diff


def test_generated_files_have_header_and_are_deterministic(c_dir, quant, tmp_path):
    features_c.generate_features_c(SEED_PARAMS, *quant, tmp_path, MODEL_HASH)
    for name in ("asc_features.h", "asc_features.c"):
        text = (c_dir / name).read_text()
        assert "do not edit" in text.splitlines()[0] and MODEL_HASH in text
        assert (tmp_path / name).read_bytes() == (c_dir / name).read_bytes()
    header = (c_dir / "asc_features.h").read_text()
    for line in ("#define ASC_FEATURES_HOP 512", "#define ASC_FEATURES_N_FFT 1024",
                 "#define ASC_FEATURES_N_MELS 30", "#define ASC_FEATURES_N_COLUMNS 32",
                 "#define ASC_FEATURES_INPUT_SIZE 960"):
        assert line in header


def test_state_size_is_ram_bytes(harness):
    import subprocess

    out = subprocess.run([str(harness), "--sizeof"], capture_output=True, text=True, check=True)
    assert int(out.stdout) == features_c.ram_bytes(SEED_PARAMS) == 10120


def test_flash_estimate_covers_the_tables(c_dir):
    from elftools.elf.elffile import ELFFile

    obj = hostbuild.compile_object(c_dir / "asc_features.c", c_dir / "features.o", include_dirs=(c_dir,))
    with open(obj, "rb") as f:
        rodata = ELFFile(f).get_section_by_name(".rodata").data_size
    estimate = features_c.flash_bytes_estimate(SEED_PARAMS)
    assert rodata <= estimate - features_c.CODE_BYTES_ESTIMATE + 64
    assert estimate - features_c.CODE_BYTES_ESTIMATE >= rodata - 64


def test_push_returns_and_column_count(synthetic_run):
    _, result = synthetic_run
    assert list(result["ret"][:3]) == [0, 1, 1] and set(result["ret"][1:]) == {1}
    assert list(result["columns"][:FIRST_FULL + 3]) == list(range(FIRST_FULL + 1)) + [32, 32]


def test_synthetic_audio_matches_python(synthetic_run, quant):
    pcm, result = synthetic_run
    max_db, equal, max_q, _ = compare(result, pcm, quant)
    assert max_db <= DB_TOLERANCE
    assert equal >= 0.99 and max_q <= 1


def test_silent_windows_are_the_floor(synthetic_run, quant):
    pcm, result = synthetic_run
    scaler, scale, zero_point = quant
    full = result["db"][FIRST_FULL:]
    silent = np.all(full == -80.0, axis=(1, 2))
    assert silent.sum() >= 10                         # the 1.5 s of zeros holds whole windows
    expected = quantize_input(scaler.transform(np.full((30, 32), -80.0, np.float32)),
                                         scale, zero_point)
    assert np.array_equal(result["q"][FIRST_FULL:][silent][0], expected)
    db_ref, _ = python_reference(pcm, *quant)
    assert np.array_equal(silent, np.all(db_ref == -80.0, axis=(1, 2)))


def test_sanitized_build_gives_the_same_windows(c_dir, synthetic_run):
    exe = features_c.build_features_harness(c_dir, sanitize=True)
    pcm, result = synthetic_run
    san = features_c.run_host_features(exe, pcm[:40 * HOP], SEED_PARAMS)
    assert np.array_equal(san["q"], result["q"][:40])
    assert np.abs(san["db"] - result["db"][:40]).max() <= 1e-5


@pytest.mark.data
def test_real_recordings_match_python(harness, quant):
    from asc_toolchain.data.audio import load_audio

    meta = DATA / "asc" / "metadata.csv"
    if not meta.is_file():
        pytest.skip(f"real recordings not found: {meta} (see SPEC §10)")
    import csv

    rows = list(csv.DictReader(meta.open(encoding="utf-8")))
    picks = [next(r for r in rows if r["label"] == label) for label in ("indoor", "outdoor",
                                                                         "vehicle")]
    diffs, worst_db = [], 0.0
    for row in picks:
        pcm = to_pcm(load_audio(DATA / row["path"], SR, max_seconds=12.0))
        max_db, _, _, diff = compare(features_c.run_host_features(harness, pcm, SEED_PARAMS),
                                     pcm, quant)
        worst_db = max(worst_db, max_db)
        diffs.append(diff.reshape(-1))
    diff = np.concatenate(diffs)
    assert worst_db <= DB_TOLERANCE
    assert np.mean(diff == 0) >= 0.99 and diff.max() <= 1


def test_extreme_scaler_takes_the_bounded_path(tmp_path, quant):
    """A near-constant element (std 1e-7) makes dB * gain leave the int32 range: the generated
    code bounds it before the conversion and still matches Python."""
    scaler, scale, zero_point = quant
    std = scaler.scale.copy()
    std[5, 7] = 1e-7
    tiny = Scaler(scaler.mean, std)
    features_c.generate_features_c(SEED_PARAMS, tiny, scale, zero_point, tmp_path, MODEL_HASH)
    assert "keeps the cast defined" in (tmp_path / "asc_features.c").read_text()
    exe = features_c.build_features_harness(tmp_path, sanitize=True)
    pcm = synthetic_pcm()[:80 * HOP]
    _, equal, max_q, _ = compare(features_c.run_host_features(exe, pcm, SEED_PARAMS), pcm,
                                 (tiny, scale, zero_point))
    assert equal >= 0.99 and max_q <= 1


def test_quantize_input_rounds_half_away_from_zero():
    x = np.array([0.5, -0.5, 1.5, -1.5, 2.5, 0.49999997, 1000.0, -1000.0], np.float32)
    assert list(quantize_input(x, 1.0, 0)) == [1, -1, 2, -2, 3, 0, 127, -128]
    assert list(quantize_input(np.float32([0.0, 0.1]), 0.05, 42)) == [42, 44]


# (n_fft, mels, columns): every first-stage radix (2, 4, 8) in C, the ends of the n_fft range
OTHER_PARAMS = [(128, 16, 32), (256, 24, 16), (512, 40, 24), (2048, 64, 16), (4096, 64, 8), (8192, 30, 8)]


@pytest.mark.parametrize("n_fft,n_mels,columns", OTHER_PARAMS)
def test_other_fft_sizes_mels_and_columns_match_python(tmp_path, n_fft, n_mels, columns):
    """The generated front end follows --n-fft/--n-mels/--columns: a radix-2/4/8 first stage then
    radix-8 stages, the split step and mel sums for that size; windows equal Python's."""
    params = FeatureParams(n_fft=n_fft, hop_length=n_fft // 2, n_mels=n_mels, n_columns=columns)
    pcm = synthetic_pcm(8.0, seed=n_fft)
    db_ref = logmel_windows(pcm.astype(np.float32) / np.float32(32768.0), params)
    scaler = Scaler.fit(db_ref)
    x = scaler.transform(db_ref)
    scale = (float(x.max()) - min(float(x.min()), 0.0)) / 255.0
    zero_point = int(round(-128 - min(float(x.min()), 0.0) / scale))
    features_c.generate_features_c(params, scaler, scale, zero_point, tmp_path, MODEL_HASH)
    header = (tmp_path / "asc_features.h").read_text()
    assert f"#define ASC_FEATURES_HOP {n_fft // 2}" in header and f"#define ASC_FEATURES_N_MELS {n_mels}" in header
    result = features_c.run_host_features(features_c.build_features_harness(tmp_path), pcm, params)
    db_c, q_c = result["db"][columns:], result["q"][columns:]
    assert len(db_c) == len(db_ref) > 0
    assert float(np.abs(db_c - db_ref).max()) <= DB_TOLERANCE
    diff = np.abs(q_c.astype(int) - quantize_input(x, scale, zero_point).astype(int))
    assert np.mean(diff == 0) >= 0.99 and diff.max() <= 1


def test_unsupported_parameters_name_the_value(tmp_path, quant):
    with pytest.raises(ConfigError, match="hop_length 256"):
        features_c.generate_features_c(FeatureParams(hop_length=256), *quant, tmp_path, "x")
    for n_fft in (1000, 64, 16384):
        with pytest.raises(ConfigError, match=f"n_fft {n_fft} is not supported"):
            features_c.check_params(FeatureParams(n_fft=n_fft, hop_length=n_fft // 2))
    with pytest.raises(ConfigError, match="band .* holds no FFT bin") as info:
        features_c.check_params(FeatureParams(n_fft=256, hop_length=128, n_mels=120))
    assert f"at most {features_c.max_mels(FeatureParams(n_fft=256, hop_length=128))} bands" in info.value.hint
    bad = Scaler(np.zeros((30, 31)), np.ones((30, 31)))
    with pytest.raises(ConfigError, match="930 means"):
        features_c.generate_features_c(SEED_PARAMS, bad, 0.05, 0, tmp_path, "x")
    with pytest.raises(ConfigError, match="zero point 200"):
        features_c.generate_features_c(SEED_PARAMS, quant[0], 0.05, 200, tmp_path, "x")


@pytest.mark.toolchain
def test_cortex_m4_build_fits_the_flash_estimate(c_dir, tmp_path):
    import subprocess

    gcc = require_tool("arm-none-eabi-gcc")
    from elftools.elf.elffile import ELFFile

    obj = tmp_path / "asc_features.o"
    subprocess.run([gcc, *hostbuild.HOST_CFLAGS[:-1], "-Os", "-mcpu=cortex-m4", "-mthumb",
                    "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard", f"-I{c_dir}", "-c",
                    str(c_dir / "asc_features.c"), "-o", str(obj)], check=True)
    with open(obj, "rb") as f:
        elf = ELFFile(f)
        used = sum(elf.get_section_by_name(name).data_size for name in (".text", ".rodata"))
    assert used <= features_c.flash_bytes_estimate(SEED_PARAMS)
