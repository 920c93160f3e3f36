/* STM32L475VG / Cortex-M4 registers used by the firmware, from RM0351 and the ARMv7-M
 * architecture reference manual. Only what the firmware touches; addresses are facts of
 * the silicon, names follow the reference manual. */
#ifndef ASC_REGS_H
#define ASC_REGS_H

#include <stdint.h>

#define REG32(addr) (*(volatile uint32_t *)(uintptr_t)(addr))

/* System control space (ARMv7-M) */
#define SCB_CPACR      REG32(0xE000ED88u)
#define SCB_VTOR       REG32(0xE000ED08u)
#define SCB_CFSR       REG32(0xE000ED28u)
#define SCB_HFSR       REG32(0xE000ED2Cu)
#define SCB_MMFAR      REG32(0xE000ED34u)
#define SCB_BFAR       REG32(0xE000ED38u)
#define SCB_CFSR_MMARVALID (1u << 7)
#define SCB_CFSR_BFARVALID (1u << 15)
#define SYST_CSR       REG32(0xE000E010u)
#define SYST_RVR       REG32(0xE000E014u)
#define SYST_CVR       REG32(0xE000E018u)
#define DEMCR          REG32(0xE000EDFCu)
#define DEMCR_TRCENA   (1u << 24)
#define DWT_CTRL       REG32(0xE0001000u)
#define DWT_CYCCNT     REG32(0xE0001004u)
#define NVIC_ISER(n)   REG32(0xE000E100u + 4u * (n))

/* RCC (RM0351 §6.4) */
#define RCC_BASE       0x40021000u
#define RCC_CR         REG32(RCC_BASE + 0x00u)
#define RCC_CFGR       REG32(RCC_BASE + 0x08u)
#define RCC_PLLCFGR    REG32(RCC_BASE + 0x0Cu)
#define RCC_AHB1ENR    REG32(RCC_BASE + 0x48u)
#define RCC_AHB2ENR    REG32(RCC_BASE + 0x4Cu)
#define RCC_APB1ENR1   REG32(RCC_BASE + 0x58u)
#define RCC_APB2ENR    REG32(RCC_BASE + 0x60u)
#define RCC_CCIPR      REG32(RCC_BASE + 0x88u)
#define RCC_BDCR       REG32(RCC_BASE + 0x90u)
#define RCC_CR_MSION   (1u << 0)
#define RCC_CR_MSIRDY  (1u << 1)
#define RCC_CR_MSIPLLEN (1u << 2)
#define RCC_CR_MSIRGSEL (1u << 3)
#define RCC_CR_MSIRANGE_SHIFT 4u
#define RCC_CR_PLLON   (1u << 24)
#define RCC_CR_PLLRDY  (1u << 25)
#define RCC_CFGR_SW_MSI  0u
#define RCC_CFGR_SW_PLL  3u
#define RCC_CFGR_SWS_SHIFT 2u
#define RCC_BDCR_LSEON  (1u << 0)
#define RCC_BDCR_LSERDY (1u << 1)
#define RCC_BDCR_LSEDRV_SHIFT 3u
#define RCC_AHB1ENR_DMA1EN   (1u << 0)
#define RCC_AHB2ENR_GPIOBEN  (1u << 1)
#define RCC_AHB2ENR_GPIOEEN  (1u << 4)
#define RCC_APB1ENR1_PWREN   (1u << 28)
#define RCC_APB2ENR_USART1EN (1u << 14)
#define RCC_APB2ENR_DFSDM1EN (1u << 24)

/* FLASH interface (RM0351 §3.7) */
#define FLASH_ACR      REG32(0x40022000u)
#define FLASH_ACR_PRFTEN (1u << 8)
#define FLASH_ACR_ICEN   (1u << 9)
#define FLASH_ACR_DCEN   (1u << 10)

/* PWR (RM0351, PWR_CR1): the backup domain (RCC_BDCR) is write-protected until DBP is set */
#define PWR_CR1        REG32(0x40007000u)
#define PWR_CR1_DBP    (1u << 8)

/* GPIO (RM0351 §8.5) */
#define GPIOB_BASE     0x48000400u
#define GPIOE_BASE     0x48001000u
#define GPIO_MODER(b)  REG32((b) + 0x00u)
#define GPIO_OSPEEDR(b) REG32((b) + 0x08u)
#define GPIO_PUPDR(b)  REG32((b) + 0x0Cu)
#define GPIO_AFRL(b)   REG32((b) + 0x20u)
#define GPIO_AFRH(b)   REG32((b) + 0x24u)

