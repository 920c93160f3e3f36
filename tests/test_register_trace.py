"""The firmware's register set-up, checked without a board: the real ELF boots in QEMU with
`-d unimp` and the RCC/GPIO/USART/NVIC trace events, and tests/regmodel.py replays what QEMU
logged into a model of the registers (RM0351) and derives what the silicon would run."""

from __future__ import annotations

import socket
import subprocess
import time

import pytest
from conftest import require_tool
from regmodel import Access, Chip, clock_facts, dfsdm_facts, dma1_facts, nvic_enabled, parse_log, pin_signals, \
    usart1_facts
from test_firmware_build import firmware  # noqa: F401

import dfsdm_oracle as dfsdm
from asc_toolchain.deploy.serial.resultline import parse_line

TRACE_EVENTS = ("stm32l4x5_rcc_read", "stm32l4x5_rcc_write", "stm32l4x5_gpio_write",
                "stm32l4x5_usart_write", "nvic_sysreg_write")
FLT0_RDATAR = 0x40016000 + 0x100 + 0x1C


def qemu(elf, workdir, *extra: str) -> subprocess.Popen:
    """QEMU running ``elf`` with the register log in workdir/qemu.log (stop it with ``stop``)."""
    argv = ["qemu-system-arm", "-M", "b-l475e-iot01a", "-nographic", "-monitor", "none", "-icount", "shift=0",
            "-d", ",".join(["unimp", *(f"trace:{e}" for e in TRACE_EVENTS)]), "-D", str(workdir / "qemu.log"),
            *extra, "-kernel", str(elf)]
    with open(workdir / "qemu.out", "wb") as out:
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()                              # QEMU flushes its log on SIGTERM
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def boot_log(elf, workdir, timeout_s: float = 60.0) -> tuple[str, dict]:
    """QEMU's log of the firmware's boot and the boot line it printed on USART1 (into a file,
    so nothing waits for a client). The boot line comes after the microphone set-up."""
    serial = workdir / "usart1.txt"
    proc = qemu(elf, workdir, "-serial", f"file:{serial}")
    try:
        boot = wait_for_boot(serial, proc, time.monotonic() + timeout_s)
    finally:
        stop(proc)
    return (workdir / "qemu.log").read_text(errors="replace"), boot


def restart_log(elf, workdir, timeout_s: float = 60.0) -> str:
    """QEMU's log of a boot, then of the firmware started again over gdb without a reset (a
    debugger load): the second start finds the PLL running and the microphone path on."""
    port = free_port()
    proc = qemu(elf, workdir, "-serial", "null", "-S", "-gdb", f"tcp:127.0.0.1:{port}")
    try:
        subprocess.run(["gdb-multiarch", "-nx", "-batch", "-ex", f"file {elf}",
                        "-ex", f"target remote 127.0.0.1:{port}", "-ex", "break mic_plan", "-ex", "continue",
                        "-ex", "set $sp = *(unsigned int *)&vector_table", "-ex", "set $pc = Reset_Handler",
                        "-ex", "continue"], check=True, capture_output=True, timeout=timeout_s)
    finally:
        stop(proc)
    return (workdir / "qemu.log").read_text(errors="replace")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_boot(serial, proc, deadline: float) -> dict:
    while time.monotonic() < deadline and proc.poll() is None:
        text = serial.read_text(errors="replace") if serial.exists() else ""
        for raw in text.splitlines(keepends=True):
            line = parse_line(raw) if raw.endswith("\n") else None
            if line and line["type"] == "boot":
                return line
        time.sleep(0.05)
    pytest.fail(f"no boot line from the firmware in QEMU (status {proc.poll()})")


@pytest.fixture(scope="module")
def traced(firmware, tmp_path_factory):  # noqa: F811
    require_tool("qemu-system-arm")
    elf = firmware / "build" / "asc_fw.elf"
    text, boot = boot_log(elf, tmp_path_factory.mktemp("trace"))
    accesses = parse_log(text)
    return {"chip": Chip().replay(accesses), "accesses": accesses, "boot": boot, "elf": elf}


# -- the model itself, on log lines as this QEMU prints them (host tier) -----------------------

LOG = """\
DFSDM1: unimplemented device write (size 4, offset 0x100, value 0x22240000)
DFSDM1: unimplemented device read  (size 4, offset 0x100)
stm32l4x5_rcc_write RCC: Write <0xc> <- 0x1002801
stm32l4x5_rcc_read RCC: Read <0x0> -> 0x63
stm32l4x5_gpio_write GPIOB addr: 0x20 val: 0x77000000
stm32l4x5_gpio_write: Alternate functions aren't supported
stm32l4x5_usart_write USART: Write <0xc> <- 0x2b6
nvic_sysreg_write NVIC sysreg write addr 0x100 data 0x4000 size 4qemu-system-arm: terminating on signal 15
Write of unassigned area of PPB: offset 0x1fb0
"""


