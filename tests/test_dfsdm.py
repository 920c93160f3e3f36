"""The firmware's clock/USART/DFSDM arithmetic (firmware/src/calc.c) equals dfsdm_oracle."""

from __future__ import annotations

import itertools
from pathlib import Path

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
    assert plan.sample_rate == 16_000
    assert plan.peak >> plan.shift <= 32767 < plan.peak >> (plan.shift - 1)
    assert dfsdm.fcr(plan) == (4 << 29) | (124 << 16)
    assert dfsdm.ckout_bits(plan) == 39 << 16 and dfsdm.chcfgr2(plan) == 13 << 3


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
    got = calc([f"plan {k} {fs} {lo} {hi} {t}" for k, fs, (lo, hi, t) in grid])
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
