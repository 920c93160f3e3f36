"""Speech-emotion features, numpy only: one implementation for training and the device.

A window is 41,664 samples at 16 kHz = 128 frames of 1,024 samples every 320 (no centering).
Three channels, each scaled to [0, 1] within the window, give a 3×128×128 float32 image:

0. log mel: power spectrogram (periodic Hann, power 2) → 128 Slaney mels (50–8,000 Hz, the same
   filterbank as ``librosa.filters.mel``) → dB (``10·log10(max(S, 1e-10))``, floored 80 dB below
   the window's peak, as ``librosa.power_to_db``);
1. pitch: YIN f0 per frame (50–8,000 Hz, trough threshold 0.1, the algorithm of ``librosa.yin``),
   one value per frame broadcast over the 128 rows;
2. RMS per frame (``librosa.feature.rms`` without centering), broadcast the same way.

A channel that is constant in a window (silence) becomes all zeros. Clips shorter than one
window are zero-padded on both sides (centred).

FFT: scipy.fft when installed (host; it keeps float32 and is faster), numpy.fft otherwise
(device); the two agree to float32 rounding. YIN's autocorrelation uses a 1,350-point
transform (2·3³·5², the first fast length ≥ 1,024 + 320 lags: no wrap-around), not librosa's 2,048;
its inverse is a DCT-I of the (real, even) power spectrum where scipy is there (the same sum as
the inverse real FFT, ~half its time).

This module runs on the device (JetPack 4.6: Python 3.6, numpy 1.19): keep it free of
dataclasses, f-string ``=``, walrus and newer numpy API (no ``sliding_window_view``).
"""

import numpy as np

try:  # scipy's FFT keeps float32 and is ~3× faster; the device has numpy's (same maths)
    from scipy import fft as _fft
    FFT_BACKEND = "scipy"
except ImportError:  # pragma: no cover - the device path
    _fft = np.fft
    FFT_BACKEND = "numpy"

SAMPLE_RATE = 16000
FRAME = 1024
HOP = 320
N_FRAMES = 128
N_MELS = 128
FMIN = 50.0
FMAX = 8000.0
PITCH_FMIN = 50.0
PITCH_FMAX = 8000.0
TOP_DB = 80.0
AMIN = 1e-10
WINDOW_SAMPLES = (N_FRAMES - 1) * HOP + FRAME      # 41,664 samples = 2.604 s
YIN_THRESHOLD = 0.1
MEL_GROUP = 16                  # filters per band of the mel product (see _mel_bands)

FEATURE_PARAMS = {
    "sample_rate": SAMPLE_RATE, "frame": FRAME, "hop": HOP, "n_frames": N_FRAMES,
    "n_mels": N_MELS, "fmin": FMIN, "fmax": FMAX, "pitch_fmin": PITCH_FMIN,
    "pitch_fmax": PITCH_FMAX, "top_db": TOP_DB, "window_samples": WINDOW_SAMPLES,
    "channels": ["logmel", "pitch", "rms"], "layout": "CHW",
}

_cache = {}
_prefix_cache = {}      # (block, blocks) → the two 0/1 matrices of cumsum_rows


def hz_to_mel(freq):
    """Slaney mel scale: linear below 1 kHz, logarithmic above (float64 array)."""
    freq = np.asarray(freq, dtype=np.float64)
    f_sp = 200.0 / 3
    mels = freq / f_sp
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0
    above = freq >= min_log_hz
    mels = np.where(above, min_log_mel + np.log(np.maximum(freq, min_log_hz) / min_log_hz) / logstep,
                    mels)
    return mels


def mel_to_hz(mels):
    """Inverse of :func:`hz_to_mel`."""
    mels = np.asarray(mels, dtype=np.float64)
    f_sp = 200.0 / 3
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0
    return np.where(mels >= min_log_mel, min_log_hz * np.exp(logstep * (mels - min_log_mel)),
                    f_sp * mels)


def mel_filterbank(sr=SAMPLE_RATE, n_fft=FRAME, n_mels=N_MELS, fmin=FMIN, fmax=FMAX):
    """Slaney-normalised triangular mel filters, (n_mels, n_fft//2 + 1) float32."""
    fft_freqs = np.linspace(0.0, sr / 2.0, 1 + n_fft // 2)
    mel_f = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2:n_mels + 2] - mel_f[:n_mels]))[:, None]   # equal area per filter
    return weights.astype(np.float32)


def _constants():
    if not _cache:
        n = np.arange(FRAME, dtype=np.float64)
        _cache["hann"] = (0.5 - 0.5 * np.cos(2.0 * np.pi * n / FRAME)).astype(np.float32)
        _cache["mel_bands"] = _mel_bands(mel_filterbank(), MEL_GROUP)
        _cache["lag_count"] = np.arange(1, int(np.ceil(SAMPLE_RATE / PITCH_FMIN)) + 1, dtype=np.float32)
    return _cache


