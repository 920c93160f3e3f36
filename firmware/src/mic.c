/* DFSDM1 + DMA1 register setup for the microphone path. The emulator does not model DFSDM or
 * DMA (reads 0, writes ignored, every access logged with `-d unimp`), so on it no block ever
 * arrives; the arithmetic lives in calc.c, tested on the host, and the register writes are
 * checked from QEMU's log by tests/test_register_trace.py. Registers of these two peripherals
 * get whole values, never read-modify-write: what is written is what the log shows. */
#include "mic.h"
#include "regs.h"

#define MIC_CHANNEL 2u
#define MIC_FILTER 0u
#define MIC_DMA_CH 4u            /* DMA1 channel 4, request 0 = DFSDM1_FLT0 */
#define DMA_SHIFT (4u * (MIC_DMA_CH - 1u))
/* DMA1 channel 4: peripheral -> memory, 32-bit both sides, memory increment, circular; half,
 * full and transfer-error interrupts. These fields are read-only while EN = 1 (RM0351, DMA_CCRx),
 * so every write to CCR4 carries them and only EN changes. */
#define MIC_DMA_CCR (DMA_CCR_MSIZE_32 | DMA_CCR_PSIZE_32 | DMA_CCR_MINC | DMA_CCR_CIRC \
                     | DMA_CCR_TEIE | DMA_CCR_HTIE | DMA_CCR_TCIE)

/* DMA ring of MIC_RING_BLOCKS blocks; the half-transfer and transfer-complete interrupts each
 * hand over half of them. 8 blocks = 256 ms: a block waits at least 128 ms before the DMA
 * comes back to it, more than one window's network + result line take on the board. In SRAM2
 * so it does not count against SRAM1, the budgeted RAM; DMA1 reaches SRAM2 on the bus matrix. */
#define MIC_RING_BLOCKS 8u
#define HALF_MASK ((1u << (MIC_RING_BLOCKS / 2u)) - 1u)
__attribute__((section(".sram2"), aligned(4))) static int32_t dma_ring[MIC_RING_BLOCKS * MIC_BLOCK];
static volatile uint32_t ready_mask;
static volatile mic_counters_t counters;
static volatile int dma_failed;
static uint32_t next_block;
static dfsdm_plan_t plan;
static calc_dc_t dc;

static void pins_init(void)
{
    RCC_AHB2ENR |= RCC_AHB2ENR_GPIOEEN;
    (void)RCC_AHB2ENR;
    /* PE7, PE9: alternate function 6 (DFSDM1), high speed. The AF number goes in first, so
     * the pin never drives another function when its mode turns to AF. */
    GPIO_AFRL(GPIOE_BASE) = (GPIO_AFRL(GPIOE_BASE) & ~(0xFu << 28)) | (6u << 28);
    GPIO_AFRH(GPIOE_BASE) = (GPIO_AFRH(GPIOE_BASE) & ~(0xFu << 4)) | (6u << 4);
    GPIO_OSPEEDR(GPIOE_BASE) |= (3u << 14) | (3u << 18);
    GPIO_MODER(GPIOE_BASE) = (GPIO_MODER(GPIOE_BASE) & ~((3u << 14) | (3u << 18)))
                             | (2u << 14) | (2u << 18);
}

static void dma_init(void)
{
    RCC_AHB1ENR |= RCC_AHB1ENR_DMA1EN;
    (void)RCC_AHB1ENR;
    DMA1_CCR(MIC_DMA_CH) = MIC_DMA_CCR;                   /* EN = 0: addresses and count writable */
    DMA1_IFCR = 0xFu << DMA_SHIFT;                        /* no stale flag from a previous run */
    DMA1_CSELR = 0u;                                      /* C4S = 0: DFSDM1_FLT0; no other channel used */
    DMA1_CPAR(MIC_DMA_CH) = (uint32_t)(uintptr_t)&DFSDM_FLTRDATAR(MIC_FILTER);
    DMA1_CMAR(MIC_DMA_CH) = (uint32_t)(uintptr_t)dma_ring;
    DMA1_CNDTR(MIC_DMA_CH) = MIC_RING_BLOCKS * MIC_BLOCK;
    DMA1_CCR(MIC_DMA_CH) = MIC_DMA_CCR | DMA_CCR_EN;
    NVIC_ISER(DMA1_CH4_IRQN / 32u) = 1u << (DMA1_CH4_IRQN % 32u);
}

