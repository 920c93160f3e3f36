/* Board layer of the B-L475E-IOT01A: clock, USART1 (ST-LINK virtual COM port), cycle counter,
 * stack high-water mark. Register level, from RM0351 and the ARMv7-M manual. */
#ifndef ASC_BOARD_H
#define ASC_BOARD_H

#include <stdint.h>

/* SYSCLK from the PLL at target_hz, fed by MSI at 4 MHz trimmed by the 32.768 kHz crystal
 * (LSE). Safe from any state: a running PLL (debugger load without reset) is left first.
 * Every ready-bit wait is bounded (a loosely modelled RCC must not hang the boot; the LSE gets
 * seconds, it needs ~2 s to start); returns the clock actually running. */
uint32_t clock_init(uint32_t target_hz);
/* 1 when the LSE started and trims MSI; 0 when MSI runs untrimmed (the boot line's "lse"). */
int clock_lse(void);

/* USART1 on PB6 (TX) / PB7 (RX), AF7, 8N1; received bytes go to a ring buffer by interrupt. */
void uart_init(uint32_t pclk_hz, uint32_t baud);
void uart_write(const char *s, uint32_t n);
int uart_getc(void);                 /* next received byte, or -1 when none is waiting */
int uart_rx_pending(void);
uint32_t uart_overruns(void);

/* Free-running cycle counter: DWT CYCCNT where it runs, else SysTick at the core clock
 * extended to 32 bits by its wrap interrupt. */
void counter_init(void);
uint32_t counter_now(void);
const char *counter_name(void);
/* Counter ticks for a loop of exactly 2 * iterations instructions (calibration for icount). */
uint32_t counter_calibrate(uint32_t iterations);

/* Stack: painted at reset; high-water mark in bytes and the reserved size. */
uint32_t stack_high_water(void);
uint32_t stack_size(void);

/* Sleep until an interrupt unless a received byte is already waiting. */
void board_idle(void);

#endif
