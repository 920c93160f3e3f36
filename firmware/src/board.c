/* Clock tree, USART1, cycle counter and idle for the B-L475E-IOT01A (RM0351, ARMv7-M). */
#include "board.h"
#include "calc.h"
#include "regs.h"

#define READY_SPINS 200000u           /* bounded waits: a few ms on silicon */
#define LSE_SPINS 3000000u            /* LSE start-up takes ~2 s; this bound is several s at 4 MHz */
#define LSE_DRIVE 0u                  /* LSEDRV "low", the drive ST's configuration of this board uses */
#define MSI_RANGE_4MHZ 6u
#define PWR_CR1_VOS_RANGE1 (1u << 9)  /* the reset value of PWR_CR1: voltage range 1 (80 MHz) */
#define RX_RING 2048u                 /* power of two; holds two full PCM frames */

static int lse_ok;

static int wait_spins(volatile uint32_t *reg, uint32_t mask, uint32_t value, uint32_t spins)
{
    for (uint32_t i = 0; i < spins; i++)
        if ((*reg & mask) == value)
            return 1;
    return 0;
}

static int wait_bits(volatile uint32_t *reg, uint32_t mask, uint32_t value)
{
    return wait_spins(reg, mask, value, READY_SPINS);
}

/* SYSCLK back on MSI at 4 MHz with the PLL off, from any state: after a reset this changes
 * nothing, after a debugger load without reset it leaves the PLL the old program left running. */
static void clock_to_msi(void)
{
    RCC_CR |= RCC_CR_MSION;
    wait_bits(&RCC_CR, RCC_CR_MSIRDY, RCC_CR_MSIRDY);
    RCC_CFGR = RCC_CFGR_SW_MSI;                          /* also AHB/APB prescalers 1 */
    wait_bits(&RCC_CFGR, 3u << RCC_CFGR_SWS_SHIFT, RCC_CFGR_SW_MSI << RCC_CFGR_SWS_SHIFT);
    RCC_CR &= ~RCC_CR_PLLON;
    wait_bits(&RCC_CR, RCC_CR_PLLRDY, 0u);
    /* MSIRANGE may change while MSI is ready; MSIRGSEL makes CR's range count, not CSR's */
    RCC_CR = (RCC_CR & ~(0xFu << RCC_CR_MSIRANGE_SHIFT)) | (MSI_RANGE_4MHZ << RCC_CR_MSIRANGE_SHIFT)
             | RCC_CR_MSIRGSEL;
}

/* Start the 32.768 kHz crystal and let it trim MSI (PLL mode), so the PLL, the microphone
 * clock and the baud rate follow the crystal instead of MSI's temperature drift. Returns 0
 * when the crystal does not start: MSI then runs untrimmed. */
static int lse_trim_msi(void)
{
    RCC_APB1ENR1 |= RCC_APB1ENR1_PWREN;
    (void)RCC_APB1ENR1;
    PWR_CR1 = PWR_CR1_VOS_RANGE1 | PWR_CR1_DBP;          /* RCC_BDCR is write-protected until DBP */
    uint32_t bdcr = RCC_BDCR;
    if (!(bdcr & RCC_BDCR_LSEON)) {                      /* the drive changes only while it is off */
        bdcr = (bdcr & ~(3u << RCC_BDCR_LSEDRV_SHIFT)) | (LSE_DRIVE << RCC_BDCR_LSEDRV_SHIFT);
        RCC_BDCR = bdcr;
        RCC_BDCR = bdcr | RCC_BDCR_LSEON;
    }
    if (!wait_spins(&RCC_BDCR, RCC_BDCR_LSERDY, RCC_BDCR_LSERDY, LSE_SPINS))
        return 0;
    RCC_CR |= RCC_CR_MSIPLLEN;                           /* only once LSERDY is set (RM0351, RCC_CR) */
    return 1;
}

uint32_t clock_init(uint32_t target_hz)
{
    clock_to_msi();
    lse_ok = lse_trim_msi();
    uint32_t n = calc_pll_n(CALC_MSI_HZ, target_hz);
    if (n == 0u)
        return CALC_MSI_HZ;
    /* more wait states before the clock goes up (RM0351 §3.3.3) */
    FLASH_ACR = calc_flash_latency(target_hz) | FLASH_ACR_PRFTEN | FLASH_ACR_ICEN | FLASH_ACR_DCEN;
    /* PLLSRC = MSI (1), PLLM = /1, PLLN = n, PLLR = /2 (0), PLLREN; the PLL is off here */
    RCC_PLLCFGR = 1u | (n << 8) | (1u << 24);
    RCC_CR |= RCC_CR_PLLON;
    if (!wait_bits(&RCC_CR, RCC_CR_PLLRDY, RCC_CR_PLLRDY))
        return CALC_MSI_HZ;
    RCC_CFGR = RCC_CFGR_SW_PLL;
    if (!wait_bits(&RCC_CFGR, 3u << RCC_CFGR_SWS_SHIFT, RCC_CFGR_SW_PLL << RCC_CFGR_SWS_SHIFT)) {
        RCC_CFGR = RCC_CFGR_SW_MSI;
        return CALC_MSI_HZ;
    }
    return target_hz;
}

int clock_lse(void)
{
    return lse_ok;
}

/* ---- USART1 ---- */

static volatile uint8_t rx_ring[RX_RING];
static volatile uint32_t rx_head, rx_tail, rx_overruns;

void uart_init(uint32_t pclk_hz, uint32_t baud)
{
    RCC_AHB2ENR |= RCC_AHB2ENR_GPIOBEN;
    RCC_APB2ENR |= RCC_APB2ENR_USART1EN;
    (void)RCC_APB2ENR;                                   /* let the enable settle */
    /* PB6, PB7: alternate function 7, high speed, pull-up on RX. The AF number goes in before
     * the mode turns to AF, so the pins never drive another function. */
    GPIO_AFRL(GPIOB_BASE) = (GPIO_AFRL(GPIOB_BASE) & ~(0xFFu << 24)) | (0x77u << 24);
    GPIO_OSPEEDR(GPIOB_BASE) |= 0xFu << 12;
    GPIO_PUPDR(GPIOB_BASE) = (GPIO_PUPDR(GPIOB_BASE) & ~(0x3u << 14)) | (0x1u << 14);
    GPIO_MODER(GPIOB_BASE) = (GPIO_MODER(GPIOB_BASE) & ~(0xFu << 12)) | (0xAu << 12);
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
    DEMCR |= DEMCR_TRCENA;                               /* the M4's DWT has no lock register */
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