def _mel_bands(weights, group):
    """The filterbank cut into groups of ``group`` filters, each with the FFT bins it touches:
    [(first bin, end bin, first filter, (group, bins) weights)]. A mel filter spans a few bins,
    so the groups' products do ~1/4 of the full (128 × 513) product's work (the zeros skipped)."""
    bands = []
    for first in range(0, weights.shape[0], group):
        rows = weights[first:first + group]
        used = np.nonzero(rows.any(axis=0))[0]
        lo, hi = (int(used[0]), int(used[-1]) + 1) if len(used) else (0, 1)
        bands.append((lo, hi, first, np.ascontiguousarray(rows[:, lo:hi])))
    return bands


def frames_of(signal, n_frames=None):
    """View ``signal`` as (n_frames, FRAME) rows every HOP samples (no copy)."""
    x = np.ascontiguousarray(signal, dtype=np.float32)
    if n_frames is None:
        n_frames = 1 + (len(x) - FRAME) // HOP
    step = x.strides[0]
    return np.lib.stride_tricks.as_strided(x, shape=(n_frames, FRAME), strides=(HOP * step, step),
                                           writeable=False)


def logmel_db(frames):
    """Log mel in dB (top 80 dB kept) of (n, FRAME) frames → (N_MELS, n)."""
    c = _constants()
    spec = _fft.rfft(frames * c["hann"], axis=1)
    power = np.square(spec.real, dtype=np.float32)     # numpy < 2 (the device) gives complex128
    power += np.square(spec.imag, dtype=np.float32)
    mel = np.empty((N_MELS, len(power)), dtype=np.float32)
    for lo, hi, first, weights in c["mel_bands"]:
        np.dot(weights, power[:, lo:hi].T, out=mel[first:first + len(weights)])
    db = 10.0 * np.log10(np.maximum(mel, AMIN))
    return np.maximum(db, db.max() - TOP_DB)


def _autocorrelation(frames, max_lag):
    """Linear autocorrelation of each frame for lags 0..max_lag → (n, max_lag + 1), rows contiguous.

    The power spectrum P of a real frame is real and even, so its inverse transform
    r(k) = (P(0) + (−1)^k P(N/2) + 2·Σ P(m) cos(2πkm/N)) / N is a DCT-I of P's N/2 + 1 bins."""
    size = _fast_len(FRAME + max_lag)                      # no wrap-around up to max_lag
    spec = _fft.rfft(frames, n=size, axis=1)              # zero-padded by the FFT itself
    power = np.square(spec.real)
    power += np.square(spec.imag)
    if not hasattr(_fft, "dct"):                          # numpy's FFT (the device)
        return _fft.irfft(power, n=size, axis=1)[:, :max_lag + 1]
    acf = _fft.dct(power, type=1, axis=1, overwrite_x=True)[:, :max_lag + 1]
    acf *= np.float32(1.0 / size)
    return acf


def _fast_len(n):
    """The smallest length >= n whose factors are 2, 3 and 5 (fast for every FFT backend)."""
    best = 2 ** int(np.ceil(np.log2(n)))
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            m = p35
            while m < n:
                m *= 2
            best = min(best, m)
            p35 *= 3
        p5 *= 5
    return best


