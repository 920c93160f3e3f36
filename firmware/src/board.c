/* Clock tree, USART1, cycle counter and idle for the B-L475E-IOT01A (RM0351, ARMv7-M). */
#include "board.h"
#include "calc.h"
#include "regs.h"

#define READY_SPINS 200000u           /* bounded waits: a few ms on silicon */
#define RX_RING 2048u                 /* power of two; holds two full PCM frames */

static int wait_bits(volatile uint32_t *reg, uint32_t mask, uint32_t value)
{
    for (uint32_t i = 0; i < READY_SPINS; i++)
        if ((*reg & mask) == value)
            return 1;
    return 0;
}

uint32_t clock_init(uint32_t target_hz)
{
    uint32_t n = calc_pll_n(CALC_MSI_HZ, target_hz);
    if (n == 0u)
        return CALC_MSI_HZ;
    /* more wait states before the clock goes up (RM0351 §3.3.3) */
    FLASH_ACR = (FLASH_ACR & ~7u) | calc_flash_latency(target_hz)
                | FLASH_ACR_PRFTEN | FLASH_ACR_ICEN | FLASH_ACR_DCEN;
    RCC_CR &= ~RCC_CR_PLLON;
    wait_bits(&RCC_CR, RCC_CR_PLLRDY, 0u);
    /* PLLSRC = MSI (1), PLLM = /1, PLLN = n, PLLR = /2 (0), PLLREN */
    RCC_PLLCFGR = 1u | (n << 8) | (1u << 24);
    RCC_CR |= RCC_CR_PLLON;
    if (!wait_bits(&RCC_CR, RCC_CR_PLLRDY, RCC_CR_PLLRDY))
        return CALC_MSI_HZ;
    RCC_CFGR = (RCC_CFGR & ~3u) | 3u;                    /* SW = PLL */
    if (!wait_bits(&RCC_CFGR, 3u << 2, 3u << 2)) {       /* SWS = PLL */
        RCC_CFGR &= ~3u;
        return CALC_MSI_HZ;
    }
    return target_hz;
}

/* ---- USART1 ---- */

static volatile uint8_t rx_ring[RX_RING];
static volatile uint32_t rx_head, rx_tail, rx_overruns;

void uart_init(uint32_t pclk_hz, uint32_t baud)
{
    RCC_AHB2ENR |= RCC_AHB2ENR_GPIOBEN;
    RCC_APB2ENR |= RCC_APB2ENR_USART1EN;
    (void)RCC_APB2ENR;                                   /* let the enable settle */
    /* PB6, PB7: alternate function 7, high speed, pull-up on RX */
    GPIO_MODER(GPIOB_BASE) = (GPIO_MODER(GPIOB_BASE) & ~(0xFu << 12)) | (0xAu << 12);
    GPIO_OSPEEDR(GPIOB_BASE) |= 0xFu << 12;
    GPIO_PUPDR(GPIOB_BASE) = (GPIO_PUPDR(GPIOB_BASE) & ~(0x3u << 14)) | (0x1u << 14);
    GPIO_AFRL(GPIOB_BASE) = (GPIO_AFRL(GPIOB_BASE) & ~(0xFFu << 24)) | (0x77u << 24);
    USART_CR1(USART1_BASE) = 0u;
    USART_BRR(USART1_BASE) = calc_usart_brr(pclk_hz, baud);
    USART_CR1(USART1_BASE) = USART_CR1_UE | USART_CR1_TE | USART_CR1_RE | USART_CR1_RXNEIE;
    NVIC_ISER(USART1_IRQN / 32u) = 1u << (USART1_IRQN % 32u);
}

void USART1_IRQHandler(void)
{
    uint32_t isr = USART_ISR(USART1_BASE);
    if (isr & USART_ISR_ORE) {
        USART_ICR(USART1_BASE) = USART_ICR_ORECF;
        rx_overruns++;
    }
    while (USART_ISR(USART1_BASE) & USART_ISR_RXNE) {
        uint8_t b = (uint8_t)USART_RDR(USART1_BASE);
        if (rx_head - rx_tail < RX_RING)
            rx_ring[rx_head++ % RX_RING] = b;
        else
            rx_overruns++;
    }
}

int uart_getc(void)
{
    if (rx_tail == rx_head)
        return -1;
    return rx_ring[rx_tail++ % RX_RING];
}

int uart_rx_pending(void)
{
    return rx_tail != rx_head;
}

uint32_t uart_overruns(void)
{
    return rx_overruns;
}

void uart_write(const char *s, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        wait_bits(&USART_ISR(USART1_BASE), USART_ISR_TXE, USART_ISR_TXE);
        USART_TDR(USART1_BASE) = (uint8_t)s[i];
    }
}

/* ---- cycle counter ---- */

#define SCB_ICSR REG32(0xE000ED04u)
#define ICSR_PENDSTSET (1u << 26)

static int use_dwt;
static volatile uint32_t systick_wraps;

void SysTick_Handler(void)
{
    systick_wraps++;
}

void counter_init(void)
{
    DEMCR |= DEMCR_TRCENA;
    DWT_LAR = 0xC5ACCE55u;                               /* unlock where a lock is present */
    DWT_CYCCNT = 0u;
    DWT_CTRL |= 1u;
    uint32_t a = DWT_CYCCNT;
    for (volatile int i = 0; i < 16; i++) {
    }
    use_dwt = DWT_CYCCNT != a;                           /* reads 0 in the emulator */
    SYST_RVR = 0xFFFFFFu;
    SYST_CVR = 0u;
    SYST_CSR = 7u;                                       /* enable, interrupt, core clock */
}

const char *counter_name(void)
{
    return use_dwt ? "dwt" : "systick";
}

uint32_t counter_now(void)
{
    if (use_dwt)
        return DWT_CYCCNT;
    uint32_t primask;
    __asm volatile("mrs %0, primask\n cpsid i" : "=r"(primask) :: "memory");
    uint32_t v = SYST_CVR;
    uint32_t w = systick_wraps;
    if (SCB_ICSR & ICSR_PENDSTSET) {                     /* wrapped, handler not run yet */
        v = SYST_CVR;
        w++;
    }
    __asm volatile("msr primask, %0" :: "r"(primask) : "memory");
    return (w << 24) + (0xFFFFFFu - v);
}

uint32_t counter_calibrate(uint32_t iterations)
{
    uint32_t t0 = counter_now();
    __asm volatile("1: subs %0, %0, #1\n bne 1b" : "+r"(iterations) :: "cc");
    return counter_now() - t0;
}

void board_idle(void)
{
    /* with interrupts masked, WFI still wakes on a pending one, so no byte is slept through */
    __asm volatile("cpsid i" ::: "memory");
    if (!uart_rx_pending())
        __asm volatile("wfi");
    __asm volatile("cpsie i" ::: "memory");
}
