/* DFSDM1 + DMA1 register setup for the microphone path. The emulator does not model DFSDM or
 * DMA (reads 0, writes ignored), so on it no block ever arrives; the arithmetic lives in calc.c,
 * tested on the host. */
#include "mic.h"
#include "regs.h"

#define MIC_CHANNEL 2u
#define MIC_FILTER 0u
#define MIC_DMA_CH 4u            /* DMA1 channel 4, request 0 = DFSDM1_FLT0 */

/* DMA ring of MIC_RING_BLOCKS blocks; the half-transfer and transfer-complete interrupts each
 * hand over half of them. 8 blocks = 256 ms: a block waits at least 128 ms before the DMA
 * comes back to it, more than one window's network + result line take on the board. In SRAM2
 * so it does not count against SRAM1, the budgeted RAM; DMA1 reaches SRAM2 on the bus matrix. */
#define MIC_RING_BLOCKS 8u
#define HALF_MASK ((1u << (MIC_RING_BLOCKS / 2u)) - 1u)
__attribute__((section(".sram2"), aligned(4))) static int32_t dma_ring[MIC_RING_BLOCKS * MIC_BLOCK];
static volatile uint32_t ready_mask, dropped;
static uint32_t next_block;
static dfsdm_plan_t plan;

static void pins_init(void)
{
    RCC_AHB2ENR |= RCC_AHB2ENR_GPIOEEN;
    (void)RCC_AHB2ENR;
    /* PE7, PE9: alternate function 6 (DFSDM1), high speed */
    GPIO_MODER(GPIOE_BASE) = (GPIO_MODER(GPIOE_BASE) & ~((3u << 14) | (3u << 18)))
                             | (2u << 14) | (2u << 18);
    GPIO_OSPEEDR(GPIOE_BASE) |= (3u << 14) | (3u << 18);
    GPIO_AFRL(GPIOE_BASE) = (GPIO_AFRL(GPIOE_BASE) & ~(0xFu << 28)) | (6u << 28);
    GPIO_AFRH(GPIOE_BASE) = (GPIO_AFRH(GPIOE_BASE) & ~(0xFu << 4)) | (6u << 4);
}

static void dma_init(void)
{
    RCC_AHB1ENR |= RCC_AHB1ENR_DMA1EN;
    (void)RCC_AHB1ENR;
    DMA1_CCR(MIC_DMA_CH) = 0u;
    DMA1_CSELR &= ~(0xFu << 12);                          /* C4S = 0: DFSDM1_FLT0 */
    DMA1_CPAR(MIC_DMA_CH) = (uint32_t)(uintptr_t)&DFSDM_FLTRDATAR(MIC_FILTER);
    DMA1_CMAR(MIC_DMA_CH) = (uint32_t)(uintptr_t)dma_ring;
    DMA1_CNDTR(MIC_DMA_CH) = MIC_RING_BLOCKS * MIC_BLOCK;
    /* MSIZE = PSIZE = 32 bit, MINC, CIRC, half and full transfer interrupts, enable */
    DMA1_CCR(MIC_DMA_CH) = (2u << 10) | (2u << 8) | (1u << 7) | (1u << 5) | (1u << 2) | (1u << 1) | 1u;
    NVIC_ISER(DMA1_CH4_IRQN / 32u) = 1u << (DMA1_CH4_IRQN % 32u);
}

static void dfsdm_init(void)
{
    RCC_APB2ENR |= RCC_APB2ENR_DFSDM1EN;
    (void)RCC_APB2ENR;
    DFSDM_CHCFGR1(0) = calc_dfsdm_ckout_bits(&plan);     /* output clock from channel 0 */
    DFSDM_CHCFGR2(MIC_CHANNEL) = calc_dfsdm_chcfgr2(&plan);
    /* SPI input from its own pin, SPICKSEL = 1 (CKOUT), SITP = 0 (rising edge), CHEN */
    DFSDM_CHCFGR1(MIC_CHANNEL) = (1u << 2) | (1u << 7);
    DFSDM_FLTFCR(MIC_FILTER) = calc_dfsdm_fcr(&plan);
    /* RCH = channel, RCONT, RDMAEN first: RDMAEN only changes while DFEN = 0; then DFEN */
    DFSDM_FLTCR1(MIC_FILTER) = (MIC_CHANNEL << 24) | (1u << 18) | (1u << 21);
    DFSDM_FLTCR1(MIC_FILTER) |= 1u;
    DFSDM_CHCFGR1(0) |= 1u << 31;                        /* DFSDMEN: the interface on */
    DFSDM_FLTCR1(MIC_FILTER) |= 1u << 17;                /* RSWSTART */
}

int mic_start(uint32_t kernel_hz, uint32_t fs_hz, uint32_t mic_min_hz, uint32_t mic_max_hz,
              uint32_t mic_target_hz)
{
    if (calc_dfsdm_plan(kernel_hz, fs_hz, mic_min_hz, mic_max_hz, mic_target_hz, &plan) != 0)
        return -1;
    ready_mask = 0u;
    next_block = 0u;
    pins_init();
    dma_init();
    dfsdm_init();
    return 0;
}

void mic_stop(void)
{
    DFSDM_FLTCR1(MIC_FILTER) &= ~1u;
    DFSDM_CHCFGR1(0) &= ~(1u << 31);
    DMA1_CCR(MIC_DMA_CH) &= ~1u;
    ready_mask = 0u;
}

const dfsdm_plan_t *mic_plan(void)
{
    return &plan;
}

void DMA1_Channel4_IRQHandler(void)
{
    uint32_t isr = DMA1_ISR;
    uint32_t shift = 4u * (MIC_DMA_CH - 1u);
    uint32_t mask = 0u;
    if (isr & (4u << shift))         /* HTIF4: first half filled */
        mask |= HALF_MASK;
    if (isr & (2u << shift))         /* TCIF4: second half filled */
        mask |= HALF_MASK << (MIC_RING_BLOCKS / 2u);
    DMA1_IFCR = 0xFu << shift;
    if (ready_mask & mask)
        dropped++;                   /* a block was overwritten before it was read */
    ready_mask |= mask;
}

int mic_read(int16_t *out)
{
    if (!(ready_mask & (1u << next_block)))
        return 0;
    const int32_t *src = dma_ring + next_block * MIC_BLOCK;
    for (uint32_t i = 0; i < MIC_BLOCK; i++)
        out[i] = calc_dfsdm_sample((uint32_t)src[i]);
    __asm volatile("cpsid i" ::: "memory");
    ready_mask &= ~(1u << next_block);
    __asm volatile("cpsie i" ::: "memory");
    next_block = (next_block + 1u) % MIC_RING_BLOCKS;
    return 1;
}

uint32_t mic_dropped(void)
{
    return dropped;
}