def test_parser_reads_each_kind_of_line():
    assert parse_log(LOG) == [
        Access("w", "DFSDM1", 0x100, 0x22240000), Access("r", "DFSDM1", 0x100, 0),
        Access("w", "RCC", 0x0C, 0x1002801), Access("r", "RCC", 0x00, 0x63),
        Access("w", "GPIOB", 0x20, 0x77000000), Access("w", "USART1", 0x0C, 0x2B6),
        Access("w", "SCS", 0x100, 0x4000), Access("w", "PPB", 0x1FB0, None)]


def dfsdm_trace(*writes: tuple[int, int], read_before: tuple[int, ...] = ()) -> Chip:
    """A chip with DFSDM1 clocked, then the given (offset, value) writes to DFSDM1, each
    preceded by a read (QEMU: 0) when its offset is in ``read_before``."""
    chip = Chip().replay([Access("w", "RCC", 0x60, 1 << 24)])
    for offset, value in writes:
        if offset in read_before:
            chip.replay([Access("r", "DFSDM1", offset, 0)])
        chip.replay([Access("w", "DFSDM1", offset, value)])
    return chip


def test_read_modify_write_resolves_to_what_silicon_holds():
    chip = dfsdm_trace((0x100, 0x22240000), (0x100, 0x00000001), read_before=(0x100,))
    assert chip.get("DFSDM1", 0x100) == 0x22240001            # QEMU logged 0x1: `|= DFEN`


def test_fast_written_while_the_filter_runs_is_ignored_and_reported():
    chip = dfsdm_trace((0x100, 0x02240001), (0x100, 0x22240001))
    assert chip.broken == ["FLT0CR1 FAST/AWFSEL/RDMAEN/RSYNC/J* change only while DFEN = 0"]
    assert not chip.get("DFSDM1", 0x100) >> 29 & 1


def test_a_write_to_an_unclocked_peripheral_is_ignored_and_reported():
    chip = Chip().replay([Access("w", "GPIOE", 0x24, 0x60)])
    assert chip.get("GPIOE", 0x24) == 0 and chip.broken == ["GPIOE offset 0x24 written while its clock is off (RCC)"]


def test_rcc_guards_a_running_pll_and_msi_pll_mode():
    chip = Chip().replay([Access("w", "RCC", 0x00, 0x01000063), Access("w", "RCC", 0x08, 3),
                          Access("w", "RCC", 0x00, 0x00000067)])        # PLL off and MSIPLLEN, no LSERDY
    assert chip.broken == ["PLLON cannot be cleared while the PLL is the system clock",
                           "MSIPLLEN cannot be set before LSERDY"]
    assert chip.get("RCC", 0x00) == 0x01000063


def test_the_rate_follows_fast_and_the_formula():
    plan = dfsdm.dfsdm_plan(80_000_000, 16_000, 1_000_000, 3_250_000, 2_400_000)
    fcr = dfsdm.fcr(plan)
    assert dfsdm.output_rate(2e6, fcr, dfsdm.cr1(2)) == 16_000
    assert round(dfsdm.output_rate(2e6, fcr, dfsdm.cr1(2) & ~dfsdm.FLTCR1_FAST), 1) == 3960.4   # 2e6 / 505


# -- the real firmware in QEMU (toolchain tier) -------------------------------------------------

@pytest.mark.toolchain
def test_qemu_logs_every_peripheral_the_model_reads(traced):
    """If this QEMU stopped printing one of these, the checks below would have nothing to check."""
    writes = {a.periph for a in traced["accesses"] if a.op == "w"}
    assert {"RCC", "FLASH", "PWR", "GPIOB", "GPIOE", "USART1", "DFSDM1", "DMA1", "SCS"} <= writes


@pytest.mark.toolchain
def test_no_write_breaks_a_reference_manual_rule(traced):
    assert traced["chip"].broken == []
    assert 0x1FB0 not in traced["chip"].ppb_writes          # no DWT lock access: the M4 has none


@pytest.mark.toolchain
def test_sysclk_80_mhz_from_the_pll_with_4_wait_states_first(traced):
    clocks = clock_facts(traced["chip"])
    assert (clocks["sysclk_source"], clocks["pll_source"], clocks["msi_hz"]) == ("PLL", "MSI", 4e6)
    assert clocks["sysclk_hz"] == clocks["hclk_hz"] == clocks["pclk2_hz"] == 80e6
    assert clocks["flash_latency_at_pll_switch"] == clocks["flash_latency_needed"] == 4
    assert traced["boot"]["sysclk_hz"] == 80_000_000


@pytest.mark.toolchain
def test_lse_trims_msi_and_the_boot_line_says_so(traced):
    clocks = clock_facts(traced["chip"])
    assert clocks["lse_on"] and clocks["msi_pll_mode"]      # MSIPLLEN after LSERDY, else in `broken`
    assert traced["boot"]["lse"] == 1                       # QEMU's RCC reports LSERDY