static void dfsdm_init(void)
{
    RCC_APB2ENR |= RCC_APB2ENR_DFSDM1EN;
    (void)RCC_APB2ENR;
    uint32_t ckout = calc_dfsdm_ckout_bits(&plan);       /* output clock from channel 0 */
    uint32_t cr1 = calc_dfsdm_cr1(MIC_CHANNEL);          /* FAST, RCH, RDMAEN, RCONT; DFEN = 0 */
    DFSDM_CHCFGR1(0) = ckout;
    DFSDM_CHCFGR2(MIC_CHANNEL) = calc_dfsdm_chcfgr2(&plan);
    /* SPI input from its own pin, SPICKSEL = 1 (CKOUT), SITP = 0 (rising edge), CHEN */
    DFSDM_CHCFGR1(MIC_CHANNEL) = (1u << 2) | DFSDM_CHCFGR1_CHEN;
    DFSDM_FLTFCR(MIC_FILTER) = calc_dfsdm_fcr(&plan);
    DFSDM_FLTICR(MIC_FILTER) = DFSDM_FLTICR_CLRROVRF;
    DFSDM_FLTCR2(MIC_FILTER) = DFSDM_FLTCR2_ROVRIE;
    /* FAST and RDMAEN only change while DFEN = 0 (RM0351 §24.8), so they go in first */
    DFSDM_FLTCR1(MIC_FILTER) = cr1;
    DFSDM_CHCFGR1(0) = ckout | DFSDM_CHCFGR1_DFSDMEN;     /* the interface on: CKOUT runs */
    DFSDM_FLTCR1(MIC_FILTER) = cr1 | DFSDM_FLTCR1_DFEN;
    DFSDM_FLTCR1(MIC_FILTER) = cr1 | DFSDM_FLTCR1_DFEN | DFSDM_FLTCR1_RSWSTART;
    NVIC_ISER(DFSDM1_FLT0_IRQN / 32u) = 1u << (DFSDM1_FLT0_IRQN % 32u);
}

static void start_path(void)
{
    ready_mask = 0u;
    next_block = 0u;
    dma_failed = 0;
    calc_dc_init(&dc);
    pins_init();
    dma_init();
    dfsdm_init();
}

int mic_start(uint32_t kernel_hz, uint32_t fs_hz, uint32_t mic_min_hz, uint32_t mic_max_hz,
              uint32_t mic_target_hz)
{
    if (calc_dfsdm_plan(kernel_hz, fs_hz, mic_min_hz, mic_max_hz, mic_target_hz, &plan) != 0)
        return -1;
    start_path();
    return 0;
}

void mic_stop(void)
{
    /* every register written whole (see the top of this file) */
    DFSDM_FLTCR1(MIC_FILTER) = calc_dfsdm_cr1(MIC_CHANNEL);
    DFSDM_CHCFGR1(0) = calc_dfsdm_ckout_bits(&plan);
    DMA1_CCR(MIC_DMA_CH) = MIC_DMA_CCR;
    ready_mask = 0u;
}

const dfsdm_plan_t *mic_plan(void)
{
    return &plan;
}

static uint32_t popcount(uint32_t v)
{
    uint32_t n = 0u;
    for (; v; v &= v - 1u)
        n++;
    return n;
}

void DMA1_Channel4_IRQHandler(void)
{
    uint32_t isr = DMA1_ISR >> DMA_SHIFT;
    uint32_t mask = 0u;
    if (isr & DMA_ISR_HTIF)          /* first half filled */
        mask |= HALF_MASK;
    if (isr & DMA_ISR_TCIF)          /* second half filled */
        mask |= HALF_MASK << (MIC_RING_BLOCKS / 2u);
    DMA1_IFCR = 0xFu << DMA_SHIFT;
    if (isr & DMA_ISR_TEIF) {        /* the hardware has disabled the channel (RM0351, DMA transfer errors) */
        counters.dma_errors++;
        dma_failed = 1;
    }
    counters.dma_irqs += popcount(isr & (DMA_ISR_HTIF | DMA_ISR_TCIF));
    counters.dropped += popcount(ready_mask & mask);   /* blocks overwritten before they were read */
    ready_mask |= mask;
}

void DFSDM1_FLT0_IRQHandler(void)
{
    if (DFSDM_FLTISR(MIC_FILTER) & DFSDM_FLTISR_ROVRF) {
        DFSDM_FLTICR(MIC_FILTER) = DFSDM_FLTICR_CLRROVRF;
        counters.overruns++;         /* a sample replaced before the DMA read it */
    }
}

int mic_read(int16_t *out)
{
    if (dma_failed) {                /* restart the path; the error stays counted */
        mic_stop();
        start_path();
        return 0;
    }
    if (!(ready_mask & (1u << next_block)))
        return 0;
    const int32_t *src = dma_ring + next_block * MIC_BLOCK;
    for (uint32_t i = 0; i < MIC_BLOCK; i++)
        out[i] = calc_dfsdm_sample((uint32_t)src[i]);
    __asm volatile("cpsid i" ::: "memory");
    ready_mask &= ~(1u << next_block);
    __asm volatile("cpsie i" ::: "memory");
    next_block = (next_block + 1u) % MIC_RING_BLOCKS;
    calc_dc_block(&dc, out, MIC_BLOCK);
    return 1;
}

mic_counters_t mic_counters(void)
{
    mic_counters_t c;
    __asm volatile("cpsid i" ::: "memory");
    c = counters;
    __asm volatile("cpsie i" ::: "memory");
    return c;
}
