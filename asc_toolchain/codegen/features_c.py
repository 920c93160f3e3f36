"""The log-mel front end in C, generated from a run's feature parameters and scaler.

``generate_features_c`` renders ``asc_features.h``/``asc_features.c``: Python computes every
constant (Hann window, FFT twiddles and bit-reversal, sparse Slaney mel weights, the 960 means
and standard deviations, the input quantization) and the templates lay out the arrays and loops.
The C code streams like the firmware must: one 1024-point real FFT per 512 new samples, a ring
of mel columns in dB, and a window formed from the ring on request.

``build_features_harness``/``run_host_features`` compile (with the packaged host harness,
codegen/host/features_harness.c) and run the generated code on this machine; the host
reference of the int8 quantization it ends with is ``asc.quantize.quantize_input``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..core.errors import ConfigError
from ..asc.features import FeatureParams, Scaler, hann_window, mel_filterbank
from . import features_asm, hostbuild
from .render import c_float, render

# .text of asc_features.c on a Cortex-M4: 3,816 B at -Os, 3,848 B at -O2
CODE_BYTES_ESTIMATE = 4608
INT16_SCALE = 1.0 / 32768.0     # 2^-15: folding it into the Hann table is exact


N_FFT_RANGE = (128, 8192)


def first_radix(n_fft: int) -> int:
    """Points of the first stage's DFTs: n_fft / 2 = radix * 8^m (m >= 1), radix 2, 4 or 8."""
    return (8, 2, 4)[(int(n_fft).bit_length() - 2) % 3]


def check_params(params: FeatureParams) -> None:
    """Raise ConfigError unless the C front end supports ``params``.

    The FFT is one radix-2, -4 or -8 stage and then radix-8 stages, so n_fft must be a power of
    two (128 .. 8192 here), and the hop must be n_fft / 2 (the frame is two hops). Every mel
    band must hold at least one FFT bin (an empty band would be -80 dB for ever).
    """
    lo, hi = N_FFT_RANGE
    n_fft = params.n_fft
    if not (lo <= n_fft <= hi and n_fft & (n_fft - 1) == 0):
        raise ConfigError(f"n_fft {n_fft} is not supported by the C feature front end",
                          f"use a power of two from {lo} to {hi} (512, 1024 and 2048 are usual)")
    if params.hop_length != n_fft // 2:
        raise ConfigError(f"hop_length {params.hop_length} with n_fft {n_fft} is not "
                          "supported by the C feature front end",
                          f"use hop_length {n_fft // 2} (half of n_fft)")
    if params.n_columns > 255 or params.n_mels > 255:
        raise ConfigError(f"{params.n_mels} mels x {params.n_columns} columns is too large for "
                          "the C feature front end", "use at most 255 mels and 255 columns")
    empty = np.flatnonzero(_band_peaks(params) <= 0)
    if empty.size:
        raise ConfigError(f"{params.n_mels} mel bands with n_fft {n_fft}: band {int(empty[0])} holds no "
                          f"FFT bin ({empty.size} empty bands)", f"use fewer mel bands or a larger n_fft "
                          f"(at most {max_mels(params)} bands for n_fft {n_fft})")


def _band_peaks(params: FeatureParams) -> np.ndarray:
    """Each mel band's largest filter weight (0: the band holds no FFT bin), without librosa's
    warning about empty bands (check_params refuses them in one line)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return mel_filterbank(params).max(axis=1)


def max_mels(params: FeatureParams) -> int:
    """The most mel bands ``params``' FFT fills (every band with at least one bin)."""
    from dataclasses import replace

    lo, hi = 1, 255
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if _band_peaks(replace(params, n_mels=mid)).min() > 0:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _digit_reverse(value: int, digits: int) -> int:
    """``value`` with its ``digits`` base-8 digits in reverse order."""
    out = 0
    for _ in range(digits):
        out, value = out * 8 + value % 8, value // 8
    return out