@pytest.mark.toolchain
def test_usart1_115200_baud_8n1_on_pb6_pb7_af7(traced):
    usart = usart1_facts(traced["chip"])
    assert usart["brr"] == 694 and abs(usart["baud"] / 115_200 - 1) < 0.001        # 115,274 baud
    assert (usart["data_bits"], usart["parity"], usart["stop_bits"]) == (8, False, 1)
    assert usart["enabled"] and usart["tx"] and usart["rx"] and usart["rx_interrupt"]
    pins = pin_signals(traced["chip"])
    assert (pins["USART1_TX"], pins["USART1_RX"]) == ("PB6", "PB7")
    assert traced["chip"].af_at_switch["PB6"] == traced["chip"].af_at_switch["PB7"] == 7   # AF before mode


@pytest.mark.toolchain
def test_microphone_clock_2_mhz_on_pe9_and_data_on_pe7(traced):
    chip = traced["chip"]
    mic = dfsdm_facts(chip)
    assert mic["ckout_hz"] == 2e6 and pin_signals(chip)["DFSDM1_CKOUT"] == "PE9"
    assert mic["data_input"] == "DFSDM1_DATIN2" and pin_signals(chip)["DFSDM1_DATIN2"] == "PE7"
    assert chip.af_at_switch["PE7"] == chip.af_at_switch["PE9"] == 6
    assert (mic["channel"], mic["channel_on"], mic["spi_clock"], mic["edge"]) == (2, True, "CKOUT", "rising")


@pytest.mark.toolchain
def test_dfsdm_delivers_16000_samples_per_second(traced):
    mic = dfsdm_facts(traced["chip"])
    assert mic["rate_hz"] == 16_000 == traced["boot"]["sample_rate"]
    assert (mic["order"], mic["fosr"], mic["iosr"], mic["fast"]) == (4, 125, 1, True)
    assert mic["filter_on"] and mic["started"] and mic["continuous"] and mic["dma"] and mic["overrun_irq"]
    plan = dfsdm.dfsdm_plan(80_000_000, 16_000, 1_000_000, 3_250_000, 2_400_000)
    assert mic["right_shift"] == plan.shift and plan.sample_rate == mic["rate_hz"]


def elf_symbol(elf, name: str) -> int:
    from elftools.elf.elffile import ELFFile

    with open(elf, "rb") as fh:
        symbols = ELFFile(fh).get_section_by_name(".symtab")
        return symbols.get_symbol_by_name(name)[0]["st_value"]


@pytest.mark.toolchain
def test_dma1_channel4_request_0_circular_into_the_ring(traced):
    dma = dma1_facts(traced["chip"], 4)
    assert (dma["request"], dma["request_name"]) == (0, "DFSDM1_FLT0")
    assert dma["peripheral_address"] == FLT0_RDATAR
    assert dma["memory_address"] == elf_symbol(traced["elf"], "dma_ring")
    assert dma["count"] == 8 * 512 and dma["direction"] == "peripheral->memory"
    assert dma["circular"] and dma["memory_increment"] and not dma["peripheral_increment"]
    assert (dma["peripheral_bits"], dma["memory_bits"]) == (32, 32)
    assert dma["interrupts"] == {"half", "complete", "error"} and dma["enabled"]


@pytest.mark.toolchain
def test_interrupts_enabled_and_every_vector_has_a_handler(traced):
    from elftools.elf.elffile import ELFFile

    assert nvic_enabled(traced["chip"]) == {14, 37, 61}      # DMA1_CH4, USART1, DFSDM1_FLT0
    with open(traced["elf"], "rb") as fh:
        data = ELFFile(fh).get_section_by_name(".isr_vector").data()
    vectors = [int.from_bytes(data[i:i + 4], "little") & ~1 for i in range(0, len(data), 4)]
    handler = {n: elf_symbol(traced["elf"], n) & ~1 for n in (
        "Default_Handler", "DMA1_Channel4_IRQHandler", "USART1_IRQHandler", "DFSDM1_FLT0_IRQHandler")}
    assert [vectors[16 + irq] for irq in (14, 37, 61)] == [
        handler["DMA1_Channel4_IRQHandler"], handler["USART1_IRQHandler"], handler["DFSDM1_FLT0_IRQHandler"]]
    unused = [v for i, v in enumerate(vectors) if i >= 16 and i - 16 not in (14, 37, 61)]
    assert len(vectors) == 16 + 82 and set(unused) == {handler["Default_Handler"]}
    assert all(vectors[i] for i in (2, 11, 12, 14)) and not any(vectors[i] for i in (7, 8, 9, 10, 13))



@pytest.mark.toolchain
def test_a_start_without_reset_keeps_every_rule(firmware, tmp_path):  # noqa: F811
    """A debugger load without reset: clock_init meets a running PLL (it must leave it before
    touching PLLCFGR), the microphone path meets a running DMA channel and filter."""
    require_tool("qemu-system-arm")
    require_tool("gdb-multiarch")
    accesses = parse_log(restart_log(firmware / "build" / "asc_fw.elf", tmp_path))
    chip = Chip().replay(accesses)
    starts = [a for a in accesses if (a.op, a.periph, a.offset) == ("w", "RCC", 0x0C)]
    assert len(starts) == 2 and chip.broken == []                 # PLLCFGR written by both starts
    assert clock_facts(chip)["sysclk_hz"] == 80e6 and dfsdm_facts(chip)["rate_hz"] == 16_000
