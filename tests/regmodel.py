"""A register model of the STM32L475 for QEMU's logs: replay the firmware's register accesses
and derive what the silicon would run (RM0351 facts; pin functions from the STM32L475xx
datasheet's alternate-function table).

What QEMU 10 prints (b-l475e-iot01a, checked with 10.0.2):
- peripherals it does not model (FLASH, PWR, DFSDM1, DMA1, …) with ``-d unimp``:
  ``DFSDM1: unimplemented device write (size 4, offset 0x100, value 0x22240000)`` and
  ``… read  (size 4, offset 0x100)``; such a read returns 0;
- its RCC model with ``-d trace:stm32l4x5_rcc_read,trace:stm32l4x5_rcc_write``:
  ``stm32l4x5_rcc_write RCC: Write <0xc> <- 0x1002801`` / ``… Read <0x0> -> 0x63``;
- GPIO: ``stm32l4x5_gpio_write GPIOB addr: 0x20 val: 0x77000000`` (reads carry no value);
- USART: ``stm32l4x5_usart_write USART: Write <0xc> <- 0x2b6`` — no instance named; the firmware
  uses USART1 only, so the model files these under USART1;
- the NVIC and SCB: ``nvic_sysreg_write NVIC sysreg write addr 0x100 data 0x4000 size 4``
  (offsets from 0xE000E000);
- the DWT and other unassigned PPB space: ``Write of unassigned area of PPB: offset 0x1fb0``
  (no value; offsets from 0xE0000000).

A read-modify-write is resolved the way silicon would: the read returns the last value written
(or the reset value), and the bits the firmware changed relative to what QEMU returned are
applied to it. A write that RM0351 says the hardware ignores (a locked field, a peripheral
whose clock is off, the backup domain before DBP) keeps the old value and is recorded in
``Chip.broken``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from dfsdm_oracle import output_rate

# (peripheral, offset) -> reset value, for the registers whose reset value matters (RM0351)
RESET = {
    ("RCC", 0x00): 0x00000063, ("RCC", 0x0C): 0x00001000, ("RCC", 0x48): 0x00000100,
    ("RCC", 0x94): 0x0C000600, ("FLASH", 0x00): 0x00000600, ("PWR", 0x00): 0x00000200,
    ("GPIOA", 0x00): 0xABFFFFFF, ("GPIOB", 0x00): 0xFFFFFEBF, ("GPIOE", 0x00): 0xFFFFFFFF,
}
# peripheral -> (RCC enable register offset, bit): writes are ignored while the clock is off
CLOCKS = {"GPIOA": (0x4C, 0), "GPIOB": (0x4C, 1), "GPIOE": (0x4C, 4), "DMA1": (0x48, 0),
          "PWR": (0x58, 28), "USART1": (0x60, 14), "DFSDM1": (0x60, 24)}
# (port, pin, AF) -> signal, the pins the firmware uses (datasheet, alternate functions)
PIN_AF = {("B", 6, 7): "USART1_TX", ("B", 7, 7): "USART1_RX",
          ("E", 9, 6): "DFSDM1_CKOUT", ("E", 7, 6): "DFSDM1_DATIN2"}
MSI_RANGE_HZ = (100e3, 200e3, 400e3, 800e3, 1e6, 2e6, 4e6, 8e6, 16e6, 24e6, 32e6, 48e6)
HSI16_HZ, LSE_HZ = 16e6, 32768.0
DMA_REQUEST_0 = {4: "DFSDM1_FLT0"}      # DMA1 channel -> its request 0 (RM0351, DMA1 request mapping), as used
AHB_DIV = {8: 2, 9: 4, 10: 8, 11: 16, 12: 64, 13: 128, 14: 256, 15: 512}   # RCC_CFGR HPRE
APB_DIV = {4: 2, 5: 4, 6: 8, 7: 16}                                        # RCC_CFGR PPRE2


@dataclass(frozen=True)
class Lock:
    """A field RM0351 lets software change only while ``guard`` (peripheral, offset, mask) is
    clear — or, with ``need_set``, only while it is set."""

    periph: str
    offset: int
    mask: int
    guard: tuple[str, int, int]
    rule: str
    need_set: bool = False


LOCKS = (
    Lock("RCC", 0x0C, 0xFFFFFFFF, ("RCC", 0x00, 1 << 24), "RCC_PLLCFGR changes only while PLLON = 0"),
    Lock("RCC", 0x90, 0xFFFFFFFF, ("PWR", 0x00, 1 << 8), "RCC_BDCR is write-protected until PWR_CR1.DBP = 1",
         need_set=True),
    Lock("RCC", 0x90, 3 << 3, ("RCC", 0x90, 1 << 0), "LSEDRV changes only while LSEON = 0"),
    Lock("USART1", 0x0C, 0xFFFF, ("USART1", 0x00, 1), "USART_BRR changes only while UE = 0"),
    Lock("USART1", 0x00, 0x1000_9600, ("USART1", 0x00, 1), "USART_CR1 M/OVER8/PCE/PS change only while UE = 0"),
    Lock("DFSDM1", 0x000, 0x40FF0000, ("DFSDM1", 0x000, 1 << 31), "CKOUTDIV/CKOUTSRC change only while DFSDMEN = 0"),
    Lock("DFSDM1", 0x040, 0xF10F, ("DFSDM1", 0x040, 1 << 7), "CH2CFGR1 input fields change only while CHEN = 0"),
    Lock("DFSDM1", 0x100, 0x60280038, ("DFSDM1", 0x100, 1),
         "FLT0CR1 FAST/AWFSEL/RDMAEN/RSYNC/J* change only while DFEN = 0"),
    Lock("DFSDM1", 0x114, 0xE3FF00FF, ("DFSDM1", 0x100, 1), "FLT0FCR changes only while DFEN = 0"),
    Lock("DMA1", 0x44, 0x7FF0, ("DMA1", 0x44, 1), "DMA1_CCR4 transfer fields change only while EN = 0"),
    Lock("DMA1", 0x48, 0xFFFF, ("DMA1", 0x44, 1), "DMA1_CNDTR4 changes only while EN = 0"),
    Lock("DMA1", 0x4C, 0xFFFFFFFF, ("DMA1", 0x44, 1), "DMA1_CPAR4 changes only while EN = 0"),
    Lock("DMA1", 0x50, 0xFFFFFFFF, ("DMA1", 0x44, 1), "DMA1_CMAR4 changes only while EN = 0"),
)
WRITE_ONLY = {("DMA1", 0x04), ("DFSDM1", 0x10C)}   # flag-clear registers: nothing is stored


@dataclass(frozen=True)
class Access:
    op: str                 # "r" or "w"
    periph: str
    offset: int
    value: int | None       # written value; for reads what QEMU returned (None: not logged)


_PATTERNS = (
    (re.compile(r"(\w+): unimplemented device (read|write)\s*\(size \d+, offset (0x[0-9a-f]+)"
                r"(?:, value (0x[0-9a-f]+))?\)"), lambda m: (m[2][0], m[1], m[3], m[4] or "0")),
    (re.compile(r"stm32l4x5_rcc_(read|write) RCC: \w+ <(0x[0-9a-f]+)> (?:->|<-) (0x[0-9a-f]+)"),
     lambda m: (m[1][0], "RCC", m[2], m[3])),
    (re.compile(r"stm32l4x5_gpio_write (GPIO[A-I]) addr: (0x[0-9a-f]+) val: (0x[0-9a-f]+)"),
     lambda m: ("w", m[1], m[2], m[3])),
    (re.compile(r"stm32l4x5_usart_write USART: Write <(0x[0-9a-f]+)> <- (0x[0-9a-f]+)"),
     lambda m: ("w", "USART1", m[1], m[2])),
    (re.compile(r"nvic_sysreg_write NVIC sysreg write addr (0x[0-9a-f]+) data (0x[0-9a-f]+)"),
     lambda m: ("w", "SCS", m[1], m[2])),
    (re.compile(r"(Read|Write) of unassigned area of PPB: offset (0x[0-9a-f]+)"),
     lambda m: (m[1][0].lower(), "PPB", m[2], None)),
)


def parse_log(text: str) -> list[Access]:
    """The register accesses in a QEMU log, in order. A read of an unmodelled device is logged
    without a value and returned 0, so it gets value 0."""
    accesses = []
    for line in text.splitlines():
        for pattern, fields in _PATTERNS:
            match = pattern.search(line)
            if match:
                op, periph, offset, value = fields(match)
                accesses.append(Access(op, periph, int(offset, 16), None if value is None else int(value, 16)))
                break
    return accesses


@dataclass
class Chip:
    """Register state after replaying accesses, plus what was seen on the way."""

    regs: dict = field(default_factory=lambda: dict(RESET))
    broken: list = field(default_factory=list)      # RM0351 rules the writes broke
    pending: dict = field(default_factory=dict)     # register -> QEMU's read since its last write
    seen: dict = field(default_factory=dict)        # register -> the last value QEMU returned
    af_at_switch: dict = field(default_factory=dict)  # "PE9" -> AF number when its mode became AF
    latency_at_pll_switch: int | None = None
    started: set = field(default_factory=set)       # filters given RSWSTART while enabled
    ppb_writes: list = field(default_factory=list)

    def get(self, periph: str, offset: int) -> int:
        return self.regs.get((periph, offset), 0)

    def bit(self, periph: str, offset: int, bit: int) -> bool:
        return bool(self.get(periph, offset) >> bit & 1)

    def replay(self, accesses: list[Access]) -> "Chip":
        for a in accesses:
            if a.periph == "PPB":
                if a.op == "w":
                    self.ppb_writes.append(a.offset)
            elif a.op == "r":
                if a.value is not None:
                    self.pending[(a.periph, a.offset)] = self.seen[(a.periph, a.offset)] = a.value
            else:
                self._write(a.periph, a.offset, a.value)
        return self

    def _resolve(self, key, value: int) -> int:
        """The value silicon would write: QEMU's read may differ from the register's content
        (an unmodelled device reads 0); the bits the firmware changed apply to the content."""
        read = self.pending.pop(key, None)
        current = self.regs.get(key, 0)
        if read is None or read == current:
            return value
        return (current | (value & ~read)) & ~(read & ~value)

    def _write(self, periph: str, offset: int, value: int) -> None:
        key = (periph, offset)
        value = self._resolve(key, value)
        if periph in CLOCKS and not self.bit("RCC", *CLOCKS[periph]):
            self.broken.append(f"{periph} offset {offset:#x} written while its clock is off (RCC)")
            return
        old = self.regs.get(key, 0)
        value = self._rcc_cr_guards(key, old, value)
        for lock in LOCKS:
            if (lock.periph, lock.offset) == key and (old ^ value) & lock.mask:
                guard = bool(self.get(*lock.guard[:2]) & lock.guard[2])
                if guard != lock.need_set:
                    self.broken.append(lock.rule)
                    value = (value & ~lock.mask) | (old & lock.mask)
        value = self._observe(key, old, value)
        if key in WRITE_ONLY:
            return
        if periph == "SCS" and 0x100 <= offset < 0x120:     # NVIC_ISERn: writing 1 sets
            value |= old
        self.regs[key] = value

    def _rcc_cr_guards(self, key, old: int, value: int) -> int:
        """RCC_CR: the PLL cannot be stopped while it is SYSCLK, and MSIPLLEN cannot be set
        before the LSE is ready (as QEMU last reported RCC_BDCR.LSERDY)."""
        if key != ("RCC", 0x00):
            return value
        if old >> 24 & 1 and not value >> 24 & 1 and self.get("RCC", 0x08) & 3 == 3:
            self.broken.append("PLLON cannot be cleared while the PLL is the system clock")
            value |= 1 << 24
        if value & 4 and not old & 4 and not self.seen.get(("RCC", 0x90), 0) & 2:
            self.broken.append("MSIPLLEN cannot be set before LSERDY")
            value &= ~4
        return value

    def _observe(self, key, old: int, value: int) -> int:
        """Note the moments that matter later (the switch to the PLL, a pin turning AF, RSWSTART);
        returns the value the register keeps."""
        periph, offset = key
        if key == ("RCC", 0x08) and value & 3 == 3 and old & 3 != 3:
            self.latency_at_pll_switch = self.get("FLASH", 0x00) & 7
        if periph.startswith("GPIO") and offset == 0x00:
            for pin in range(16):
                if (value >> 2 * pin) & 3 == 2 and (old >> 2 * pin) & 3 != 2:
                    afr = self.get(periph, 0x20 if pin < 8 else 0x24)
                    self.af_at_switch[f"P{periph[-1]}{pin}"] = (afr >> 4 * (pin % 8)) & 0xF
        if periph == "DFSDM1" and offset >= 0x100 and (offset - 0x100) % 0x80 == 0:
            if value & (1 << 17) and value & 1:
                self.started.add((offset - 0x100) // 0x80)
            return value & ~(1 << 17)                      # RSWSTART: a trigger, reads 0
        return value


# -- facts derived from the registers ----------------------------------------------------------

def clock_facts(chip: Chip) -> dict:
    """SYSCLK and its sources, bus clocks, flash wait states, LSE / MSI PLL mode."""
    cr, cfgr, pll = chip.get("RCC", 0x00), chip.get("RCC", 0x08), chip.get("RCC", 0x0C)
    msi_range = (cr >> 4) & 0xF if cr & 8 else (chip.get("RCC", 0x94) >> 8) & 0xF
    msi = MSI_RANGE_HZ[msi_range] if msi_range < len(MSI_RANGE_HZ) else None
    source = {1: msi, 2: HSI16_HZ}.get(pll & 3)          # 3 = HSE: not fitted on this board
    pll_hz = None
    if source and cr >> 24 & 1 and pll >> 24 & 1:
        pll_hz = source / (((pll >> 4) & 7) + 1) * ((pll >> 8) & 0x7F) / (2 * (((pll >> 25) & 3) + 1))
    sw = cfgr & 3
    sysclk = {0: msi, 1: HSI16_HZ, 3: pll_hz}.get(sw)
    hpre, ppre2 = (cfgr >> 4) & 0xF, (cfgr >> 11) & 7
    hclk = None if sysclk is None else sysclk / AHB_DIV.get(hpre, 1)
    pclk2 = None if hclk is None else hclk / APB_DIV.get(ppre2, 1)
    return {"sysclk_source": {0: "MSI", 1: "HSI16", 2: "HSE", 3: "PLL"}[sw], "sysclk_hz": sysclk,
            "pll_source": {0: None, 1: "MSI", 2: "HSI16", 3: "HSE"}[pll & 3], "msi_hz": msi,
            "hclk_hz": hclk, "pclk2_hz": pclk2, "flash_latency": chip.get("FLASH", 0x00) & 7,
            "flash_latency_at_pll_switch": chip.latency_at_pll_switch,
            "flash_latency_needed": None if hclk is None else min(4, max(0, int(-(-hclk // 16e6)) - 1)),
            "lse_on": chip.bit("RCC", 0x90, 0), "msi_pll_mode": bool(cr & 4)}


def usart1_facts(chip: Chip) -> dict:
    """USART1: kernel clock (RCC_CCIPR), baud from BRR, frame, enables."""
    clocks = clock_facts(chip)
    kernel = {0: clocks["pclk2_hz"], 1: clocks["sysclk_hz"], 2: HSI16_HZ, 3: LSE_HZ}[chip.get("RCC", 0x88) & 3]
    cr1, brr = chip.get("USART1", 0x00), chip.get("USART1", 0x0C)
    if cr1 >> 15 & 1:                                    # OVER8: BRR[2:0] holds USARTDIV[3:1]
        div, kernel = (brr & 0xFFF0) | ((brr & 7) << 1), kernel and 2 * kernel
    else:
        div = brr
    bits = {0: 8, 1: 9, 2: 7}.get((cr1 >> 12 & 1) | (cr1 >> 27 & 2))
    return {"kernel_hz": kernel, "brr": brr, "baud": kernel / div if kernel and div else None,
            "data_bits": bits, "parity": bool(cr1 >> 10 & 1),
            "stop_bits": {0: 1, 1: 0.5, 2: 2, 3: 1.5}[(chip.get("USART1", 0x04) >> 12) & 3],
            "enabled": bool(cr1 & 1), "tx": bool(cr1 >> 3 & 1), "rx": bool(cr1 >> 2 & 1),
            "rx_interrupt": bool(cr1 >> 5 & 1)}


def pin_signals(chip: Chip) -> dict:
    """Signal -> "PE9" for every pin the firmware switched to an alternate function, with the AF
    its AFR holds now; an AF the model does not know shows as "PE9 AF<n>"."""
    signals = {}
    for pin in chip.af_at_switch:
        port, number = pin[1], int(pin[2:])
        afr = chip.get(f"GPIO{port}", 0x20 if number < 8 else 0x24)
        af = (afr >> 4 * (number % 8)) & 0xF
        if (chip.get(f"GPIO{port}", 0x00) >> 2 * number) & 3 == 2:
            signals[PIN_AF.get((port, number, af), f"{pin} AF{af}")] = pin
    return signals


def dfsdm_facts(chip: Chip, flt: int = 0) -> dict:
    """DFSDM1 filter ``flt``: its channel, the clock it samples with, the Sinc filter, the rate."""
    ch0, cr1 = chip.get("DFSDM1", 0x000), chip.get("DFSDM1", 0x100 + 0x80 * flt)
    fcr, cr2 = chip.get("DFSDM1", 0x114 + 0x80 * flt), chip.get("DFSDM1", 0x104 + 0x80 * flt)
    clocks = clock_facts(chip)
    kernel = clocks["sysclk_hz"] if chip.bit("RCC", 0x88, 31) else clocks["pclk2_hz"]
    div = (ch0 >> 16) & 0xFF
    ckout = kernel / (div + 1) if kernel and div and ch0 >> 31 and not ch0 >> 30 & 1 else None
    channel = (cr1 >> 24) & 7
    cfg = chip.get("DFSDM1", 0x20 * channel)
    f_ckin = {1: ckout, 2: ckout and ckout / 2, 3: ckout and ckout / 2}.get((cfg >> 2) & 3)
    return {"ckout_hz": ckout, "channel": channel, "channel_on": bool(cfg >> 7 & 1),
            "data_input": f"DFSDM1_DATIN{(channel + (cfg >> 8 & 1)) % 8}",
            "spi_clock": {0: "CKIN pin", 1: "CKOUT", 2: "CKOUT/2 rising", 3: "CKOUT/2 falling"}[(cfg >> 2) & 3],
            "edge": {0: "rising", 1: "falling"}.get(cfg & 3, "manchester"),
            "right_shift": (chip.get("DFSDM1", 0x20 * channel + 4) >> 3) & 0x1F,
            "order": (fcr >> 29) & 7, "fosr": ((fcr >> 16) & 0x3FF) + 1, "iosr": (fcr & 0xFF) + 1,
            "fast": bool(cr1 >> 29 & 1), "continuous": bool(cr1 >> 18 & 1), "dma": bool(cr1 >> 21 & 1),
            "filter_on": bool(cr1 & 1), "started": flt in chip.started, "overrun_irq": bool(cr2 >> 3 & 1),
            "rate_hz": output_rate(f_ckin, fcr, cr1) if f_ckin else None}


def dma1_facts(chip: Chip, ch: int) -> dict:
    """DMA1 channel ``ch``: request, addresses, count, mode, interrupts."""
    base = 0x08 + 20 * (ch - 1)
    ccr = chip.get("DMA1", base)
    request = (chip.get("DMA1", 0xA8) >> 4 * (ch - 1)) & 0xF
    return {"request": request, "request_name": DMA_REQUEST_0.get(ch) if request == 0 else None,
            "enabled": bool(ccr & 1), "peripheral_address": chip.get("DMA1", base + 8),
            "memory_address": chip.get("DMA1", base + 12), "count": chip.get("DMA1", base + 4),
            "direction": "memory->peripheral" if ccr >> 4 & 1 else "peripheral->memory",
            "circular": bool(ccr >> 5 & 1), "memory_increment": bool(ccr >> 7 & 1),
            "peripheral_increment": bool(ccr >> 6 & 1),
            "peripheral_bits": 8 << ((ccr >> 8) & 3), "memory_bits": 8 << ((ccr >> 10) & 3),
            "interrupts": {name for bit, name in ((1, "complete"), (2, "half"), (3, "error")) if ccr >> bit & 1}}


def nvic_enabled(chip: Chip) -> set[int]:
    """IRQ numbers set in the NVIC's ISER registers."""
    return {32 * n + b for n in range(8) for b in range(32) if chip.get("SCS", 0x100 + 4 * n) >> b & 1}