def fft_tables(n_fft: int) -> dict:
    """Hann half table (times 2^-15), first-stage digit reversal, radix-8 and split twiddles.

    The complex FFT of n_fft / 2 points is first a stage of ``radix``-point DFTs (radix 8, or
    2 or 4 when n_fft / 2 is not a power of 8) of inputs n_fft / (2 radix) apart, then radix-8
    stages joining transforms of length radix, 8 radix, ... up to n_fft / 2."""
    half = n_fft // 2
    radix = first_radix(n_fft)
    hann = hann_window(n_fft)
    if not np.array_equal(hann[1:half], hann[:half:-1]):
        raise ConfigError(f"the Hann window of {n_fft} points is not symmetric in float32",
                          "use n_fft 1024 (the seed's)")
    groups = half // radix
    digits = round(np.log(groups) / np.log(8))
    lengths, offsets, twiddle = [], [], []
    length, offset = radix, 0
    while length < half:
        k = np.arange(1, length)[:, None] * np.arange(1, 8)[None, :]
        w = np.exp(-2j * np.pi * k / (8 * length))
        twiddle.append(np.stack([w.real, w.imag], axis=-1).reshape(-1))
        lengths.append(length)
        offsets.append(offset)
        offset += twiddle[-1].size
        length *= 8
    k = np.arange(1, half // 2 + 1)
    split = np.exp(-2j * np.pi * k / n_fft)
    return {
        "radix": radix, "n_groups": groups,
        "hann": (hann[:half + 1] * np.float32(INT16_SCALE)).astype(np.float32),
        "group_base": [8 * _digit_reverse(b, digits - 1) for b in range(groups // 8)],
        "stage_lengths": lengths, "twiddle_offsets": offsets,
        "twiddle": np.concatenate(twiddle).astype(np.float32),
        "split": np.stack([split.real, split.imag], axis=-1).reshape(-1).astype(np.float32),
    }


def mel_tables(params: FeatureParams) -> dict:
    """Slaney mel bands as segments between adjacent band edges (see the C file).

    Bin k in segment s (edge f_s <= f_k < f_s+1) adds r_k p_k to band s and (1 - r_k) p_k to
    band s-1; ``band_norm`` holds each band's Slaney norm times 1/4 (the C power is |2 X|^2,
    a power of two, so nothing is rounded). Checked against ``mel_filterbank``.
    """
    import librosa

    n_bins = params.n_fft // 2 + 1
    edges = librosa.mel_frequencies(params.n_mels + 2, fmin=0.0, fmax=params.sample_rate / 2)
    freqs = np.arange(n_bins) * params.sample_rate / params.n_fft
    seg = np.searchsorted(edges, freqs, side="right") - 1
    bins = np.arange(1, n_bins - 1)                  # both edge bins weigh 0 in every band
    rise = (freqs[bins] - edges[seg[bins]]) / (edges[seg[bins] + 1] - edges[seg[bins]])
    norm = 2.0 / (edges[2:] - edges[:-2])
    seg_end = [int(np.searchsorted(seg[:n_bins - 1], s, side="right"))
               for s in range(params.n_mels + 1)]
    _check_mel_segments(params, seg[bins], rise, norm, bins)
    return {"seg_end": seg_end, "n_segments": params.n_mels + 1,
            "rise": rise.astype(np.float32),
            "band_norm": (norm * 0.25).astype(np.float32),
            **split_mel_tables(params.n_fft, seg[bins], rise, params.n_mels + 1)}


def split_mel_tables(n_fft: int, seg, rise, n_segments: int) -> dict:
    """Tables of the fused split step and mel sums, which take bins k and n_fft/2 - k together
    for k = 1 .. n_fft/4 - 1 (then bin n_fft/4 alone).

    ``split_mel``: per k, the twiddle exp(-2 pi i k / n_fft) (re, im) and the rise weights of
    bins k and n_fft/2 - k. ``runs``: per stretch of k where both bins stay in one segment,
    (length, low bin's segment, high bin's segment, flags: 1 = the low segment ends after
    the run, 2 = the high one does; 4, 8: and that is the segment's first part, so its sums
    are set, not added to). ``unwritten``: segments no bin falls in (their sums are zero).
    ``seg`` and ``rise`` are indexed by bin - 1.
    """
    half, quarter = n_fft // 2, n_fft // 4
    k = np.arange(1, quarter)
    w = np.exp(-2j * np.pi * k / n_fft)
    lo, hi = k - 1, half - k - 1
    table = np.stack([w.real, w.imag, rise[lo], rise[hi]], axis=-1).astype(np.float32)
    runs = []
    for i in range(len(k)):
        key = (int(seg[lo[i]]), int(seg[hi[i]]))
        if runs and (runs[-1][1], runs[-1][2]) == key and runs[-1][0] < 255:
            runs[-1][0] += 1
        else:
            runs.append([1, *key, 0])
    written: set[int] = set()
    for now, nxt in zip(runs, runs[1:] + [[0, -1, -1, 0]]):
        for side, bit in ((1, 1), (2, 2)):
            if nxt[side] != now[side]:            # the segment ends on this side: flush
                now[3] |= bit if now[side] in written else bit | 4 * bit
                written.add(now[side])
    w_mid = np.exp(-2j * np.pi * quarter / n_fft)
    mid_seg = int(seg[quarter - 1])
    return {"split_mel": table.reshape(-1), "runs": [v for run in runs for v in run],
            "n_runs": len(runs), "mid_seg": mid_seg, "mid_first": mid_seg not in written,
            "unwritten": sorted(set(range(n_segments)) - written - {mid_seg}),
            "mid": np.array([w_mid.real, w_mid.imag, rise[quarter - 1]], np.float32)}


def _check_mel_segments(params, seg, rise, norm, bins) -> None:
    bank = mel_filterbank(params)
    rebuilt = np.zeros(bank.shape)
    n_mels = params.n_mels
    up = seg < n_mels
    rebuilt[seg[up], bins[up]] = norm[seg[up]] * rise[up]
    down = seg >= 1
    rebuilt[seg[down] - 1, bins[down]] = norm[seg[down] - 1] * (1.0 - rise[down])
    if np.abs(rebuilt - bank).max() > 1e-6 * bank.max():
        raise ConfigError("the mel filterbank does not have the Slaney triangle shape the C "
                          "front end assumes", "use the seed's feature parameters")


def quantize_tables(scaler: Scaler, input_scale: float, input_zero_point: int,
                    params: FeatureParams) -> dict:
    """Per element (in [column][mel] order): gain 1 / (std * scale) and offset
    zero point + 256.5 - mean * gain, so that quantized + 256.5 = dB * gain + offset."""
    shape = (params.n_mels, params.n_columns)
    mean = np.asarray(scaler.mean, np.float64).reshape(shape).T
    std = np.asarray(scaler.scale, np.float64).reshape(shape).T
    gain = 1.0 / (std * float(np.float32(input_scale)))
    offset = int(input_zero_point) + 256.5 - mean * gain
    pairs = np.stack([gain, offset], axis=-1).astype(np.float32)
    reach = np.abs(offset) + params.top_db * gain
    return {"gain_offset": pairs.reshape(-1), "wide_range": bool(reach.max() >= 2.0 ** 24)}


def generate_features_c(params: FeatureParams, scaler: Scaler, input_scale: float,
                        input_zero_point: int, out_dir, model_hash: str,
                        source: str = "run") -> list[Path]:
    """Render asc_features.h and asc_features.c into ``out_dir``; return their paths."""
    check_params(params)
    size = params.n_mels * params.n_columns
    mean = np.asarray(scaler.mean, np.float32).reshape(-1)
    std = np.asarray(scaler.scale, np.float32).reshape(-1)
    if mean.size != size or std.size != size:
        raise ConfigError(f"scaler has {mean.size} means and {std.size} scales, the features "
                          f"have {size} elements ({params.n_mels}x{params.n_columns})",
                          "retrain the run: its scaler does not match its feature parameters")
    if not (np.all(np.isfinite(std)) and np.all(std > 0) and np.all(np.isfinite(mean))):
        raise ConfigError("scaler holds non-finite means or non-positive scales",
                          "retrain the run (scaler.npz is damaged)")
    _check_quantization(input_scale, input_zero_point)
    context = {
        "sample_rate": params.sample_rate, "hop": params.hop_length, "n_fft": params.n_fft,
        "n_mels": params.n_mels, "n_columns": params.n_columns, "input_size": size,
        "n_bins": params.n_fft // 2 + 1, "n_complex": params.n_fft // 2,
        "top_db": c_float(params.top_db),
        "top_db_text": f"{params.top_db:g}", "input_scale": c_float(np.float32(input_scale)),
        "input_zero_point": int(input_zero_point),
        **fft_tables(params.n_fft), **mel_tables(params),
        **quantize_tables(scaler, input_scale, input_zero_point, params),
    }
    context.update(asm_tables(params, context["stage_lengths"]))
    out_dir = Path(out_dir)
    return [render(f"{name}.j2", out_dir / name, model_hash=model_hash, source=source, **context)
            for name in ("asc_features.h", "asc_features.c")]


def asm_tables(params: FeatureParams, stage_lengths: list) -> dict:
    """Cortex-M4 assembly (features_asm.py) of the 8-point DFTs, the fused split step and
    mel sums, and the window's quantization; laid out for n_fft 1024 (the layout measured
    and checked on the emulated board), the C alone elsewhere."""
    if params.n_fft != 1024:
        return {"asm": False}
    n_groups = params.n_fft // 16             # radix 8 throughout
    return {"asm": True, "asm_split_mel": features_asm.split_mel_loop(),
            "asm_window": features_asm.window_column_loop(params.n_mels),
            "asm_first": features_asm.first_dft8_moving(2 * n_groups),
            "asm_plain": [features_asm.stage_dft8(8 * n, False) for n in stage_lengths],
            "asm_twiddled": [features_asm.stage_dft8(8 * n, True) for n in stage_lengths],
            "asm_last": features_asm.stage_dft8(8 * stage_lengths[-1], True, advance=True)}


def _check_quantization(scale: float, zero_point: int) -> None:
    if not (np.isfinite(scale) and scale > 0):
        raise ConfigError(f"input scale {scale} is not a positive number",
                          "re-run `asc-tool quantize`: the int8 model's input is not quantized")
    if not -128 <= int(zero_point) <= 127:
        raise ConfigError(f"input zero point {zero_point} is outside [-128, 127]",
                          "re-run `asc-tool quantize` with int8 input")


def ram_bytes(params: FeatureParams) -> int:
    """Bytes of one ``asc_features_t`` (statically allocated; the functions use little stack)."""
    hop, n_fft = params.hop_length, params.n_fft
    size = (2 * hop * 2                                   # two halves of int16 samples
            + params.n_columns * params.n_mels * 4        # ring of column dB values
            + params.n_columns * 4                        # column maxima
            + n_fft * 4                                   # FFT work buffer
            + 4 + 2 + 1 + 1)                              # counters
    return (size + 3) // 4 * 4


def flash_bytes_estimate(params: FeatureParams) -> int:
    """Constant tables (exact) plus an estimate of the code, in bytes."""
    check_params(params)
    fft = fft_tables(params.n_fft)
    mel = mel_tables(params)
    tables = (fft["hann"].nbytes + 2 * len(fft["group_base"]) + fft["twiddle"].nbytes
              + mel["split_mel"].nbytes + len(mel["runs"]) + mel["mid"].nbytes
              + mel["band_norm"].nbytes + 2 * 4 * params.n_mels * params.n_columns)
    return int(tables + CODE_BYTES_ESTIMATE)


HOST_HARNESS = Path(__file__).resolve().parent / "host" / "features_harness.c"


def build_features_harness(c_dir, sanitize: bool = False) -> Path:
    """Compile the generated front end in ``c_dir`` with the packaged host harness
    (HOST_HARNESS: its protocol is the one ``run_host_features`` reads; ``--sizeof`` prints
    sizeof(asc_features_t), ``--bench N`` pushes N blocks of seeded noise); return the program."""
    c_dir = Path(c_dir)
    name = "features_harness_san" if sanitize else "features_harness"
    return hostbuild.build([c_dir / "asc_features.c", HOST_HARNESS], name, include_dirs=(c_dir,),
                           sanitize=sanitize)


def run_host_features(exe: Path, pcm: np.ndarray, params: FeatureParams) -> dict:
    """Run a features harness on int16 ``pcm``; one record per pushed block of hop samples.

    Returns ``ret`` (push's return value), ``columns``, ``db`` (n, mels, columns) float32 and
    ``q`` (n, mels, columns) int8 — the window after every push.
    """
    size = params.n_mels * params.n_columns
    record = np.dtype([("ret", "i1"), ("columns", "u1"), ("db", "<f4", (size,)),
                       ("q", "i1", (size,))])
    data = np.ascontiguousarray(pcm, dtype="<i2").tobytes()
    rows = np.frombuffer(hostbuild.run_program(exe, data=data), dtype=record)
    shape = (len(rows), params.n_mels, params.n_columns)
    return {"ret": rows["ret"].copy(), "columns": rows["columns"].copy(),
            "db": rows["db"].reshape(shape).copy(), "q": rows["q"].reshape(shape).copy()}
