"""The firmware's clock, USART and DFSDM arithmetic (firmware/src/calc.c), mirrored in Python.

Tests compile calc.c for the host and compare it with these functions over a grid of inputs,
so the register values the firmware writes are checked without a board. Facts from RM0351:
PLL N 8..86 with a 64..344 MHz VCO, 16 MHz per flash wait state (range 1, at most 4), USART
BRR = f_pclk / baud (16x oversampling), DFSDM output clock divider 2..256, FOSR 1..1024, sinc
order 1..5 with the filter output (FOSR^order) inside 32 bits, RDATAR holding 24 bits in 31:8.
"""

from __future__ import annotations

from dataclasses import dataclass

MSI_HZ = 4_000_000


def pll_n(msi_hz: int, sysclk_hz: int) -> int:
    """PLL N for SYSCLK from MSI with M = 1 and R = 2; 0 when impossible."""
    if msi_hz == 0 or (2 * sysclk_hz) % msi_hz:
        return 0
    n = 2 * sysclk_hz // msi_hz
    vco = msi_hz * n
    if not 8 <= n <= 86 or not 64_000_000 <= vco <= 344_000_000 or sysclk_hz > 80_000_000:
        return 0
    return n


def flash_latency(hclk_hz: int) -> int:
    """Flash wait states at HCLK in voltage range 1."""
    return 0 if hclk_hz == 0 else min(4, (hclk_hz - 1) // 16_000_000)


def usart_brr(pclk_hz: int, baud: int) -> int:
    """BRR for 16x oversampling, rounded to nearest; 0 when out of range."""
    if baud == 0:
        return 0
    brr = (pclk_hz + baud // 2) // baud
    return brr if 16 <= brr <= 0xFFFF else 0


@dataclass(frozen=True)
class DfsdmPlan:
    ckout_div: int
    mic_hz: int
    fosr: int
    order: int
    shift: int
    peak: int

    @property
    def sample_rate(self) -> float:
        return self.mic_hz / self.fosr


def dfsdm_plan(kernel_hz: int, fs_hz: int, mic_min_hz: int, mic_max_hz: int,
               mic_target_hz: int) -> DfsdmPlan | None:
    """The DFSDM setup the firmware picks (see calc.h); None when no divider fits."""
    best = None
    for div in range(2, 257):
        if fs_hz == 0 or kernel_hz % div:
            continue
        mic = kernel_hz // div
        if not mic_min_hz <= mic <= mic_max_hz or mic % fs_hz:
            continue
        fosr = mic // fs_hz
        if not 1 <= fosr <= 1024:
            continue
        if best and abs(mic - mic_target_hz) >= abs(best[1] - mic_target_hz):
            continue
        best = (div, mic, fosr)
    if best is None:
        return None
    div, mic, fosr = best
    order = 5
    while order > 1 and fosr ** order > 0x7FFFFFFF:
        order -= 1
    peak = fosr ** order
    shift = 0
    while (peak >> shift) > 32767:
        shift += 1
    return DfsdmPlan(div, mic, fosr, order, shift, peak)


def ckout_bits(plan: DfsdmPlan) -> int:
    """CH0CFGR1 CKOUTDIV field (divider - 1 in bits 23:16)."""
    return ((plan.ckout_div - 1) & 0xFF) << 16


def chcfgr2(plan: DfsdmPlan) -> int:
    """CHyCFGR2: DTRBS right shift in bits 7:3, no offset."""
    return (plan.shift & 0x1F) << 3


def fcr(plan: DfsdmPlan) -> int:
    """FLTxFCR: FORD in 31:29, FOSR - 1 in 25:16, IOSR = 0."""
    return ((plan.order & 7) << 29) | (((plan.fosr - 1) & 0x3FF) << 16)


def sample_from_rdatar(word: int) -> int:
    """An RDATAR word (24-bit signed sample in bits 31:8) to int16, saturating."""
    value = (word & 0xFFFFFFFF) >> 8
    if value & 0x800000:
        value -= 1 << 24
    return max(-32768, min(32767, value))
