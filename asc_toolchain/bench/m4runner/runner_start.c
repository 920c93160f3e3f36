/* Reset of the runner firmware (linker script written by asc_toolchain/bench/m4runner.py): enable
 * the FPU, then newlib's start-up (_start: .bss, semihosting handles, main, exit). SysTick counts
 * its wraps for the time base of runner_main.c. */
#include <stdint.h>

extern void _start(void);
extern uint32_t __stack_top;

volatile uint32_t asc_runner_systick_wraps;

void asc_runner_reset(void);
void asc_runner_systick(void);

void asc_runner_reset(void)
{
    *(volatile uint32_t *)0xE000ED88u |= 0xFu << 20;   /* CPACR: CP10/CP11 full access */
    __asm__ volatile("dsb\n\tisb");
    _start();
}

void asc_runner_systick(void)
{
    asc_runner_systick_wraps++;
}

__attribute__((section(".isr_vector"), used))
static const void *const vectors[16] = {&__stack_top, (const void *)asc_runner_reset,
                                        [15] = (const void *)asc_runner_systick};