def cumsum_rows(x, block=16):
    """``np.cumsum(x, axis=1)`` for a 2-D float32 array, as two small matrix products.

    numpy's cumsum adds one element at a time (≈ 0.13 ms for 128×320, twice per window in
    YIN); here prefix sums inside blocks of 16 columns are one product with a triangular
    matrix and the block offsets a second one (≈ 0.03 ms). Sums differ from the sequential
    ones by float32 rounding only.
    """
    n, length = x.shape
    blocks = -(-length // block)
    if blocks * block != length:                 # zero columns change no prefix sum
        x = np.concatenate([x, np.zeros((n, blocks * block - length), x.dtype)], axis=1)
    key = (block, blocks)
    if key not in _prefix_cache:
        _prefix_cache[key] = (np.triu(np.ones((block, block), np.float32)),
                              np.triu(np.ones((blocks, blocks), np.float32), 1))
    inside, offsets = _prefix_cache[key]
    y = np.dot(x.reshape(-1, block), inside).reshape(n, blocks, block)
    y += np.dot(y[:, :, -1], offsets)[:, :, None]
    return y.reshape(n, blocks * block)[:, :length]


def _yin_cmnd(frames, min_period, max_period):
    """Cumulative mean normalised difference for lags min..max_period → (n, lags).

    Lags run along rows (the FFT's own layout) and the steps reuse their buffers: on a 128×320
    array a transposed view or a fresh temporary costs as much as the arithmetic.
    """
    acf = _autocorrelation(frames, max_period)
    diff = np.subtract(acf[:, :1], acf[:, 1:])                     # r(0) − r(k), k = 1..max_period
    diff *= 2.0
    energy = np.square(frames[:, :max_period])
    diff -= cumsum_rows(energy)                                    # − sum_{m<k} y(m)^2
    cumulative_mean = cumsum_rows(diff)
    cumulative_mean /= _constants()["lag_count"][:max_period]
    denominator = cumulative_mean[:, min_period - 1:max_period]
    denominator += np.finfo(denominator.dtype).tiny
    numerator = diff[:, min_period - 1:]
    return np.divide(numerator, denominator, out=numerator)


def _parabolic_shift(d, period, rows):
    """Vertex offset of the parabola through d[row, period] and its neighbours; 0 at the edges
    and where the vertex lies more than one bin away."""
    inner = np.clip(period, 1, d.shape[1] - 2)
    left, mid, right = d[rows, inner - 1], d[rows, inner], d[rows, inner + 1]
    a = right + left - 2.0 * mid
    b = (right - left) / 2.0
    ok = (np.abs(b) < np.abs(a)) & (period == inner)
    return np.where(ok, -b / np.where(ok, a, 1.0), 0.0)


def _first_trough_below(d, threshold):
    """Per row, the index of the first local minimum below ``threshold``, or -1 when none."""
    trough = np.empty(d.shape, dtype=bool)
    np.less(d[:, 1:-1], d[:, :-2], out=trough[:, 1:-1])
    trough[:, 1:-1] &= d[:, 1:-1] <= d[:, 2:]
    trough[:, -1] = d[:, -1] < d[:, -2]
    trough[:, 0] = d[:, 0] < d[:, 1]
    trough &= d < threshold
    first = np.argmax(trough, axis=1)
    return np.where(trough[np.arange(len(d)), first], first, -1)


def yin_f0(frames, fmin=PITCH_FMIN, fmax=PITCH_FMAX, sr=SAMPLE_RATE):
    """YIN f0 in Hz of (n, FRAME) frames → (n,) (librosa.yin's rules: first trough of the
    normalised difference below 0.1, else the global minimum; parabolic refinement)."""
    min_period = int(np.floor(sr / fmax))
    max_period = min(int(np.ceil(sr / fmin)), FRAME - 1)
    d = _yin_cmnd(frames, min_period, max_period)
    first = _first_trough_below(d, YIN_THRESHOLD)
    period = np.where(first >= 0, first, np.argmin(d, axis=1))
    rows = np.arange(d.shape[0])
    return sr / (min_period + period + _parabolic_shift(d, period, rows))


def rms(frames):
    """Root mean square of each frame → (n,) (one pass: no squared copy of the frames)."""
    return np.sqrt(np.einsum("ij,ij->i", frames, frames) / np.float32(frames.shape[1]))


def unit_scale(x):
    """Scale to [0, 1] by the array's own min and max; a constant array becomes zeros."""
    lo = x.min()
    span = x.max() - lo
    if not span > 0:
        return np.zeros(x.shape, dtype=np.float32)
    return ((x - lo) / span).astype(np.float32)


def window_features(window):
    """Features of one window of WINDOW_SAMPLES samples → (3, 128, 128) float32 in [0, 1]."""
    window = np.asarray(window)
    if window.shape != (WINDOW_SAMPLES,):
        raise ValueError("a window has %d samples, got shape %s" % (WINDOW_SAMPLES, window.shape))
    frames = frames_of(window, N_FRAMES)
    out = np.empty((3, N_MELS, N_FRAMES), dtype=np.float32)
    out[0] = unit_scale(logmel_db(frames))
    out[1] = unit_scale(yin_f0(frames))[None, :]
    out[2] = unit_scale(rms(frames))[None, :]
    return out


def pad_to_window(signal):
    """Zero-pad a clip shorter than one window on both sides (centred); longer clips unchanged."""
    signal = np.asarray(signal, dtype=np.float32)
    missing = WINDOW_SAMPLES - len(signal)
    if missing <= 0:
        return signal
    left = missing // 2
    return np.concatenate([np.zeros(left, np.float32), signal,
                           np.zeros(missing - left, np.float32)])


def window_starts(n_samples, step):
    """Start sample of each window of a (padded) clip, every ``step`` samples, last one flush."""
    if n_samples <= WINDOW_SAMPLES:
        return [0]
    starts = list(range(0, n_samples - WINDOW_SAMPLES + 1, step))
    if starts[-1] != n_samples - WINDOW_SAMPLES:
        starts.append(n_samples - WINDOW_SAMPLES)
    return starts


def clip_features(signal, step=8000, max_windows=None):
    """All windows of a clip every ``step`` samples → (n, 3, 128, 128) float32 (n ≥ 1)."""
    padded = pad_to_window(signal)
    starts = window_starts(len(padded), step)
    if max_windows is not None and len(starts) > max_windows:
        keep = np.linspace(0, len(starts) - 1, max_windows).round().astype(int)
        starts = [starts[i] for i in keep]
    return np.stack([window_features(padded[s:s + WINDOW_SAMPLES]) for s in starts])