/* USART1 (RM0351 §40.8) */
#define USART1_BASE    0x40013800u
#define USART_CR1(b)   REG32((b) + 0x00u)
#define USART_CR3(b)   REG32((b) + 0x08u)
#define USART_BRR(b)   REG32((b) + 0x0Cu)
#define USART_ISR(b)   REG32((b) + 0x1Cu)
#define USART_ICR(b)   REG32((b) + 0x20u)
#define USART_RDR(b)   REG32((b) + 0x24u)
#define USART_TDR(b)   REG32((b) + 0x28u)
#define USART_CR1_UE     (1u << 0)
#define USART_CR1_RE     (1u << 2)
#define USART_CR1_TE     (1u << 3)
#define USART_CR1_RXNEIE (1u << 5)
#define USART_ISR_ORE    (1u << 3)
#define USART_ISR_RXNE   (1u << 5)
#define USART_ISR_TC     (1u << 6)
#define USART_ISR_TXE    (1u << 7)
#define USART_ICR_ORECF  (1u << 3)
#define USART1_IRQN      37u

/* DFSDM1 (RM0351 §24.8): channels at 0x20 steps, filters at 0x100 + 0x80 steps */
#define DFSDM1_BASE    0x40016000u
#define DFSDM_CHCFGR1(y) REG32(DFSDM1_BASE + 0x20u * (y) + 0x00u)
#define DFSDM_CHCFGR2(y) REG32(DFSDM1_BASE + 0x20u * (y) + 0x04u)
#define DFSDM_FLT_BASE(x) (DFSDM1_BASE + 0x100u + 0x80u * (x))
#define DFSDM_FLTCR1(x)  REG32(DFSDM_FLT_BASE(x) + 0x00u)
#define DFSDM_FLTCR2(x)  REG32(DFSDM_FLT_BASE(x) + 0x04u)
#define DFSDM_FLTISR(x)  REG32(DFSDM_FLT_BASE(x) + 0x08u)
#define DFSDM_FLTICR(x)  REG32(DFSDM_FLT_BASE(x) + 0x0Cu)
#define DFSDM_FLTFCR(x)  REG32(DFSDM_FLT_BASE(x) + 0x14u)
#define DFSDM_FLTRDATAR(x) REG32(DFSDM_FLT_BASE(x) + 0x1Cu)
#define DFSDM_CHCFGR1_CHEN    (1u << 7)
#define DFSDM_CHCFGR1_DFSDMEN (1u << 31)
#define DFSDM_FLTCR1_DFEN     (1u << 0)
#define DFSDM_FLTCR1_RSWSTART (1u << 17)
#define DFSDM_FLTCR2_ROVRIE   (1u << 3)
#define DFSDM_FLTISR_ROVRF    (1u << 3)
#define DFSDM_FLTICR_CLRROVRF (1u << 3)
#define DFSDM1_FLT0_IRQN      61u

/* DMA1 (RM0351 §11.6): channel n = 1..7 */
#define DMA1_BASE      0x40020000u
#define DMA1_ISR       REG32(DMA1_BASE + 0x00u)
#define DMA1_IFCR      REG32(DMA1_BASE + 0x04u)
#define DMA1_CCR(n)    REG32(DMA1_BASE + 0x08u + 20u * ((n) - 1u))
#define DMA1_CNDTR(n)  REG32(DMA1_BASE + 0x0Cu + 20u * ((n) - 1u))
#define DMA1_CPAR(n)   REG32(DMA1_BASE + 0x10u + 20u * ((n) - 1u))
#define DMA1_CMAR(n)   REG32(DMA1_BASE + 0x14u + 20u * ((n) - 1u))
#define DMA1_CSELR     REG32(DMA1_BASE + 0xA8u)
#define DMA_CCR_EN     (1u << 0)
#define DMA_CCR_TCIE   (1u << 1)
#define DMA_CCR_HTIE   (1u << 2)
#define DMA_CCR_TEIE   (1u << 3)
#define DMA_CCR_CIRC   (1u << 5)
#define DMA_CCR_MINC   (1u << 7)
#define DMA_CCR_PSIZE_32 (2u << 8)
#define DMA_CCR_MSIZE_32 (2u << 10)
/* DMA1_ISR / IFCR: four flags per channel n at 4 (n - 1): GIF, TCIF, HTIF, TEIF */
#define DMA_ISR_TCIF   (1u << 1)
#define DMA_ISR_HTIF   (1u << 2)
#define DMA_ISR_TEIF   (1u << 3)
#define DMA1_CH4_IRQN  14u

#endif
