"""The firmware's clock, USART and DFSDM arithmetic and its microphone sample path
(firmware/src/calc.c), mirrored in Python.

Tests compile calc.c for the host and compare it with these functions over a grid of inputs,
so the register values the firmware writes are checked without a board. Facts from RM0351:
PLL N 8..86 with a 64..344 MHz VCO, 16 MHz per flash wait state (range 1, at most 4), USART
BRR = f_pclk / baud (16x oversampling), DFSDM output clock divider 2..256, FOSR 1..1024, sinc
order 1..5 with the filter output (FOSR^order) inside 32 bits, RDATAR holding 24 bits in 31:8,
and the Sinc filter's output rate in continuous mode (``output_rate``), which FLTxCR1.FAST
decides. The sample rate of a plan is computed from the register values, never assumed.
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


FLTCR1_FAST = 1 << 29
DC_POLE_Q15 = 32604            # calc.h CALC_DC_POLE_Q15


def output_rate(f_ckin: float, fcr_value: int, cr1_value: int) -> float:
    """Samples/s out of a Sinc filter in continuous mode (RM0351, DFSDM regular conversion rate), from FLTxFCR and
    FLTxCR1: f_ckin / (FOSR·IOSR) with FAST = 1, f_ckin / (FOSR·(IOSR−1+FORD)+FORD+1) with
    FAST = 0. ValueError for FastSinc (FORD = 0), which the firmware never uses."""
    ford = (fcr_value >> 29) & 7
    fosr = ((fcr_value >> 16) & 0x3FF) + 1
    iosr = (fcr_value & 0xFF) + 1
    if not 1 <= ford <= 5:
        raise ValueError(f"FORD = {ford}: only sinc1..sinc5 are modelled")
    if cr1_value & FLTCR1_FAST:
        return f_ckin / (fosr * iosr)
    return f_ckin / (fosr * (iosr - 1 + ford) + ford + 1)


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
        """The output rate of the registers the firmware writes for this plan."""
        return output_rate(self.mic_hz, fcr(self), cr1(MIC_CHANNEL))


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


MIC_CHANNEL = 2               # mic.c: DATIN2 (PE7)


def cr1(channel: int) -> int:
    """FLTxCR1 before DFEN: FAST, RCH = channel, RDMAEN, RCONT (calc_dfsdm_cr1)."""
    return FLTCR1_FAST | ((channel & 7) << 24) | (1 << 21) | (1 << 18)


def sample_from_rdatar(word: int) -> int:
    """An RDATAR word (24-bit signed sample in bits 31:8) to int16, saturating."""
    value = (word & 0xFFFFFFFF) >> 8
    if value & 0x800000:
        value -= 1 << 24
    return max(-32768, min(32767, value))


def dc_block(samples, state: tuple[int, int] = (0, 0)) -> tuple[list[int], tuple[int, int]]:
    """The microphone path's DC blocker (calc_dc_block), bit-exact: y = x − x₁ + p·y₁ with
    p = DC_POLE_Q15 / 32768, y kept with 8 fraction bits, output rounded and saturated to int16.
    ``state`` is (previous input, previous output ×256); returns (outputs, new state)."""
    x1, y1 = state
    out = []
    for x in (int(v) for v in samples):
        y1 = (x - x1) * 256 + ((y1 * DC_POLE_Q15 + (1 << 14)) >> 15)
        x1 = x
        out.append(max(-32768, min(32767, (y1 + 128) >> 8)))
    return out, (x1, y1)
