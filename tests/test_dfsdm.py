"""The firmware's clock/USART/DFSDM arithmetic (firmware/src/calc.c) equals dfsdm_oracle."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

import dfsdm_oracle as dfsdm
from asc_toolchain.codegen import hostbuild

FIRMWARE = Path(__file__).resolve().parents[1] / "firmware"


@pytest.fixture(scope="module")
def calc(tmp_path_factory):
    hostbuild.find_cc()
    exe = hostbuild.build([FIRMWARE / "host" / "calc_cli.c", FIRMWARE / "src" / "calc.c"], "calc-cli",
                          include_dirs=(str(FIRMWARE / "include"),), sanitize=True,
                          cache=tmp_path_factory.mktemp("calccache"))

    def ask(queries: list[str]) -> list[str]:
        return hostbuild.run_program(exe, [], ("\n".join(queries) + "\n").encode()).decode().splitlines()
    return ask


def test_board_clock_facts():
    assert dfsdm.pll_n(dfsdm.MSI_HZ, 80_000_000) == 40            # 4 MHz × 40 / 2 = 80 MHz
    assert dfsdm.flash_latency(80_000_000) == 4
    assert dfsdm.usart_brr(80_000_000, 115_200) == 694            # 115,274 baud, +0.07 %
    assert dfsdm.pll_n(dfsdm.MSI_HZ, 100_000_000) == 0            # above the L4's 80 MHz
    assert dfsdm.usart_brr(1_000_000, 115_200) == 0               # BRR under 16


def test_microphone_plan_for_the_board():
    plan = dfsdm.dfsdm_plan(80_000_000, 16_000, 1_000_000, 3_250_000, 2_400_000)
    assert (plan.ckout_div, plan.mic_hz, plan.fosr, plan.order, plan.shift) == (40, 2_000_000, 125, 4, 13)
    assert plan.sample_rate == 16_000                             # from FLT0FCR and FLT0CR1 (FAST)
    assert dfsdm.cr1(2) == 0x22240000                             # FAST, RCH 2, RDMAEN, RCONT
    assert plan.peak >> plan.shift <= 32767 < plan.peak >> (plan.shift - 1)
    assert dfsdm.fcr(plan) == (4 << 29) | (124 << 16)
    assert dfsdm.ckout_bits(plan) == 39 << 16 and dfsdm.chcfgr2(plan) == 13 << 3


def test_output_rate_follows_fast_with_rm0351s_formula():
    fcr = (4 << 29) | (124 << 16)                                 # sinc4, FOSR 125, IOSR 1
    assert dfsdm.output_rate(2e6, fcr, dfsdm.FLTCR1_FAST) == 16_000          # 2 MHz / (125 · 1)
    assert dfsdm.output_rate(2e6, fcr, 0) == 2e6 / 505                       # 125 · (1 − 1 + 4) + 4 + 1
    assert dfsdm.output_rate(2e6, fcr | 9, 0) == 2e6 / (125 * 13 + 5)        # IOSR 10
    assert dfsdm.output_rate(2e6, fcr | 9, dfsdm.FLTCR1_FAST) == 1_600
    with pytest.raises(ValueError, match="FORD = 0"):
        dfsdm.output_rate(2e6, 124 << 16, 0)                                  # FastSinc


def test_no_plan_when_no_divider_fits():
    assert dfsdm.dfsdm_plan(80_000_000, 44_100, 1_000_000, 3_250_000, 2_400_000) is None


def test_rdatar_to_int16():
    assert dfsdm.sample_from_rdatar(0x00001200) == 0x12
    assert dfsdm.sample_from_rdatar(0xFFFFFF00) == -1
    assert dfsdm.sample_from_rdatar(0x7FFFFF00) == 32767          # saturates
    assert dfsdm.sample_from_rdatar(0x80000000) == -32768


CLOCKS = [1_000_000, 4_000_000, 16_000_000, 48_000_000, 64_000_000, 72_000_000, 80_000_000, 96_000_000]


def test_c_clock_arithmetic_equals_python(calc):
    cases = [(m, s) for m in (dfsdm.MSI_HZ, 8_000_000, 0) for s in CLOCKS]
    got = calc([f"pll {m} {s}" for m, s in cases] + [f"latency {s}" for s in CLOCKS + [0, 16_000_000, 16_000_001]]
               + [f"brr {s} {b}" for s in CLOCKS for b in (9600, 115_200, 921_600, 0)])
    want = ([dfsdm.pll_n(m, s) for m, s in cases] + [dfsdm.flash_latency(s) for s in CLOCKS + [0, 16_000_000, 16_000_001]]
            + [dfsdm.usart_brr(s, b) for s in CLOCKS for b in (9600, 115_200, 921_600, 0)])
    assert [int(x) for x in got] == want


def test_c_dfsdm_plans_equal_python(calc):
    grid = list(itertools.product([16_000_000, 48_000_000, 72_000_000, 80_000_000],
                                  [8_000, 16_000, 32_000, 48_000], [(1_000_000, 3_250_000, 2_400_000),
                                                                    (500_000, 4_000_000, 1_000_000)]))
    got = calc([f"plan {k} {fs} {lo} {hi} {t}" for k, fs, (lo, hi, t) in grid] + [f"cr1 {c}" for c in range(8)])
    assert [int(x) for x in got[len(grid):]] == [dfsdm.cr1(c) for c in range(8)]
    got = got[:len(grid)]
    for (k, fs, (lo, hi, t)), line in zip(grid, got, strict=True):
        plan = dfsdm.dfsdm_plan(k, fs, lo, hi, t)
        want = "none" if plan is None else " ".join(str(v) for v in (
            plan.ckout_div, plan.mic_hz, plan.fosr, plan.order, plan.shift, plan.peak,
            dfsdm.ckout_bits(plan), dfsdm.chcfgr2(plan), dfsdm.fcr(plan)))
        assert line == want, (k, fs, lo, hi, t)
    assert sum(line != "none" for line in got) >= len(grid) // 2


def test_c_sample_conversion_equals_python(calc):
    words = [0, 0x100, 0xFFFFFF00, 0x7FFF0000, 0x00800000, 0xFF7FFF00, 0x80000000, 0x12345678, 0xFEDCBA98]
    assert [int(x) for x in calc([f"sample {w}" for w in words])] == [dfsdm.sample_from_rdatar(w) for w in words]


def dc_gain_db(freq: float, fs: float = 16_000) -> float:
    """Measured gain of the Python DC blocker for a sine (after the filter settles)."""
    t = np.arange(int(fs)) / fs
    x = np.round(16_000 * np.sin(2 * np.pi * freq * t)).astype(int)
    y = np.array(dfsdm.dc_block(x)[0][int(fs) // 2:], float)
    return 20 * np.log10(np.sqrt(np.mean(y ** 2)) / np.sqrt(np.mean(x[int(fs) // 2:] ** 2.0)))


def test_dc_blocker_removes_offset_keeps_the_band():
    out, _ = dfsdm.dc_block([3000] * 16_000)                      # a microphone's DC offset
    assert out[0] == 3000 and max(abs(v) for v in out[-8000:]) == 0
    assert abs(dc_gain_db(1000)) < 0.05 and abs(dc_gain_db(100)) < 0.1      # +0.02 dB: 2 / (1 + p) at the top
    assert -3.5 < dc_gain_db(12.7) < -2.5                        # the corner: (1 − p) · fs / 2π
    assert max(dfsdm.dc_block([32767, -32768] * 100)[0]) == 32767    # saturates, no wrap


def test_c_dc_blocker_equals_python_bit_for_bit(calc):
    rng = np.random.default_rng(7)
    cases = [rng.integers(-32768, 32768, 4096), np.full(3000, -32768), np.full(3000, 32767),
             (rng.standard_normal(4096) * 300 + 2000).astype(int), np.tile([32767, -32768], 500)]
    got = calc([f"dc {len(x)} " + " ".join(str(int(v)) for v in x) for x in cases])
    for x, line in zip(cases, got, strict=True):
        assert [int(v) for v in line.split()] == dfsdm.dc_block(x)[0]
    state = (0, 0)
    halves = []
    for part in (cases[3][:1000], cases[3][1000:]):                 # state carried across blocks
        out, state = dfsdm.dc_block(part, state)
        halves += out
    assert halves == dfsdm.dc_block(cases[3])[0]
